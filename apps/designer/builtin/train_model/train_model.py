"""Train Model: fit the connected learner on the dataset (every column but the label is a
feature; text columns are one-hot encoded) and save it as an MLflow sklearn model, or with
joblib when mlflow is not installed. designer.json beside it names the label, the feature
columns, the task and the classes."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import learners
import pandas as pd
from designer_io import META_FILE, check_columns, read_dataset, write_json


def make_estimator(spec: dict, features: pd.DataFrame):
    """The learner's estimator; behind a one-hot encoder when some features are text."""
    estimator = learners.build(spec)
    text = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if not text:
        return estimator
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    encode = ColumnTransformer(
        [("text", OneHotEncoder(handle_unknown="ignore"), text)], remainder="passthrough"
    )
    return Pipeline([("encode", encode), ("model", estimator)])


def save(model, folder: Path, sample: pd.DataFrame) -> str:
    """Write the model; return its format ('mlflow_model' or 'custom_model')."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.iterdir():  # a retried job's earlier attempt: MLflow wants it empty
        if stale.is_dir():
            shutil.rmtree(stale)
        else:
            stale.unlink()
    try:
        import mlflow.sklearn
    except ImportError:
        import joblib

        joblib.dump(model, folder / "model.joblib")
        return "custom_model"
    import sklearn

    signature = None
    try:
        from mlflow.models import infer_signature

        signature = infer_signature(sample, model.predict(sample))
    except Exception as exc:  # a signature is a nicety; the model is what matters
        print(f"no signature: {exc}")
    mlflow.sklearn.save_model(
        model,
        str(folder),
        signature=signature,
        # cloudpickle ships with mlflow-skinny (the default, skops, is another package)
        serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
        pip_requirements=[f"scikit-learn=={sklearn.__version__}", f"pandas=={pd.__version__}"],
    )
    return "mlflow_model"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--untrained_model", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--label_column", required=True)
    parser.add_argument("--trained_model", required=True)
    args = parser.parse_args(argv)

    spec = learners.read(args.untrained_model)
    df = read_dataset(args.dataset)
    check_columns(df, [args.label_column], "label_column")
    df = df.dropna(subset=[args.label_column])
    features = df.drop(columns=[args.label_column])
    label = df[args.label_column]
    model = make_estimator(spec, features)
    model.fit(features, label)
    out = Path(args.trained_model)
    fmt = save(model, out, features.head(5))
    classes = getattr(model, "classes_", None)
    write_json(
        out / META_FILE,
        {
            "learner": spec["learner"],
            "task": spec["task"],
            "label_column": args.label_column,
            "feature_columns": list(features.columns),
            "classes": None if classes is None else list(classes),
            "format": fmt,
            "rows": len(df),
        },
    )
    print(f"trained {spec['display_name']} on {len(df)} rows ({fmt})")


if __name__ == "__main__":
    main()
