"""Sorting the job lists (Assets > Jobs, Pipelines > Pipeline jobs) by a click on a column
header (display name, status, experiment, created, duration, either way), as a fragment with
the URL pushed, kept across pages by a cursor that carries the sort; the jobs API's
`?order_by=` on the same selector."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.jobs.models import Experiment, Job
from tests.conftest import api_client_for, client_for

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}
JOBS = "/w/churn/jobs/"
PIPELINES = "/w/churn/pipelines/"
API = "/api/v1/workspaces/churn/jobs/"


def jobs(workspace, specs, *, job_type=Job.Type.RUN) -> list[Job]:
    """Top-level jobs from (name, display name, status, experiment, seconds ago, duration s)."""
    now = timezone.now()
    made = []
    for name, display, status, exp, ago, duration in specs:
        experiment, _ = Experiment.objects.get_or_create(workspace=workspace, name=exp)
        start = int((now - dt.timedelta(seconds=ago)).timestamp() * 1000)
        made.append(
            Job(
                workspace=workspace, experiment=experiment, name=name, display_name=display,
                type=job_type, status=status, created_at=now - dt.timedelta(seconds=ago),
                start_time_ms=start if duration is not None else None,
                end_time_ms=start + duration * 1000 if duration is not None else None,
            )
        )  # fmt: skip
    return Job.objects.bulk_create(made)


SPECS = [
    ("j1", "charlie", "Completed", "zeta", 30, 5),
    ("j2", "alpha", "Failed", "beta", 20, 50),
    ("j3", "bravo", "Running", "alpha", 10, None),
]


def order(html: str) -> list[str]:
    return re.findall(r'<tr data-job="([^"]+)"', html)


@pytest.mark.parametrize(
    "order_by, expected",
    [
        ("", ["j3", "j2", "j1"]),
        ("-created", ["j3", "j2", "j1"]),
        ("created", ["j1", "j2", "j3"]),
        ("name", ["j2", "j3", "j1"]),
        ("-name", ["j1", "j3", "j2"]),
        ("status", ["j1", "j2", "j3"]),
        ("-status", ["j3", "j2", "j1"]),
        ("experiment", ["j3", "j2", "j1"]),
        ("-experiment", ["j1", "j2", "j3"]),
        ("duration", ["j1", "j2", "j3"]),  # a job that has not ended comes last either way
        ("-duration", ["j2", "j1", "j3"]),
    ],
)
def test_the_page_the_fragment_and_the_api_sort_by_order_by(owner, workspace, order_by, expected):
    jobs(workspace, SPECS)
    client = client_for(owner)
    page = client.get(JOBS, {"order_by": order_by}).content.decode()
    assert "<html" in page and order(page) == expected
    fragment = client.get(JOBS, {"order_by": order_by}, **HX).content.decode()
    assert "<html" not in fragment and order(fragment) == expected
    body = api_client_for(owner).get(API, {"order_by": order_by}).json()
    assert [j["name"] for j in body["results"]] == expected


def test_headers_toggle_the_order_with_an_arrow_aria_sort_and_a_pushed_url(owner, workspace):
    jobs(workspace, SPECS)
    html = client_for(owner).get(JOBS, {"order_by": "name", "q": "a"}, **HX).content.decode()
    name = re.search(r'<th scope="col" aria-sort="ascending"><a class="sort"[^>]*>', html)
    assert name and 'data-sort="name"' in name.group(0)
    assert 'hx-get="/w/churn/jobs/?q=a&amp;status=&amp;order_by=-name"' in name.group(0)
    assert 'hx-push-url="true"' in name.group(0) and 'hx-target="#job-rows"' in name.group(0)
    assert 'Display name <span aria-hidden="true">▲</span>' in html
    assert html.count("aria-sort=") == 1  # only the current column
    # another column asks for its ascending order first; the filter form keeps the order
    assert 'hx-get="/w/churn/jobs/?q=a&amp;status=&amp;order_by=status"' in html
    assert '<input type="hidden" name="order_by" value="name" form="job-filter">' in html
    desc = client_for(owner).get(JOBS, {"order_by": "-name"}).content.decode()
    assert 'aria-sort="descending"' in desc and "▼" in desc
    assert 'order_by=name"' in desc  # a second click goes back to ascending


def test_the_pipelines_page_sorts_its_rows_the_same_way(owner, workspace):
    jobs(workspace, SPECS, job_type=Job.Type.PIPELINE)
    html = client_for(owner).get(PIPELINES, {"order_by": "name"}, **HX).content.decode()
    assert order(html) == ["j2", "j3", "j1"]
    assert 'hx-get="/w/churn/pipelines/?q=&amp;status=&amp;order_by=-name"' in html


@pytest.mark.parametrize("order_by", ["name", "-name", "status", "-experiment", "duration"])
def test_pages_of_equal_keys_follow_the_cursor_without_skips_or_repeats(owner, workspace, order_by):
    """25 jobs sharing a name, a status, an experiment and a duration, and 5 with a
    duration missing: three pages of 12 each read every job once."""
    from apps.jobs import selectors

    specs = [(f"e{i:02d}", "same", "Completed", "exp", 0, 7) for i in range(25)]
    specs += [(f"n{i:02d}", "same", "Completed", "exp", 0, None) for i in range(5)]
    jobs(workspace, specs)
    seen, cursor, pages = [], "", 0
    while True:
        rows, cursor = selectors.job_list_page(
            actor=owner, workspace=workspace, order_by=order_by, cursor=cursor or "", size=12
        )
        seen += [r.name for r in rows]
        pages += 1
        if not cursor:
            break
    assert pages == 3 and len(seen) == 30 and len(set(seen)) == 30


def test_the_page_link_to_the_next_page_keeps_the_order(owner, workspace):
    from apps.jobs.views.runs import PAGE

    specs = [(f"j{i:03d}", f"n{i % 3}", "Completed", "exp", 0, 1) for i in range(PAGE + 4)]
    jobs(workspace, specs)
    client = client_for(owner)
    first = client.get(JOBS, {"order_by": "-name"})
    cursor = first.context["next_cursor"]
    assert f"order_by=-name&amp;cursor={cursor}" in first.content.decode()
    assert "Next page →" in first.content.decode()
    second = client.get(JOBS, {"order_by": "-name", "cursor": cursor})
    names = order(first.content.decode()) + order(second.content.decode())
    assert len(names) == PAGE + 4 == len(set(names))
    displays = [Job.objects.get(name=n).display_name for n in names]
    assert displays == sorted(displays, reverse=True)


def test_the_api_pages_by_next_in_the_asked_order(owner, workspace):
    jobs(workspace, [(f"j{i:02d}", f"d{i % 4}", "Completed", "exp", i, 1) for i in range(10)])
    api = api_client_for(owner)
    body = api.get(API, {"order_by": "name", "page_size": 4}).json()
    names = [j["name"] for j in body["results"]]
    while body["next"]:
        assert "order_by=name" in body["next"]
        body = api.get(body["next"]).json()
        names += [j["name"] for j in body["results"]]
    assert len(names) == 10 == len(set(names))
    displays = [Job.objects.get(name=n).display_name for n in names]
    assert displays == sorted(displays)


@pytest.mark.parametrize("bad", ["size", "--name", "metrics.loss", "name;drop"])
def test_an_unknown_order_is_a_400_naming_order_by(owner, workspace, bad):
    jobs(workspace, SPECS)
    api = api_client_for(owner).get(API, {"order_by": bad})
    assert api.status_code == 400 and "order_by" in api.content.decode()
    for url in (JOBS, PIPELINES):
        page = client_for(owner).get(url, {"order_by": bad}, **HX)
        assert page.status_code == 400 and "order_by" in page.content.decode()


def test_a_cursor_of_another_order_is_a_400_naming_the_cursor(owner, workspace):
    from apps.jobs import selectors

    jobs(workspace, [(f"j{i}", "same", "Completed", "exp", 0, 1) for i in range(5)])
    _, cursor = selectors.job_list_page(actor=owner, workspace=workspace, order_by="name", size=2)
    response = client_for(owner).get(JOBS, {"order_by": "status", "cursor": cursor}, **HX)
    assert response.status_code == 400 and "cursor" in response.content.decode()
    api = api_client_for(owner).get(API, {"order_by": "status", "cursor": cursor})
    assert api.status_code == 400 and "cursor" in api.content.decode()


def test_the_api_schema_offers_order_by(owner):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    params = schema["paths"]["/api/v1/workspaces/{workspace_name}/jobs/"]["get"]["parameters"]
    order_by = next(p for p in params if p["name"] == "order_by")
    assert {"created", "-created", "name", "status", "duration"} <= set(order_by["schema"]["enum"])


@pytest.mark.parametrize("order_by", ["name", "-experiment", "duration", "-created"])
def test_a_sorted_page_costs_the_same_queries_for_3_or_60_jobs(
    owner, workspace, order_by, django_assert_num_queries
):
    client = client_for(owner)
    jobs(workspace, SPECS)
    client.get(JOBS)  # warm the session
    connection.queries_log.clear()  # a full log (9,000 queries) would make the count 0
    with CaptureQueriesContext(connection) as few:
        client.get(JOBS, {"order_by": order_by})
    count = len(few)  # read now: the log is sliced lazily
    jobs(workspace, [(f"m{i}", f"d{i}", "Completed", f"x{i % 5}", i, i) for i in range(57)])
    first = client.get(JOBS, {"order_by": order_by})
    connection.queries_log.clear()
    assert count > 0
    with django_assert_num_queries(count):
        client.get(JOBS, {"order_by": order_by, "cursor": first.context["next_cursor"]})
