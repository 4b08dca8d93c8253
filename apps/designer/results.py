"""Evaluate Model's results on its step's job page: the metrics, the ROC curve and the
confusion matrix (classification) or predicted vs. actual (regression).

The Evaluate Model component (apps/designer/builtin/evaluate_model) writes into its
`evaluation_results` output folder `results.json` and ready plotly figures
(`roc_curve.plotly.json`, `confusion_matrix.plotly.json`, `predicted_vs_actual.plotly.json`,
each `{"data", "layout"}`). This module reads them back from the output's datastore. A
reused step's output URI is the one of the run it reused, so its results show as well.

No permission check here: the caller (the job page, behind JOB_VIEW) has decided the user
may see the job and therefore its outputs.
"""

from __future__ import annotations

import json
import logging

from apps.jobs.models import Job
from apps.workspaces import storage
from studio.errors import DomainError

log = logging.getLogger(__name__)

OUTPUT = "evaluation_results"
FIGURES = (
    ("roc_curve", "ROC curve"),
    ("confusion_matrix", "Confusion matrix"),
    ("predicted_vs_actual", "Predicted vs. actual"),
)
MAX_BYTES = 5_000_000  # a figure is at most a few hundred kB (200 ROC points per class)


def output_uri(job: Job) -> str:
    """The evaluation_results output's URI of a step, or '' when it has none."""
    out = ((job.spec or {}).get("outputs") or {}).get(OUTPUT)
    if not isinstance(out, dict):
        return ""
    return str(out.get("uri") or out.get("path") or "")


def _read_json(store, path: str):
    if not store.exists(path):
        return None
    with store.open_read(path) as fh:
        raw = fh.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        return None
    return json.loads(raw)


def evaluate_results(job: Job) -> dict | None:
    """{"task", "metrics": [(name, value)], "rows", "label_column", "learner", "classes",
    "positive_class", "figures": [{"key", "title", "figure"}], "error"} for a completed step
    with an `evaluation_results` output; None for any other job."""
    uri = output_uri(job)
    if not uri or job.status != Job.Status.COMPLETED:
        return None
    try:
        datastore, base = storage.resolve_datastore_uri(job.workspace, uri, field="outputs")
        store = storage.open_store(datastore)
        base = base.rstrip("/")
        results = _read_json(store, f"{base}/results.json")
        if not isinstance(results, dict):
            return None
        figures = []
        for key, title in FIGURES:
            figure = _read_json(store, f"{base}/{key}.plotly.json")
            if isinstance(figure, dict) and isinstance(figure.get("data"), list):
                figures.append(
                    {"key": key, "title": title, "figure": figure, "json_id": f"ev-{key}-data"}
                )
    except (DomainError, OSError, ValueError) as exc:
        log.warning("evaluation results of %s unreadable: %s", job.name, exc)
        return {"error": f"The results could not be read ({exc}).", "metrics": [], "figures": []}
    metrics = results.get("metrics") or {}
    return {
        "task": results.get("task", ""),
        "metrics": [(k, v) for k, v in metrics.items() if isinstance(v, (int, float))],
        "rows": results.get("rows"),
        "label_column": results.get("label_column", ""),
        "learner": results.get("learner", ""),
        "classes": results.get("classes") or [],
        "positive_class": results.get("positive_class"),
        "figures": figures,
        "error": "",
    }
