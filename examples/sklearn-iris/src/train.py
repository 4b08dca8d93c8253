"""Train a classifier on iris, tracked with MLflow.

`mlflow.autolog()` records the final fit's parameters, training metrics and model; the loop
logs `epoch_accuracy` and `epoch_loss` once per epoch (with a pause) so a running job's
metrics chart grows while you watch. The model is also saved as an MLflow model under
./outputs/model, which the studio keeps as the run's artifacts (register it from the job
page's "Register model").
"""

from __future__ import annotations

import argparse
import time

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
import sklearn
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--epochs", type=int, default=24)
    parser.add_argument("--sleep", type=float, default=0.5)
    args = parser.parse_args()

    mlflow.autolog()
    frame = pd.read_csv(args.data)
    x = frame.drop(columns=["species"])
    y = frame["species"]
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.3, random_state=7, stratify=y
    )
    print(f"{len(frame)} rows, {x.shape[1]} features", flush=True)

    sgd = SGDClassifier(loss="log_loss", random_state=7)
    classes = np.unique(y)
    for epoch in range(args.epochs):
        sgd.partial_fit(x_train, y_train, classes=classes)
        accuracy = float(sgd.score(x_test, y_test))
        loss = float(log_loss(y_test, sgd.predict_proba(x_test), labels=classes))
        mlflow.log_metrics({"epoch_accuracy": accuracy, "epoch_loss": loss}, step=epoch)
        print(
            f"epoch {epoch + 1}/{args.epochs}: accuracy {accuracy:.3f} loss {loss:.3f}", flush=True
        )
        time.sleep(args.sleep)

    model = LogisticRegression(max_iter=500)
    model.fit(x_train, y_train)  # autolog: params, training_* metrics, the model
    accuracy = float(model.score(x_test, y_test))
    mlflow.log_metric("test_accuracy", accuracy)
    print(f"final test accuracy {accuracy:.3f}", flush=True)

    signature = mlflow.models.infer_signature(x_test, model.predict(x_test))
    mlflow.sklearn.save_model(
        model,
        "outputs/model",
        serialization_format="cloudpickle",  # rather than MLflow's default, skops
        signature=signature,
        input_example=x_test.head(3),
        # named, not inferred (inferring imports the model in a subprocess: seconds)
        pip_requirements=[f"scikit-learn=={sklearn.__version__}", f"pandas=={pd.__version__}"],
    )
    print("saved the MLflow model to outputs/model", flush=True)


if __name__ == "__main__":
    main()
