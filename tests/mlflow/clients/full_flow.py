"""Drives the stock MLflow client through every tracking operation the studio serves
(mlflow-rest.md §1.3, without the model registry). Prints one JSON line of what it saw."""

import json
import pathlib
import tempfile

import mlflow
import numpy as np
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression

created = mlflow.set_experiment("churn-exp")
again = mlflow.set_experiment("churn-exp")
assert created.experiment_id == again.experiment_id

X = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]] * 5)
y = np.array([0, 1, 0, 1] * 5)
tmp = pathlib.Path(tempfile.mkdtemp())

with mlflow.start_run(run_name="first try") as run:
    mlflow.log_param("lr", 0.1)
    mlflow.log_params({"a": 1, "b": "x"})
    for step in range(5):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    mlflow.log_metrics({"acc": 0.9, "f1": 0.8}, step=2)
    mlflow.set_tag("stage", "dev")
    mlflow.set_tags({"team": "ml", "owner": "alice"})
    (tmp / "notes.txt").write_text("hello")
    mlflow.log_artifact(str(tmp / "notes.txt"), "docs")
    (tmp / "cfg").mkdir()
    (tmp / "cfg" / "a.yaml").write_text("a: 1")
    (tmp / "cfg" / "b.yaml").write_text("b: 2")
    mlflow.log_artifacts(str(tmp / "cfg"), "cfg")
    mlflow.log_text("some text", "texts/t.txt")
    mlflow.log_dict({"k": [1, 2]}, "dicts/d.json")
    client = MlflowClient()
    root = sorted(f.path for f in client.list_artifacts(run.info.run_id))
    sub = sorted(f.path for f in client.list_artifacts(run.info.run_id, "cfg"))
    local = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path="docs/notes.txt", dst_path=str(tmp / "dl")
    )
    downloaded_dir = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path="cfg", dst_path=str(tmp / "dl2")
    )
    model = LogisticRegression().fit(X, y)
    info = mlflow.sklearn.log_model(model, name="model", input_example=X[:2])

run_id = run.info.run_id
fetched = client.get_run(run_id)
by_model_id = mlflow.sklearn.load_model(f"models:/{info.model_id}")
by_run = mlflow.sklearn.load_model(f"runs:/{run_id}/model")
found = mlflow.search_runs(
    experiment_names=["churn-exp"],
    filter_string="metrics.acc > 0.5 and params.lr = '0.1'",
    order_by=["metrics.loss DESC"],
)
none_found = mlflow.search_runs(experiment_names=["churn-exp"], filter_string="params.lr = '0.2'")
history = client.get_metric_history(run_id, "loss")
experiments = [e.name for e in client.search_experiments()]
logged = mlflow.get_logged_model(info.model_id)

print(
    json.dumps(
        {
            "experiment_id": created.experiment_id,
            "run_id": run_id,
            "run_name": fetched.info.run_name,
            "status": fetched.info.status,
            "artifact_uri": fetched.info.artifact_uri,
            "params": fetched.data.params,
            "metrics": fetched.data.metrics,
            "tags": {k: v for k, v in fetched.data.tags.items() if not k.startswith("mlflow.")},
            "outputs": [o.model_id for o in fetched.outputs.model_outputs],
            "root": root,
            "sub": sub,
            "downloaded": pathlib.Path(local).read_text(),
            "downloaded_dir": sorted(p.name for p in pathlib.Path(downloaded_dir).iterdir()),
            "model_id": info.model_id,
            "logged_status": str(logged.status),
            "same_predictions": bool(
                (by_model_id.predict(X) == model.predict(X)).all()
                and (by_run.predict(X) == model.predict(X)).all()
            ),
            "found": list(found["run_id"]),
            "none_found": len(none_found),
            "history": [(m.step, m.value) for m in history],
            "experiments": experiments,
        }
    )
)
