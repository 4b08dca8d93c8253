"""Metric charts in Chromium: a job's Metrics tab draws the runner's system/* series against
time since the job started (after the user's own metrics, under "System", memory in MiB/GiB),
and Compare tells runs with one display name apart and draws every chart, including those
below the fold."""

from __future__ import annotations

import pytest
from django.test import Client
from playwright.sync_api import expect

from apps.jobs.models import Job
from apps.jobs.services import tracking
from tests.matrix.jobs_runs import make_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
T0 = 1_700_000_000_000


def open_as(page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value,
          "url": live_server.url}]
    )  # fmt: skip


def iris_run(workspace, name: str, n_user: int = 11):
    """A run named "iris logistic regression" with `n_user` metrics over steps 0..4 and the
    runner's two system series (step 0, a sample every 5 s)."""
    job = make_run(workspace, name=name, metrics={f"m{i:02d}": [1, 0.5, 0.3, 0.2, 0.1]
                                                  for i in range(n_user)})  # fmt: skip
    Job.objects.filter(pk=job.pk).update(display_name="iris logistic regression")
    tracking.run_log(
        actor=workspace.created_by,
        workspace=workspace,
        run_id=job.pk,
        metrics=[tracking.MetricIn("system/memory_bytes", 300e6 + i * 1e6, T0 + i * 5000, 0)
                 for i in range(10)]
        + [tracking.MetricIn("system/cpu_percent", 50.0 + i, T0 + i * 5000, 0)
           for i in range(10)],
    )  # fmt: skip
    return job


def drawn(page) -> list[dict]:
    """What plotly drew in each chart: key, x title, trace names and x values."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('.chart')).map(el => ({
            key: el.dataset.key,
            xtitle: el.layout && el.layout.xaxis.title.text,
            ytitle: el.layout && el.layout.yaxis.title && el.layout.yaxis.title.text,
            names: (el.data || []).map(t => t.name),
            x: (el.data || []).map(t => Array.from(t.x).map(String)),
            svg: el.querySelectorAll('.main-svg .scatterlayer .trace').length,
        }))"""
    )


def test_compare_of_13_metrics_draws_every_chart_with_distinct_legends(
    page, live_server, owner, workspace
):
    iris_run(workspace, "iris-a")
    iris_run(workspace, "iris-b")
    open_as(page, live_server, owner)
    page.goto(f"{live_server.url}/w/churn/experiments/exp1/compare/?run=iris-a&run=iris-b")
    expect(page.locator("#compare thead")).to_contain_text("iris logistic regression (iris-a)")
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.chart')).every(el => el.dataset.loads)"
    )
    charts = drawn(page)
    assert [c["key"] for c in charts] == [f"m{i:02d}" for i in range(11)] + [
        "system/cpu_percent",
        "system/memory_bytes",
    ]
    # every chart drew both runs, below the fold too (a full-page screenshot shows them all)
    assert all(c["svg"] == 2 for c in charts), charts
    for c in charts:
        assert c["names"] == [
            "iris logistic regression (iris-a)",
            "iris logistic regression (iris-b)",
        ]
    cpu, memory = charts[-2:]
    assert cpu["xtitle"] == memory["xtitle"] == "seconds since the job started"
    assert cpu["x"][0] == [str(i * 5) for i in range(10)]
    assert memory["ytitle"] == "MiB"
    assert charts[0]["xtitle"] == "step"
    page.locator("#system-heading").scroll_into_view_if_needed()
    expect(page.locator("#system-heading")).to_have_text("System")


def test_the_metrics_tab_keeps_system_series_on_time_whatever_x_the_user_picks(
    page, live_server, owner, workspace
):
    iris_run(workspace, "iris-a", n_user=2)
    open_as(page, live_server, owner)
    page.goto(f"{live_server.url}/w/churn/jobs/iris-a/?tab=metrics")
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.chart')).every(el => el.dataset.loads)"
    )
    page.select_option("#chart-x", "time")
    charts = drawn(page)
    assert [c["key"] for c in charts] == ["m00", "m01", "system/cpu_percent", "system/memory_bytes"]
    assert charts[0]["xtitle"] == "time"
    assert charts[2]["xtitle"] == "seconds since the job started"
    assert charts[3]["x"][0][:3] == ["0", "5", "10"]
    assert charts[0]["names"] == ["iris logistic regression"]  # one run: its display name


def test_a_running_jobs_first_system_sample_opens_the_system_section(
    page, live_server, owner, workspace
):
    job = make_run(workspace, name="live", status="Running", metrics={"loss": [1.0, 0.5]})
    open_as(page, live_server, owner)
    page.goto(f"{live_server.url}/w/churn/jobs/live/?tab=metrics")
    page.wait_for_function("() => document.querySelector('.chart').dataset.loads")
    assert page.locator("#system-heading").count() == 0
    tracking.run_log(
        actor=owner,
        workspace=workspace,
        run_id=job.pk,
        metrics=[tracking.MetricIn("system/memory_bytes", 2.5 * 2**30, T0 + 3000, 0)],
    )
    chart = page.locator('#system-charts .chart[data-key="system/memory_bytes"]')
    expect(chart).to_have_attribute("data-loads", "1")  # the poller (every 2s) added it
    expect(page.locator("#system-heading")).to_have_text("System")
    memory = drawn(page)[-1]
    assert memory["ytitle"] == "GiB" and memory["x"][0] == ["3"]


def test_a_value_logged_once_shows_in_the_table_and_turns_into_a_chart_when_logged_again(
    page, live_server, owner, workspace
):
    job = make_run(
        workspace, name="live", status="Running",
        metrics={"loss": [1.0, 0.5], "test_accuracy": [0.9333333]},
    )  # fmt: skip
    open_as(page, live_server, owner)
    page.goto(f"{live_server.url}/w/churn/jobs/live/?tab=metrics")
    row = page.locator('#metric-values tr[data-metric="test_accuracy"]')
    expect(row).to_contain_text("0.933333")
    page.wait_for_function("() => document.querySelector('.chart').dataset.loads")
    assert page.locator(".chart").evaluate_all("els => els.map(e => e.dataset.key)") == ["loss"]
    tracking.run_log(
        actor=owner, workspace=workspace, run_id=job.pk,
        metrics=[tracking.MetricIn("test_accuracy", 0.95, T0 + 3000, 1)],
    )  # fmt: skip
    chart = page.locator('#charts .chart[data-key="test_accuracy"]')
    expect(chart).to_have_attribute("data-loads", "1")  # the poller (every 2s) added it
    expect(page.locator("#metric-values")).to_have_count(0)


def test_a_series_whose_request_drops_once_is_asked_again_and_drawn(
    page, live_server, owner, workspace
):
    """A connection that drops (or a 5xx) on a chart's first request is retried, so the
    chart is not left blank; a 404 is final."""
    make_run(workspace, name="flaky", metrics={"loss": [1.0, 0.5, 0.25]})
    dropped = []

    def drop_first(route):
        if not dropped:
            dropped.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/metrics/loss/**", drop_first)
    open_as(page, live_server, owner)
    page.goto(f"{live_server.url}/w/churn/jobs/flaky/?tab=metrics")
    page.wait_for_function("() => document.querySelector('.chart').dataset.loads")
    assert len(dropped) == 1
    [chart] = drawn(page)
    assert chart["x"] == [["0", "1", "2"]] and chart["svg"] == 1
