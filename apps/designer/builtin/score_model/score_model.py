"""Score Model: the trained model's predictions ("Scored Labels") and, for a classifier, the
probability of the positive class ("Scored Probabilities", two classes) or of each class
("Scored Probabilities_<class>", more than two)."""

from __future__ import annotations

import argparse
import json
import pickle
from pathlib import Path

import pandas as pd
from designer_io import META_FILE, check_columns, read_dataset, str2bool, write_dataset

LABELS = "Scored Labels"
PROBABILITIES = "Scored Probabilities"


def load(folder: Path):
    """The estimator of a model folder: MLflow sklearn flavor, or joblib."""
    if (folder / "model.joblib").is_file():
        import joblib

        return joblib.load(folder / "model.joblib")
    if not (folder / "MLmodel").is_file():
        raise SystemExit(f"trained_model: '{folder}' holds no MLmodel or model.joblib")
    try:
        import mlflow.sklearn

        return mlflow.sklearn.load_model(str(folder))
    except ImportError:
        with open(folder / "model.pkl", "rb") as fh:
            return pickle.load(fh)


def model_meta(folder: Path, model) -> dict:
    path = folder / META_FILE
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    classes = getattr(model, "classes_", None)
    return {
        "task": "classification" if classes is not None else "regression",
        "classes": None if classes is None else list(classes),
    }


def score(model, meta: dict, df: pd.DataFrame, append: bool) -> tuple[pd.DataFrame, dict]:
    features = meta.get("feature_columns") or [
        c for c in df.columns if c != meta.get("label_column")
    ]
    check_columns(df, features, "dataset")
    X = df[features]
    out = df.copy() if append else pd.DataFrame(index=df.index)
    if not append and meta.get("label_column") in df.columns:
        out[meta["label_column"]] = df[meta["label_column"]]
    out[LABELS] = model.predict(X)
    columns = {"labels": LABELS}
    if meta.get("task") == "classification" and hasattr(model, "predict_proba"):
        proba = model.predict_proba(X)
        classes = list(model.classes_)
        if len(classes) == 2:
            out[PROBABILITIES] = proba[:, 1]
            columns["probabilities"] = PROBABILITIES
        else:
            names = {str(c): f"{PROBABILITIES}_{c}" for c in classes}
            for i, c in enumerate(classes):
                out[names[str(c)]] = proba[:, i]
            columns["class_probabilities"] = names
    return out, columns


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trained_model", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--append_score_columns", type=str2bool, default=True)
    parser.add_argument("--scored_dataset", required=True)
    args = parser.parse_args(argv)

    folder = Path(args.trained_model)
    model = load(folder)
    meta = model_meta(folder, model)
    df = read_dataset(args.dataset)
    out, columns = score(model, meta, df, args.append_score_columns)
    write_dataset(
        out,
        args.scored_dataset,
        {
            "label_column": meta.get("label_column"),
            "task": meta.get("task"),
            "classes": meta.get("classes"),
            "score_columns": columns,
            "learner": meta.get("learner"),
        },
    )


if __name__ == "__main__":
    main()
