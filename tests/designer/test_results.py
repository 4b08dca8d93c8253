"""Evaluate Model's Results panel on its step's job page: metrics, the ROC curve and the
confusion matrix as plotly figures read from the step's evaluation_results output on its
datastore; a reader sees it; other jobs (and a step not yet completed) show no panel; an
unreadable results file is said, not a 500."""

from __future__ import annotations

import io
import json

import pytest

from apps.designer.results import evaluate_results
from apps.jobs.models import Job
from apps.workspaces import storage
from apps.workspaces.models import Datastore
from tests.conftest import client_for
from tests.jobs.test_runner_support import make_job

pytestmark = pytest.mark.django_db

BASE = "azureml/ev-step/evaluation_results"
RESULTS = {
    "task": "classification", "metrics": {"accuracy": 0.9649, "auc": 0.9951},
    "label_column": "target", "rows": 171, "learner": "two_class_logistic_regression",
    "classes": [0, 1], "positive_class": 1, "confusion_matrix": [[60, 4], [2, 105]],
}  # fmt: skip
ROC = {"data": [{"type": "scatter", "x": [0, 0.1, 1], "y": [0, 0.9, 1], "name": "1"}],
       "layout": {"title": {"text": "ROC"}}}  # fmt: skip
MATRIX = {"data": [{"type": "heatmap", "z": [[60, 4], [2, 105]]}], "layout": {}}


def write(workspace, files: dict[str, bytes]) -> None:
    store = storage.open_store(Datastore.objects.get(workspace=workspace, is_default=True))
    for name, data in files.items():
        store.write_stream(f"{BASE}/{name}", io.BytesIO(data))


def step(workspace, owner, status=Job.Status.COMPLETED) -> Job:
    datastore = Datastore.objects.get(workspace=workspace, is_default=True)
    uri = storage.uri(datastore.name, BASE) + "/"
    spec = {"outputs": {"evaluation_results": {"type": "uri_folder", "uri": uri}}}
    return make_job(workspace, owner, spec, name="ev-step", status=status)


def test_the_step_page_shows_the_metrics_roc_curve_and_confusion_matrix(workspace, owner, reader):
    write(workspace, {
        "results.json": json.dumps(RESULTS).encode(),
        "roc_curve.plotly.json": json.dumps(ROC).encode(),
        "confusion_matrix.plotly.json": json.dumps(MATRIX).encode(),
    })  # fmt: skip
    step(workspace, owner)
    page = client_for(reader).get("/w/churn/jobs/ev-step/").content.decode()
    assert 'id="evaluate-results"' in page and 'data-metric="auc">0.9951' in page
    assert 'id="ev-roc_curve"' in page and 'id="ev-confusion_matrix"' in page
    start = page.index('id="ev-roc_curve-data"')
    figure = json.loads(page[page.index(">", start) + 1 : page.index("</script>", start)])
    assert figure == ROC
    assert "plotly/plotly.min.js" in page and "designer/results.js" in page


def test_other_jobs_and_unfinished_steps_have_no_results_panel(workspace, owner):
    make_job(workspace, owner, name="plain", status=Job.Status.COMPLETED)
    write(workspace, {"results.json": json.dumps(RESULTS).encode()})
    running = step(workspace, owner, status=Job.Status.RUNNING)
    assert evaluate_results(running) is None
    for name in ("plain", "ev-step"):
        assert b"evaluate-results" not in client_for(owner).get(f"/w/churn/jobs/{name}/").content


def test_an_unreadable_results_file_is_said_on_the_page(workspace, owner):
    write(workspace, {"results.json": b"{not json"})
    step(workspace, owner)
    response = client_for(owner).get("/w/churn/jobs/ev-step/")
    assert response.status_code == 200
    assert b"The results could not be read" in response.content
