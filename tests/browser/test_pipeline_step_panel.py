"""A pipeline run's step panel in Chromium: clicking a node opens the step's panel beside the
graph (its log lines under Outputs + logs), the URL carries the step so a reload opens it
again, Escape closes it, Enter on a focused node opens one, and the graph keeps updating
while a panel is open. The run is made with factories (no containers)."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from playwright.sync_api import expect

from apps.jobs.models import Job, LogLine
from tests.matrix.jobs_pipelines import make_pipeline

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_as(page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value,
          "url": live_server.url}]
    )  # fmt: skip


def test_clicking_a_node_opens_its_step_panel_which_survives_a_reload_and_escape_closes(
    page, live_server, owner, workspace
):
    pipeline = make_pipeline(workspace, "paneled", steps=3, owner=owner)
    first = pipeline.children.get(spec__step="s000")
    LogLine.objects.bulk_create(
        [LogLine(job=first, seq=i, stream="stdout", text=f"epoch {i} loss 0.{9 - i}")
         for i in range(1, 4)]
    )  # fmt: skip
    open_as(page, live_server, owner)
    run_url = f"{live_server.url}/w/churn/jobs/paneled/pipeline/"
    page.goto(run_url)
    panel = page.locator("#step-panel")
    expect(panel).to_be_hidden()

    page.locator('.pipeline-node[data-step="s000"]').click()
    body = panel.locator('.step-panel-body[data-step="s000"]')
    expect(body).to_be_visible()
    expect(page).to_have_url(f"{run_url}?step=s000")  # still the run page: the graph stays
    expect(page.locator('.pipeline-node[data-step="s000"]')).to_have_class(re.compile("selected"))
    expect(body).to_contain_text("Reused from")
    body.get_by_role("link", name="Outputs + logs").click()
    expect(panel.locator("#logtail")).to_contain_text("epoch 3 loss 0.6")
    expect(page).to_have_url(f"{run_url}?step=s000&step_tab=logs")
    # the step's status lives in the panel; the pipeline's badge stays the pipeline's
    expect(page.locator("#run-status .badge")).to_have_attribute("data-status", "Running")

    page.reload()
    expect(panel.locator("#logtail")).to_contain_text("epoch 1 loss 0.8")
    expect(page.locator('.pipeline-node[data-step="s000"]')).to_have_class(re.compile("selected"))

    # The graph keeps updating beside the open panel.
    Job.objects.filter(parent=pipeline, spec__step="s001").update(status=Job.Status.COMPLETED)
    expect(page.locator('.pipeline-node[data-step="s001"]')).to_have_attribute(
        "data-status", "Completed"
    )
    expect(panel.locator(".step-panel-body")).to_be_visible()
    expect(page.locator('.pipeline-node[data-step="s000"]')).to_have_class(re.compile("selected"))

    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(page).to_have_url(run_url)
    expect(page.locator(".pipeline-node.selected")).to_have_count(0)

    # Keyboard: Enter on a focused node opens its panel.
    page.locator('.pipeline-node[data-step="s002"]').focus()
    page.keyboard.press("Enter")
    expect(panel.locator('.step-panel-body[data-step="s002"]')).to_be_visible()
    expect(page).to_have_url(f"{run_url}?step=s002")
    panel.get_by_role("button", name="Close the step panel").click()
    expect(panel).to_be_hidden()


def test_the_designer_run_view_opens_the_same_panel_with_the_steps_metrics(
    page, live_server, owner, workspace
):
    from apps.designer.drafts import draft_create
    from apps.jobs.models import LatestMetric, MetricSample

    pipeline = make_pipeline(workspace, "designed", owner=owner)
    first = pipeline.children.get(spec__step="s000")
    MetricSample.objects.bulk_create(
        [MetricSample(job=first, key="loss", value=1 / (i + 1), step=i, timestamp_ms=1000 + i)
         for i in range(5)]
    )  # fmt: skip
    LatestMetric.objects.create(job=first, key="loss", value=0.2, step=4, timestamp_ms=1004)
    draft = draft_create(actor=owner, workspace=workspace, name="Designed")
    draft.last_job = pipeline
    draft.save(update_fields=["last_job"])
    open_as(page, live_server, owner)
    view_url = f"{live_server.url}/w/churn/designer/{draft.pk}/?view=run"
    page.goto(view_url)

    page.locator('.pipeline-node[data-step="s000"]').click()
    panel = page.locator("#step-panel")
    panel.get_by_role("link", name="Metrics").click()
    expect(page).to_have_url(f"{view_url}&step=s000&step_tab=metrics")  # view=run kept
    chart = panel.locator('#charts .chart[data-key="loss"]')
    expect(chart).to_have_attribute("data-shown", "5")
    expect(chart.locator(".main-svg").first).to_be_visible()  # drawn by plotly

    page.reload()  # the shared link opens the same panel in the run view
    expect(panel.locator('#charts .chart[data-key="loss"]')).to_have_attribute("data-shown", "5")
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(page).to_have_url(view_url)


def test_the_step_panels_metrics_have_the_job_pages_chart_options(
    page, live_server, owner, workspace
):
    """Log scale, smoothing, x axis and the metric picker act on the step's charts, as on the
    job page (the same partial and script), and stay chosen when the panel is swapped."""
    from apps.jobs.models import LatestMetric, MetricSample

    pipeline = make_pipeline(workspace, "charted", steps=2, owner=owner)
    first = pipeline.children.get(spec__step="s000")
    for key in ("loss", "acc"):
        MetricSample.objects.bulk_create(
            [MetricSample(job=first, key=key, value=1 / (i + 1), step=i, timestamp_ms=1000 + i)
             for i in range(5)]
        )  # fmt: skip
        LatestMetric.objects.create(job=first, key=key, value=0.2, step=4, timestamp_ms=1004)
    open_as(page, live_server, owner)
    run_url = f"{live_server.url}/w/churn/jobs/charted/pipeline/"
    page.goto(run_url)
    page.locator('.pipeline-node[data-step="s000"]').click()
    panel = page.locator("#step-panel")
    panel.get_by_role("link", name="Metrics").click()
    chart = panel.locator('#charts .chart[data-key="loss"]')
    expect(chart).to_have_attribute("data-shown", "5")
    y_type = "document.querySelector('#charts .chart[data-key=\"loss\"]').layout.yaxis.type"
    assert page.evaluate(y_type) == "linear"

    panel.get_by_label("Log scale").check()
    page.wait_for_function(f"{y_type} === 'log'")
    x_title = "document.querySelector('#charts .chart[data-key=\"loss\"]').layout.xaxis.title.text"
    assert page.evaluate(x_title) == "step"
    panel.get_by_label("X axis").select_option("relative")
    page.wait_for_function(f"{x_title} === 'seconds'")
    panel.locator("#chart-smoothing").fill("0.5")
    page.wait_for_function(
        "document.querySelector('#charts .chart[data-key=\"loss\"]').data.length === 2"
    )  # the smoothed line over the faded raw one

    # Pick metrics: untick acc, its chart goes; loss stays.
    panel.locator("#chart-pick summary").click()
    panel.get_by_role("checkbox", name="acc").uncheck()
    expect(panel.locator('#charts .chart[data-key="acc"]')).to_be_hidden()
    expect(chart).to_be_visible()

    # Away to Overview and back: the panel is a new fragment, the options are kept.
    panel.get_by_role("link", name="Overview").click()
    expect(panel.locator("#step-params, .props").first).to_be_visible()
    panel.get_by_role("link", name="Metrics").click()
    expect(panel.get_by_label("Log scale")).to_be_checked()
    expect(panel.locator('#charts .chart[data-key="loss"]')).to_have_attribute("data-shown", "5")
    page.wait_for_function(f"{y_type} === 'log'")
    expect(panel.locator('#charts .chart[data-key="acc"]')).to_be_hidden()
