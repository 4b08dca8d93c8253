"""A laptop run with no experiment set: it lands in the workspace's Default experiment."""

import json

import mlflow

with mlflow.start_run() as run:
    mlflow.log_metric("x", 1.0)
print(json.dumps({"run_id": run.info.run_id, "experiment_id": run.info.experiment_id}))
