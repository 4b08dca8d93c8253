"""Loads, with the stock client, registered model versions (version 1 of each name in
$MODELS, default blob-clf: its files are on workspaceblobstore, as a version registered from a
job's named output is): by name and version, and downloaded whole. Prints one JSON line of
what it saw, by model name."""

import json
import os

import mlflow
import numpy as np

X = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
seen = {}
for name in os.environ.get("MODELS", "blob-clf").split(","):
    loaded = mlflow.sklearn.load_model(f"models:/{name}/1")
    local = mlflow.artifacts.download_artifacts(f"models:/{name}/1")
    seen[name] = {"prediction": loaded.predict(X).tolist(), "files": sorted(os.listdir(local))}
print(json.dumps(seen))
