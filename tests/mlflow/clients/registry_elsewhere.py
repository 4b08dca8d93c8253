"""Loads, with the stock client, a registered model version whose files are on
workspaceblobstore (as a version registered from a job's named output is): by name and
version, and downloaded whole. Prints one JSON line of what it saw."""

import json
import os

import mlflow
import numpy as np

X = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
loaded = mlflow.sklearn.load_model("models:/blob-clf/1")
local = mlflow.artifacts.download_artifacts("models:/blob-clf/1")
print(json.dumps({"prediction": loaded.predict(X).tolist(), "files": sorted(os.listdir(local))}))
