# ruff: noqa: F811 - fixtures imported from the end-to-end and runner test support
"""Issue 6's done-when, end to end in Chromium: from an empty canvas, drag the breast cancer
sample, Split Data, a learner (Two-Class Logistic Regression), Train Model, Score Model and
Evaluate Model onto it, connect their ports, set the label column in the properties panel,
submit from the Submit dialog, watch the run view until the pipeline completes (five steps
in real containers on the curated scikit-learn image), open Evaluate Model's step page and
see its ROC curve drawn by plotly; submit the same draft again and see every step Reused.

Skipped without Docker; the curated sklearn image is built on a machine's first run
(minutes), then cached. Jobs run in threads of this process through the Celery task itself
(tests/e2e/conftest.py `run_in_process`); the live server listens where containers reach
it, so Evaluate Model's metrics reach the step's MLflow run."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.assets.services.environments import ensure_image
from apps.designer import builtins
from apps.designer.models import Draft
from apps.jobs.models import Job
from apps.workspaces.models import Compute
from tests.browser_fixtures import drag, drop_on_canvas
from tests.e2e.conftest import page_as, run_in_process, studio_server  # noqa: F401
from tests.jobs.test_runner_support import docker_runner, docker_status, job_dir  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.django_db(transaction=True)]

RUN_TIMEOUT_MS = 600_000  # five container steps on 2 shared cores (about 1-2 minutes alone)
STEPS = {"split_data", "two_class_logistic_regression", "train_model", "score_model",
         "evaluate_model"}  # fmt: skip
# Where each palette item is dropped on the canvas (stage pixels): four columns of 220 px
# nodes, so every port is on screen for the connecting drags.
DROPS = [
    ('.dz-item[data-ref="azureml:sample-breast-cancer:1"]', "sample_breast_cancer", (50, 45)),
    ('.dz-item[data-name="split_data"]', "split_data", (50, 265)),
    ('.dz-item[data-name="two_class_logistic_regression"]', "two_class_logistic_regression",
     (330, 45)),
    ('.dz-item[data-name="train_model"]', "train_model", (330, 265)),
    ('.dz-item[data-name="score_model"]', "score_model", (610, 265)),
    ('.dz-item[data-name="evaluate_model"]', "evaluate_model", (890, 265)),
]  # fmt: skip
EDGES = [
    ("sample_breast_cancer", "data", "split_data", "dataset"),
    ("split_data", "results_dataset1", "train_model", "dataset"),
    ("two_class_logistic_regression", "untrained_model", "train_model", "untrained_model"),
    ("train_model", "trained_model", "score_model", "trained_model"),
    ("split_data", "results_dataset2", "score_model", "dataset"),
    ("score_model", "scored_dataset", "evaluate_model", "scored_dataset"),
]


@pytest.fixture
def builtins_ready(workspace):
    """The built-in components and sample datasets, a two-node cluster, and the curated
    sklearn image (built here the first time on a machine, then cached by its spec hash)."""
    components = {c.name: c for c in builtins.builtin_components_ensure(workspace=workspace)}
    builtins.sample_datasets_ensure(workspace=workspace)
    ensure_image(components["train_model"].environment)
    Compute.objects.create(
        workspace=workspace, name="cpu-cluster", type="amlcompute", max_instances=2
    )
    return components


def submit_and_wait(page) -> str:
    """Submit from the dialog (the compute chosen), land on the run view, wait for the end;
    answer the run's job name."""
    page.locator("#dz-submit").click()
    dialog = page.locator("#dz-submit-dialog")
    dialog.locator("#sub-compute").select_option("cpu-cluster")
    dialog.get_by_role("button", name="Submit", exact=True).click()
    try:
        page.wait_for_url("**/designer/*/?view=run", timeout=60_000)
    except Exception as exc:  # the dialog's refusal says why
        raise AssertionError(page.locator("#dz-dialog").inner_text()) from exc
    graph = page.locator("#pipeline-graph")
    expect(graph).to_have_attribute("data-status", "Completed", timeout=RUN_TIMEOUT_MS)
    return page.locator("#dz-run-link").inner_text()


def test_a_pipeline_drawn_from_an_empty_canvas_runs_shows_its_roc_curve_and_reruns_reused(
    run_in_process, studio_server, page_as, owner, workspace, builtins_ready
):
    page = page_as(owner)
    page.set_viewport_size({"width": 1700, "height": 1000})
    page.goto(f"{studio_server.url}/w/churn/designer/")
    page.locator("#new-name").fill("Breast cancer")
    page.get_by_role("button", name="+ New draft").click()
    page.wait_for_url("**/designer/*/")
    expect(page.locator("#dz-hint")).to_be_visible()  # the empty canvas

    for item, node, (x, y) in DROPS:
        drop_on_canvas(page, item, node, x, y)
    for source, output, target, input_name in EDGES:
        out = page.locator(f'#node-{source} .dz-out[data-port="{output}"] i')
        drag(page, out, page.locator(f'#node-{target} .dz-in[data-port="{input_name}"]'))
        edge = f"{source}.{output}->{target}.{input_name}"
        expect(page.locator(f'path[data-edge="{edge}"]')).to_have_count(1)

    page.locator("#node-train_model .dz-node-head").click()
    panel = page.locator('.dz-panel[data-node="train_model"]')
    panel.locator("#p-label_column").fill("target")
    with page.expect_response(
        lambda r: "/nodes/train_model/" in r.url and r.request.method == "POST"
    ) as saved:
        panel.get_by_role("button", name="Save", exact=True).click()
    assert saved.value.status == 200
    expect(panel.locator("#p-label_column")).to_have_value("target")
    expect(panel.locator(".dz-field.has-error")).to_have_count(0)
    draft = Draft.objects.get(name="Breast cancer", workspace=workspace)
    assert draft.graph["nodes"]["train_model"]["params"] == {"label_column": "target"}
    page.locator("#dz-validate").click()
    expect(page.locator("#dz-issues")).not_to_contain_text("required")

    first = submit_and_wait(page)
    steps = {j.spec["step"]: j for j in Job.objects.get(name=first).children.all()}
    assert set(steps) == STEPS
    assert all(j.status == Job.Status.COMPLETED for j in steps.values()), {
        k: j.error for k, j in steps.items()
    }
    nodes = page.locator(".pipeline-node")
    expect(nodes).to_have_count(len(STEPS))
    expect(page.locator(".pipeline-node .badge.reused")).to_have_count(0)

    # Evaluate Model's step page (from its step panel): its results, with the ROC curve.
    page.locator('.pipeline-node[data-step="evaluate_model"]').click()
    page.locator('.step-panel-body[data-step="evaluate_model"] #step-open-job').click()
    page.wait_for_url(f"**/jobs/{steps['evaluate_model'].name}/**")
    page.get_by_role("link", name="Overview", exact=True).click()
    results = page.locator("#evaluate-results")
    expect(results).to_contain_text("ROC curve")
    roc = page.locator('#ev-roc_curve[data-drawn="true"]')
    expect(roc).to_have_count(1)
    assert roc.evaluate("el => el.data.length") >= 1
    assert roc.evaluate("el => el.data[0].x.length") > 2  # a curve, not a point
    expect(page.locator('#ev-confusion_matrix[data-drawn="true"] .main-svg').first).to_be_visible()
    auc = float(results.locator('td[data-metric="auc"]').inner_text())
    assert auc > 0.95

    # The same draft again: every step reuses the first run's outputs.
    page.goto(f"{studio_server.url}/w/churn/designer/{draft.pk}/")
    second = submit_and_wait(page)
    assert second != first
    expect(page.locator(".pipeline-node .badge.reused")).to_have_count(len(STEPS))
    again = Job.objects.get(name=second).children.all()
    assert {j.tags.get("reused_from") for j in again} == {j.name for j in steps.values()}
