"""Drives the stock MLflow client through the model registry the studio serves: register
from log_model and from runs:/, read, update, rename, tags, aliases, stages, search, load
by name, version and alias, delete. Prints one JSON line of what it saw."""

import json

import mlflow
import numpy as np
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression

mlflow.set_experiment("registry-exp")
X = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]] * 5)
y = np.array([0, 1, 0, 1] * 5)
client = MlflowClient()

with mlflow.start_run(run_name="train") as run:
    model = LogisticRegression().fit(X, y)
    info = mlflow.sklearn.log_model(
        model, name="model", input_example=X[:2], registered_model_name="iris-clf"
    )
run_id = run.info.run_id
# A second version from the run's model (runs:/ resolves to the logged model).
v2 = mlflow.register_model(f"runs:/{run_id}/model", "iris-clf")

registered = client.get_registered_model("iris-clf")
client.update_registered_model("iris-clf", description="iris classifier")
client.set_registered_model_tag("iris-clf", "team", "ml")
client.set_model_version_tag("iris-clf", "1", "validated", "yes")
client.update_model_version("iris-clf", "1", description="first")
client.set_registered_model_alias("iris-clf", "champion", "1")
by_alias = client.get_model_version_by_alias("iris-clf", "champion")
loaded = mlflow.sklearn.load_model("models:/iris-clf/1")
loaded_alias = mlflow.sklearn.load_model("models:/iris-clf@champion")
prediction = loaded.predict(X[:2]).tolist()
client.transition_model_version_stage("iris-clf", "2", "Staging")
latest = client.get_latest_versions("iris-clf", stages=["Staging"])
versions = client.search_model_versions("name='iris-clf'")
by_run = client.search_model_versions(f"run_id='{run_id}'")
models = client.search_registered_models(filter_string="name LIKE 'iris%'")
client.create_registered_model("scratch", tags={"a": "b"}, description="to delete")
try:
    client.create_registered_model("scratch")
    duplicate = "created"
except mlflow.exceptions.MlflowException as exc:
    duplicate = exc.error_code
client.rename_registered_model("scratch", "scratch2")
renamed = client.get_registered_model("scratch2")
client.delete_registered_model_tag("scratch2", "a")
client.delete_registered_model("scratch2")
try:
    client.get_registered_model("scratch2")
    gone = "found"
except mlflow.exceptions.MlflowException as exc:
    gone = exc.error_code
v1 = client.get_model_version("iris-clf", "1")
client.delete_model_version_tag("iris-clf", "1", "validated")
client.delete_registered_model_alias("iris-clf", "champion")
client.delete_model_version("iris-clf", "2")
after_delete = [v.version for v in client.search_model_versions("name='iris-clf'")]

print(
    json.dumps(
        {
            "run_id": run_id,
            "model_id": info.model_id,
            "registered_version": info.registered_model_version,
            "v2": v2.version,
            "v2_source": v2.source,
            "registered_name": registered.name,
            "latest_versions": sorted(v.version for v in registered.latest_versions),
            "alias_version": by_alias.version,
            "prediction": prediction,
            "alias_loaded": loaded_alias.predict(X[:2]).tolist() == prediction,
            "latest_staging": [v.version for v in latest],
            "versions": sorted(v.version for v in versions),
            "by_run": sorted(v.version for v in by_run),
            "models": [m.name for m in models],
            "duplicate": duplicate,
            "renamed": renamed.name,
            "gone": gone,
            "v1_description": v1.description,
            "v1_tags": v1.tags,
            "v1_aliases": list(v1.aliases),
            "v1_model_id": v1.model_id,
            "after_delete": after_delete,
        }
    )
)
