"""mlflow.sklearn.autolog() around the fit of a tiny model, with the stock client."""

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
print(json.dumps({"run_id": run.info.run_id}))
