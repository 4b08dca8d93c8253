"""What the Metrics tab and Compare send the charts: the runner's system/* series after the
user's metrics (under "System") with the job's start time, so they are drawn against time
since the job started; runs that share a display name are told apart by their job name."""

from __future__ import annotations

import html
import json
import re

import pytest

from apps.jobs.models import Job
from apps.jobs.services import tracking
from tests.conftest import client_for
from tests.matrix.jobs_runs import make_run

HX = {"HTTP_HX_REQUEST": "true"}

pytestmark = pytest.mark.django_db
T0 = 1_700_000_000_000


def with_system(job):
    tracking.run_log(
        actor=job.workspace.created_by,
        workspace=job.workspace,
        run_id=job.pk,
        metrics=[tracking.MetricIn("system/memory_bytes", 3e8, T0 + i * 5000, 0) for i in range(3)]
        + [tracking.MetricIn("system/cpu_percent", 50.0, T0 + i * 5000, 0) for i in range(3)],
    )
    return job


def chart_series(page: str) -> dict[str, list[dict]]:
    found = re.findall(r'class="chart" data-key="([^"]+)" data-series="([^"]+)"', page)
    return {key: json.loads(html.unescape(series)) for key, series in found}


def test_the_metrics_tab_lists_system_charts_after_the_users_under_system(owner, workspace):
    with_system(make_run(workspace, name="r1", metrics={"zeta": [1.0, 2.0], "acc": [0.5, 0.6]}))
    page = client_for(owner).get("/w/churn/jobs/r1/?tab=metrics").content.decode()
    keys = re.findall(r'class="chart" data-key="([^"]+)"', page)
    assert keys == ["acc", "zeta", "system/cpu_percent", "system/memory_bytes"]
    assert (
        page.index('data-key="zeta"')
        < page.index('id="system-heading"')
        < page.index('data-key="system/cpu_percent"')
    )
    assert f'data-start="{T0}"' in page  # relative time is since the job started


def test_a_metric_logged_once_is_a_row_of_the_values_table_not_a_chart(owner, workspace):
    make_run(workspace, name="r1", metrics={"loss": [0.9, 0.5, 0.3], "test_accuracy": [0.9333333]})
    page = client_for(owner).get("/w/churn/jobs/r1/?tab=metrics").content.decode()
    assert re.findall(r'class="chart" data-key="([^"]+)"', page) == ["loss"]
    table = page[
        page.index('id="metric-values"') : page.index("</table>", page.index('id="metric-values"'))
    ]
    assert 'data-metric="test_accuracy"' in table and ">0.933333<" in table
    assert 'data-metric="loss"' not in table
    assert page.index('id="metric-values"') < page.index('id="charts"')  # values first
    assert 'id="no-metrics"' not in page


def test_a_value_becomes_a_chart_when_it_is_logged_again(owner, workspace):
    job = make_run(workspace, name="live", status="Running", metrics={"acc": [0.1]})
    client = client_for(owner)
    poller = client.get("/w/churn/jobs/live/metrics/", **HX).content.decode()
    assert 'data-keys=""' in poller and 'data-metric="acc"' in poller
    assert 'data-values="1"' in poller  # the page drops its "no metrics" line
    tracking.run_log(
        actor=owner, workspace=workspace, run_id=job.pk,
        metrics=[tracking.MetricIn("acc", 0.2, T0, 1)],
    )  # fmt: skip
    poller = client.get("/w/churn/jobs/live/metrics/", **HX).content.decode()
    assert 'data-keys="acc"' in poller and 'id="metric-values"' not in poller


def test_only_values_show_no_empty_message(owner, workspace):
    make_run(workspace, name="r1", metrics={"f1": [0.7]})
    page = client_for(owner).get("/w/churn/jobs/r1/?tab=metrics").content.decode()
    assert 'id="no-metrics"' not in page and 'data-metric="f1"' in page


def test_a_job_with_only_system_metrics_shows_no_empty_message(owner, workspace):
    with_system(make_run(workspace, name="r1"))
    page = client_for(owner).get("/w/churn/jobs/r1/?tab=metrics").content.decode()
    assert 'id="no-metrics"' not in page and 'id="system-charts"' in page


def test_compare_tells_runs_with_one_display_name_apart(owner, workspace):
    for name in ("iris-a", "iris-b"):
        with_system(make_run(workspace, name=name, metrics={"acc": [0.5]}))
    Job.objects.filter(name__in=["iris-a", "iris-b"]).update(display_name="iris")
    make_run(workspace, name="other", metrics={"acc": [0.7]})
    page = (
        client_for(owner)
        .get("/w/churn/experiments/exp1/compare/?run=iris-a&run=iris-b&run=other")
        .content.decode()
    )
    head = page[page.index("<thead>") : page.index("</thead>")]
    assert ">iris (iris-a)<" in head and ">iris (iris-b)<" in head and ">other<" in head
    charts = chart_series(page)
    assert list(charts) == ["acc", "system/cpu_percent", "system/memory_bytes"]
    names = [s["name"] for s in charts["acc"]]
    assert names == ["iris (iris-a)", "iris (iris-b)", "other"]
    assert [s["start"] for s in charts["system/cpu_percent"]] == [T0, T0, T0]
    assert charts["system/cpu_percent"][0]["url"].endswith(
        "/jobs/iris-a/metrics/system/cpu_percent/"
    )
    assert page.index('id="system-heading"') > page.index('data-key="acc"')


def test_compare_shows_a_unique_display_name_alone(owner, workspace):
    make_run(workspace, name="r1", metrics={"acc": [0.5]})
    make_run(workspace, name="r2", metrics={"acc": [0.6]})
    page = client_for(owner).get("/w/churn/experiments/exp1/compare/?run=r1&run=r2")
    charts = chart_series(page.content.decode())
    assert [s["name"] for s in charts["acc"]] == ["r1", "r2"]
    assert 'id="system-heading"' not in page.content.decode()
