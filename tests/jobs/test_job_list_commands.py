"""The job lists' commands and the job page's readability: "+ New job" where the role may
run jobs (the submit page had no way in), "Archived only" to find and restore archived jobs,
durations as "2 h 4 min" rather than seconds, status badges coloured wherever a job's or a
build's status shows, and a failed job's log tail kept as lines."""

from __future__ import annotations

import pytest

from apps.jobs.models import Experiment, Job
from apps.workspaces.templatetags.studio_tags import state_class
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
NEW = '<a class="button primary" href="/w/churn/jobs/-/new/">+ New job</a>'


def _job(workspace, name, type_=Job.Type.RUN, **fields) -> Job:
    """A job of `workspace`: an MLflow run, or a command job with `type_=None`."""
    experiment, _ = Experiment.objects.get_or_create(workspace=workspace, name="exp")
    return Job.objects.create(
        workspace=workspace, experiment=experiment, name=name,
        type=type_ or Job.Type.COMMAND, **fields,
    )  # fmt: skip


def test_new_job_is_offered_to_roles_that_run_jobs_only(owner, reader, workspace):
    for page in ("/w/churn/jobs/", "/w/churn/experiments/"):
        assert NEW in client_for(owner).get(page).content.decode()
        assert "/jobs/-/new/" not in client_for(reader).get(page).content.decode()
    empty = client_for(owner).get("/w/churn/jobs/").content.decode()
    assert 'href="/w/churn/jobs/-/new/">Submit one here</a>' in empty
    assert client_for(owner).get("/w/churn/jobs/-/new/").status_code == 200


def test_archived_jobs_are_found_with_archived_only_and_the_filter_keeps_it(owner, workspace):
    _job(workspace, "kept_job", status=Job.Status.COMPLETED)
    _job(workspace, "old_job", status=Job.Status.FAILED, archived=True)
    listed = client_for(owner).get("/w/churn/jobs/").content.decode()
    assert 'data-job="kept_job"' in listed and 'data-job="old_job"' not in listed
    assert 'id="job-archived" name="archived" value="1">' in listed
    archived = (
        client_for(owner).get("/w/churn/jobs/?archived=1", HTTP_HX_REQUEST="true").content.decode()
    )
    assert 'data-job="old_job"' in archived and 'data-job="kept_job"' not in archived
    assert "&amp;archived=1&amp;order_by=name" in archived  # a sort keeps the view
    none = client_for(owner).get("/w/churn/jobs/?archived=1&q=zzz").content.decode()
    assert "No job matches these filters." in none


def test_durations_read_as_hours_and_minutes_and_badges_have_colour(owner, workspace):
    start = 1_700_000_000_000
    job = _job(
        workspace, "long_job", status=Job.Status.FAILED, start_time_ms=start,
        end_time_ms=start + 7384_200, error="failed: exit code 1\nTraceback\nValueError: x",
    )  # fmt: skip
    listed = client_for(owner).get("/w/churn/jobs/").content.decode()
    assert '<td class="num">2 h 3 min</td>' in listed and "7384.2 s" not in listed
    page = client_for(owner).get(f"/w/churn/jobs/{job.name}/").content.decode()
    assert "<dt>Duration</dt><dd>2 h 3 min</dd>" in page
    assert '<p class="error job-error" role="alert">failed: exit code 1\nTraceback\n' in page
    assert state_class("Completed") == state_class("Succeeded") == "state-succeeded"
    assert state_class("Failed") == "state-failed" and state_class("Queued") == "state-starting"
    assert state_class("Whatever") == ""


def test_ticked_jobs_are_canceled_archived_and_restored_in_bulk(owner, workspace):
    for name in ("a_job", "b_job"):
        _job(workspace, name, status=Job.Status.QUEUED, type_=None)
    _job(workspace, "done_job", status=Job.Status.COMPLETED, type_=None)
    client = client_for(owner)
    listed = client.get("/w/churn/jobs/?q=job").content.decode()
    assert 'form="job-bulk" aria-label="Select a_job"' in listed
    assert '<input type="hidden" name="next" value="/w/churn/jobs/?q=job">' in listed
    back = "/w/churn/jobs/?q=job"
    answer = client.post(
        "/w/churn/jobs/-/bulk/",
        {"action": "cancel", "job": ["a_job", "b_job", "done_job"], "next": back},
        follow=True,
    )
    assert answer.redirect_chain == [(back, 302)]
    statuses = dict(Job.objects.values_list("name", "status"))
    assert statuses == {"a_job": "Canceled", "b_job": "Canceled", "done_job": "Completed"}
    page = answer.content.decode()
    assert "Cancel requested for a_job, b_job." in page
    assert "Not done: done_job (Job &#x27;done_job&#x27; has already ended (Completed).)" in page

    client.post("/w/churn/jobs/-/bulk/", {"action": "archive", "job": ["a_job", "done_job"]})
    assert set(Job.objects.filter(archived=True).values_list("name", flat=True)) == {
        "a_job", "done_job",
    }  # fmt: skip
    archived = client.get("/w/churn/jobs/?archived=1").content.decode()
    assert 'value="restore"' in archived and 'value="archive"' not in archived
    client.post("/w/churn/jobs/-/bulk/", {"action": "restore", "job": ["a_job"]})
    assert list(Job.objects.filter(archived=True).values_list("name", flat=True)) == ["done_job"]


def test_bulk_actions_refuse_a_reader_and_a_stranger_and_odd_requests(
    owner, reader, outsider, workspace
):
    _job(workspace, "a_job", status=Job.Status.QUEUED, type_=None)
    for action in ("cancel", "archive"):
        denied = client_for(reader).post(
            "/w/churn/jobs/-/bulk/", {"action": action, "job": "a_job"}
        )
        assert denied.status_code == 403
    assert (
        client_for(outsider).post("/w/churn/jobs/-/bulk/", {"action": "cancel"}).status_code == 404
    )
    job = Job.objects.get(name="a_job")
    assert job.status == Job.Status.QUEUED and not job.archived
    reader_page = client_for(reader).get("/w/churn/jobs/").content.decode()
    assert 'disabled title="Your role (Reader) cannot cancel jobs">Cancel selected' in reader_page
    client = client_for(owner)
    odd = client.post(
        "/w/churn/jobs/-/bulk/",
        {"action": "delete", "job": "a_job", "next": "https://evil.example/"},
    )
    assert odd.status_code == 302 and odd["Location"] == "/w/churn/jobs/"
    none = client.post("/w/churn/jobs/-/bulk/", {"action": "cancel"}, follow=True)
    assert "Tick the jobs first." in none.content.decode()
    many = client.post(
        "/w/churn/jobs/-/bulk/",
        {"action": "cancel", "job": [f"j{i}" for i in range(201)]},
        follow=True,
    )
    assert "At most 200 jobs at once." in many.content.decode()
    assert Job.objects.get(name="a_job").status == Job.Status.QUEUED


def test_the_experiments_list_sorts_by_a_click_on_a_header(owner, workspace):
    import datetime as dt

    from django.utils import timezone

    now = timezone.now()
    for name, runs, ago in (("beta", 3, 50), ("alpha", 1, 10), ("gamma", 0, None)):
        experiment = Experiment.objects.create(workspace=workspace, name=name)
        for i in range(runs):
            Job.objects.create(
                workspace=workspace, experiment=experiment, name=f"{name}-{i}",
                type=Job.Type.RUN, created_at=now - dt.timedelta(minutes=ago + i),
            )  # fmt: skip
    client = client_for(owner)

    def order(query: str) -> list[str]:
        page = client.get(f"/w/churn/experiments/{query}").content.decode()
        return sorted(
            ("alpha", "beta", "gamma"), key=lambda n: page.index(f'data-experiment="{n}"')
        )

    assert order("") == ["alpha", "beta", "gamma"]  # latest run first, none last
    assert order("?sort=name") == ["alpha", "beta", "gamma"]
    assert order("?sort=-name") == ["gamma", "beta", "alpha"]
    assert order("?sort=-runs") == ["beta", "alpha", "gamma"]
    assert order("?sort=last") == ["beta", "alpha", "gamma"]  # oldest run first, none last
    assert order("?sort=bogus") == ["alpha", "beta", "gamma"]
    page = client.get("/w/churn/experiments/?sort=-runs").content.decode()
    assert (
        'aria-sort="descending"><a class="sort" href="?q=&amp;sort=runs" data-sort="runs">' in page
    )
    assert 'href="?q=&amp;sort=-last" data-sort="last"' in page  # newest first on a first click
    assert 'href="?q=&amp;sort=name" data-sort="name"' in page
