"""A job's status follows the job in Chromium without a reload by the user: the Overview's
badge and timeline change while it runs, and the page reloads itself once when it ends (its
error shows); the Metrics tab's badge changes with its poller."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.jobs.models import Job, JobStatusChange
from tests.matrix.jobs_runs import make_run

from .test_metric_charts import open_as

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def move(job, status: str, **fields) -> None:
    Job.objects.filter(pk=job.pk).update(status=status, **fields)
    JobStatusChange.objects.create(job=job, status=status)


def test_the_overview_follows_the_status_and_reloads_when_the_job_ends(
    page, live_server, owner, workspace
):
    job = make_run(workspace, name="live", status="Queued", metrics={"loss": [1.0]})
    open_as(page, live_server, owner)
    page.goto(f"{live_server.url}/w/churn/jobs/live/")
    expect(page.locator("#job-status .badge")).to_have_text("Queued")
    page.evaluate("window.__same_page = true")
    move(job, "Running")
    expect(page.locator("#job-status .badge")).to_have_text("Running", timeout=10_000)
    expect(page.locator("#timeline li").last).to_contain_text("Running")
    assert page.evaluate("window.__same_page === true")  # swapped in, not reloaded
    move(job, "Failed", error="failed: exit code 3\nValueError: bad")
    expect(page.locator("#job-status .badge")).to_have_text("Failed", timeout=10_000)
    expect(page.locator(".job-error")).to_contain_text("ValueError: bad")
    assert page.evaluate("window.__same_page === undefined")  # the page reloaded itself
    assert page.locator("#status-poller").count() == 0


def test_the_metrics_tab_badge_follows_the_status(page, live_server, owner, workspace):
    job = make_run(workspace, name="live", status="Running", metrics={"loss": [1.0, 0.5]})
    open_as(page, live_server, owner)
    page.goto(f"{live_server.url}/w/churn/jobs/live/?tab=metrics")
    expect(page.locator("#job-status .badge")).to_have_text("Running")
    move(job, "Completed")
    expect(page.locator("#job-status .badge")).to_have_text("Completed", timeout=10_000)
    expect(page.locator("#job-status .badge")).to_have_class("badge state-succeeded")
