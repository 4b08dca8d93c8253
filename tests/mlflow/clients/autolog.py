"""mlflow.sklearn.autolog() around the fit of a tiny model, with the stock client; then an
evaluation run that logs metrics with the model's id, which makes the model its input."""

import json

import mlflow
import numpy as np
from sklearn.linear_model import LogisticRegression

mlflow.set_experiment("autolog-exp")
mlflow.sklearn.autolog()
X = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]] * 5)
y = np.array([0, 1, 0, 1] * 5)
with mlflow.start_run(run_name="auto") as run:
    LogisticRegression(max_iter=50).fit(X, y)
mlflow.sklearn.autolog(disable=True)
model_id = mlflow.last_logged_model().model_id
with mlflow.start_run(run_name="evaluate") as evaluation:
    loaded = mlflow.sklearn.load_model(f"models:/{model_id}")
    mlflow.log_metric("eval_accuracy", float((loaded.predict(X) == y).mean()), model_id=model_id)
    mlflow.log_metric("eval_rows", len(y), model_id=model_id)
used = mlflow.MlflowClient().get_run(evaluation.info.run_id).inputs.model_inputs
print(
    json.dumps(
        {
            "run_id": run.info.run_id,
            "evaluation_id": evaluation.info.run_id,
            "model_inputs": [m.model_id for m in used],
        }
    )
)
