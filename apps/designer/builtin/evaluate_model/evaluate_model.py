"""Evaluate Model: classification metrics (accuracy, precision, recall, F1, AUC, ROC curve,
confusion matrix) or regression metrics (MAE, RMSE, R², relative errors) of a scored
dataset, written into the output folder as JSON and plotly figures, and logged to the job's
MLflow run when MLFLOW_RUN_ID is set."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
from designer_io import check_columns, read_dataset, read_meta, write_json
from sklearn import metrics as skm

LABELS = "Scored Labels"
PROBABILITIES = "Scored Probabilities"
MAX_ROC_POINTS = 200


def _thin(points: list, limit: int = MAX_ROC_POINTS) -> list:
    if len(points) <= limit:
        return points
    step = math.ceil(len(points) / limit)
    return points[::step] + ([points[-1]] if (len(points) - 1) % step else [])


def _roc(truth, scores) -> dict:
    fpr, tpr, thresholds = skm.roc_curve(truth, scores)
    keep = _thin(list(range(len(fpr))))
    return {
        "fpr": [float(fpr[i]) for i in keep],
        "tpr": [float(tpr[i]) for i in keep],
        "thresholds": [float(min(thresholds[i], 1e300)) for i in keep],
    }


def classification(df: pd.DataFrame, label: str, meta: dict) -> dict:
    truth, predicted = df[label], df[LABELS]
    classes = sorted(set(truth.tolist()) | set(predicted.tolist()), key=str)
    binary = len(classes) <= 2
    average = "binary" if binary and len(classes) == 2 else "macro"
    positive = classes[-1] if binary else None
    kwargs = {"average": average, "zero_division": 0}
    if average == "binary":
        kwargs["pos_label"] = positive
    values = {
        "accuracy": skm.accuracy_score(truth, predicted),
        "precision": skm.precision_score(truth, predicted, **kwargs),
        "recall": skm.recall_score(truth, predicted, **kwargs),
        "f1_score": skm.f1_score(truth, predicted, **kwargs),
    }
    roc: dict[str, dict] = {}
    columns = (meta.get("score_columns") or {}).get("class_probabilities") or {}
    if binary and PROBABILITIES in df.columns and truth.nunique() == 2:
        values["auc"] = skm.roc_auc_score(truth == positive, df[PROBABILITIES])
        roc[str(positive)] = _roc(truth == positive, df[PROBABILITIES])
    elif columns and all(str(c) in columns for c in truth.unique()):
        names = [columns[k] for k in columns]
        keys = list(columns)
        proba = df[names].to_numpy()
        truth_keys = truth.map(str)
        if truth_keys.nunique() > 1:
            onehot = np.stack([(truth_keys == k).to_numpy() for k in keys], axis=1)
            present = onehot.any(axis=0)
            values["auc"] = skm.roc_auc_score(
                onehot[:, present], proba[:, present], average="macro"
            )
            for i, key in enumerate(keys):
                if present[i]:
                    roc[key] = _roc(onehot[:, i], proba[:, i])
    matrix = skm.confusion_matrix(truth, predicted, labels=classes)
    return {
        "task": "classification",
        "metrics": {k: float(v) for k, v in values.items()},
        "classes": [str(c) for c in classes],
        "confusion_matrix": matrix.tolist(),
        "roc_curve": roc,
        "positive_class": None if positive is None else str(positive),
    }


def regression(df: pd.DataFrame, label: str) -> dict:
    truth, predicted = df[label].astype(float), df[LABELS].astype(float)
    errors = predicted - truth
    mean = truth.mean()
    values = {
        "mean_absolute_error": skm.mean_absolute_error(truth, predicted),
        "root_mean_squared_error": math.sqrt(skm.mean_squared_error(truth, predicted)),
        "r2_score": skm.r2_score(truth, predicted),
        "relative_absolute_error": errors.abs().sum() / max((truth - mean).abs().sum(), 1e-300),
        "relative_squared_error": (errors**2).sum() / max(((truth - mean) ** 2).sum(), 1e-300),
    }
    sample = df.head(2000)
    return {
        "task": "regression",
        "metrics": {k: float(v) for k, v in values.items()},
        "scatter": {
            "actual": sample[label].astype(float).tolist(),
            "predicted": sample[LABELS].astype(float).tolist(),
        },
    }


def figures(result: dict) -> dict[str, dict]:
    """plotly figures ({"data", "layout"}) of the results, ready for Plotly.newPlot."""
    if result["task"] == "regression":
        actual, predicted = result["scatter"]["actual"], result["scatter"]["predicted"]
        low, high = min(actual + predicted, default=0), max(actual + predicted, default=1)
        return {
            "predicted_vs_actual": {
                "data": [
                    {
                        "type": "scatter",
                        "mode": "markers",
                        "x": actual,
                        "y": predicted,
                        "name": "rows",
                    },
                    {
                        "type": "scatter",
                        "mode": "lines",
                        "x": [low, high],
                        "y": [low, high],
                        "name": "ideal",
                        "line": {"dash": "dash"},
                    },
                ],
                "layout": {
                    "title": {"text": "Predicted vs actual"},
                    "xaxis": {"title": {"text": "Actual"}},
                    "yaxis": {"title": {"text": "Predicted"}},
                },
            }
        }
    out = {}
    if result["roc_curve"]:
        traces = [
            {
                "type": "scatter",
                "mode": "lines",
                "x": c["fpr"],
                "y": c["tpr"],
                "name": f"class {key}",
            }
            for key, c in result["roc_curve"].items()
        ]
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": [0, 1],
                "y": [0, 1],
                "name": "random",
                "line": {"dash": "dash"},
            }
        )
        auc = result["metrics"].get("auc")
        out["roc_curve"] = {
            "data": traces,
            "layout": {
                "title": {"text": "ROC curve" + (f" (AUC {auc:.3f})" if auc else "")},
                "xaxis": {"title": {"text": "False positive rate"}, "range": [0, 1]},
                "yaxis": {"title": {"text": "True positive rate"}, "range": [0, 1]},
            },
        }
    classes = result["classes"]
    out["confusion_matrix"] = {
        "data": [
            {
                "type": "heatmap",
                "z": result["confusion_matrix"],
                "x": classes,
                "y": classes,
                "colorscale": "Blues",
                "texttemplate": "%{z}",
            }
        ],
        "layout": {
            "title": {"text": "Confusion matrix"},
            "xaxis": {"title": {"text": "Predicted"}, "type": "category"},
            "yaxis": {"title": {"text": "Actual"}, "type": "category", "autorange": "reversed"},
        },
    }
    return out


def log_to_run(values: dict) -> None:
    """Each metric on the job's MLflow run (the studio sets MLFLOW_RUN_ID in a job)."""
    run_id = os.environ.get("MLFLOW_RUN_ID")
    if not run_id:
        return
    # A tracking server that does not answer costs seconds, not minutes of retries.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
    try:
        from mlflow.tracking import MlflowClient

        client = MlflowClient()
        for key, value in values.items():
            client.log_metric(run_id, key, value)
    except Exception as exc:  # the files are the results; the run is a convenience
        print(f"warning: metrics not logged to run {run_id}: {exc}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scored_dataset", required=True)
    parser.add_argument("--label_column", default=None)
    parser.add_argument("--evaluation_results", required=True)
    args = parser.parse_args(argv)

    df = read_dataset(args.scored_dataset)
    meta = read_meta(args.scored_dataset)
    label = args.label_column or meta.get("label_column")
    if not label:
        raise SystemExit("label_column: not known from Score Model's output; give it")
    check_columns(df, [label, LABELS], "scored_dataset")
    df = df.dropna(subset=[label])
    task = meta.get("task") or ("classification" if PROBABILITIES in df.columns else "regression")
    result = classification(df, label, meta) if task == "classification" else regression(df, label)
    result.update(label_column=label, rows=len(df), learner=meta.get("learner"))
    out = Path(args.evaluation_results)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "metrics.json", result["metrics"])
    write_json(out / "results.json", result)
    charts = figures(result)
    for name, figure in charts.items():
        write_json(out / f"{name}.plotly.json", figure)
    log_to_run(result["metrics"])
    for key, value in result["metrics"].items():
        print(f"{key}: {value:.4f}")


if __name__ == "__main__":
    main()
