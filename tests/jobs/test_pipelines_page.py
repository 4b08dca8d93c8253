"""Assets > Pipelines: the workspace's pipeline jobs (newest first, by cursor, filtered, each
linking to its run page) and the Designer's drafts, as two tabs; the jobs API's `type`
filter and `studio job list --type pipeline` that read the same list."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from apps.designer import drafts
from apps.jobs.models import Job
from apps.jobs.services import tracking
from apps.jobs.views.runs import PAGE
from tests.cli.conftest import studio, token_of  # noqa: F401 - the CLI fixtures
from tests.conftest import api_client_for, client_for
from tests.matrix.jobs_pipelines import make_pipeline
from tests.matrix.jobs_runs import make_run

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}
PIPELINES = "/w/churn/pipelines/"
DRAFTS = "/w/churn/pipelines/drafts/"
API = "/api/v1/workspaces/churn/jobs/"


def bare_pipelines(workspace, count: int, *, at=None) -> list[Job]:
    """`count` pipeline jobs without steps, all created at the same instant by default (the
    worst case for a cursor on the creation time)."""
    experiment = tracking.experiment_default(workspace=workspace)
    at = at or timezone.now()
    return Job.objects.bulk_create(
        Job(
            workspace=workspace, experiment=experiment, name=f"p{i:03d}",
            type=Job.Type.PIPELINE, status=Job.Status.COMPLETED, created_at=at,
        )
        for i in range(count)
    )  # fmt: skip


# The Pipeline jobs tab ---------------------------------------------------------------------


def test_the_page_lists_only_top_level_pipeline_jobs_with_steps_and_links_to_their_runs(
    owner, workspace
):
    make_pipeline(workspace, "train-pipe", steps=3, owner=owner)
    make_run(workspace, name="plain-run")
    html = client_for(owner).get(PIPELINES).content.decode()
    assert "<html" in html and "<h1>Pipelines</h1>" in html
    assert 'data-job="train-pipe"' in html
    assert 'href="/w/churn/jobs/train-pipe/pipeline/"' in html
    assert 'data-job="plain-run"' not in html  # not a pipeline
    assert 'data-job="train-pipe-s000"' not in html  # a step, not a top-level job
    assert '<td class="num">3</td>' in html  # its step count
    assert 'data-status="Running"' in html and "Default" in html  # badge, experiment
    assert owner.username in html


def test_the_newest_pipeline_comes_first(owner, workspace):
    older = make_pipeline(workspace, "older", owner=owner)
    Job.objects.filter(pk=older.pk).update(created_at=timezone.now() - dt.timedelta(days=1))
    make_pipeline(workspace, "newer", owner=owner)
    html = client_for(owner).get(PIPELINES).content.decode()
    assert html.index('data-job="newer"') < html.index('data-job="older"')


def test_the_nav_has_pipelines_under_assets_and_marks_it_on_the_page(owner, workspace):
    html = client_for(owner).get(PIPELINES).content.decode()
    assert 'href="/w/churn/pipelines/" class="active">Pipelines</a>' in html
    assert (
        html.index(">Components</a>")
        < html.index(">Pipelines</a>")
        < html.index(">Environments</a>")
    )


def test_a_filter_answers_only_the_table_as_a_fragment(owner, workspace):
    make_pipeline(workspace, "alpha", owner=owner)
    make_pipeline(workspace, "beta", owner=owner)
    client = client_for(owner)
    fragment = client.get(PIPELINES, {"q": "alp"}, **HX)
    html = fragment.content.decode()
    assert "<html" not in html and html.lstrip().startswith('<div id="job-rows">')
    assert 'data-job="alpha"' in html and 'data-job="beta"' not in html
    assert "HX-Request" in fragment["Vary"]
    by_status = client.get(PIPELINES, {"status": "Completed"}, **HX).content.decode()
    assert "data-job=" not in by_status and "No pipeline job matches" in by_status


def test_pages_follow_the_cursor_without_skipping_jobs_created_in_the_same_instant(
    owner, workspace
):
    bare_pipelines(workspace, PAGE + 3)
    client = client_for(owner)
    first = client.get(PIPELINES)
    names = {r.name for r in first.context["rows"]}
    cursor = first.context["next_cursor"]
    assert len(names) == PAGE and cursor and "cursor=" in first.content.decode()
    second = client.get(PIPELINES, {"cursor": cursor})
    more = {r.name for r in second.context["rows"]}
    assert len(more) == 3 and not names & more and second.context["next_cursor"] == ""


def test_a_bad_cursor_is_a_400_not_a_500(owner, workspace):
    assert client_for(owner).get(PIPELINES, {"cursor": "nonsense"}).status_code == 400


def test_the_list_costs_the_same_queries_for_3_or_40_pipelines(
    owner, workspace, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(owner)
    make_pipeline(workspace, "a", steps=3, owner=owner)
    client.get(PIPELINES)  # warm the session
    with CaptureQueriesContext(connection) as few:
        client.get(PIPELINES)
    for i in range(39):
        make_pipeline(workspace, f"b{i}", steps=2, owner=owner)
    with django_assert_num_queries(len(few)):
        client.get(PIPELINES)


def test_with_no_pipelines_the_page_says_to_use_the_designer_or_the_cli(owner, workspace):
    html = client_for(owner).get(PIPELINES).content.decode()
    assert "No pipeline jobs yet" in html
    assert '<a href="/w/churn/designer/">Designer</a>' in html
    assert "studio job create --file pipeline.yml" in html


# The Pipeline drafts tab -------------------------------------------------------------------


def test_the_drafts_tab_lists_the_designers_drafts_linking_to_them(owner, workspace):
    draft = drafts.draft_create(actor=owner, workspace=workspace, name="churn-draft")
    html = client_for(owner).get(DRAFTS).content.decode()
    assert "<html" in html and ">Pipeline drafts</a>" in html
    assert f'href="/w/churn/designer/{draft.pk}/"' in html
    assert 'data-draft="churn-draft"' in html


def test_the_drafts_filter_answers_a_fragment(owner, workspace):
    drafts.draft_create(actor=owner, workspace=workspace, name="keep-me")
    drafts.draft_create(actor=owner, workspace=workspace, name="other")
    html = client_for(owner).get(DRAFTS, {"q": "keep"}, **HX).content.decode()
    assert "<html" not in html and 'id="drafts"' in html
    assert 'data-draft="keep-me"' in html and 'data-draft="other"' not in html


def test_with_no_drafts_the_tab_links_to_the_designer(owner, workspace):
    html = client_for(owner).get(DRAFTS).content.decode()
    assert "No pipeline drafts yet" in html
    assert '<a href="/w/churn/designer/">Designer</a>' in html


# Who sees it -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [PIPELINES, DRAFTS])
def test_a_non_member_gets_404(outsider, workspace, path):
    assert client_for(outsider).get(path).status_code == 404


def test_a_reader_sees_pipelines_and_the_nav_entry_but_a_greyed_new_button(
    reader, owner, workspace
):
    make_pipeline(workspace, "for-reader", owner=owner)
    response = client_for(reader).get(PIPELINES)
    html = response.content.decode()
    assert response.status_code == 200 and 'data-job="for-reader"' in html
    assert ">Pipelines</a>" in html
    assert '<button class="primary" disabled' in html and "+ New pipeline" in html
    assert client_for(reader).get(DRAFTS).status_code == 200


def test_a_compute_operator_has_no_pipelines_entry(compute_operator, workspace):
    html = client_for(compute_operator).get("/w/churn/").content.decode()
    assert "/w/churn/pipelines/" not in html


# API and CLI -------------------------------------------------------------------------------


def test_the_api_filters_jobs_by_type(api, owner, workspace):
    make_pipeline(workspace, "api-pipe", owner=owner)
    make_run(workspace, name="api-run")
    names = [r["name"] for r in api.get(API, {"type": "pipeline"}).json()["results"]]
    assert names == ["api-pipe"]
    assert [r["name"] for r in api.get(API, {"type": "run"}).json()["results"]] == ["api-run"]


def test_the_api_refuses_an_unknown_type_naming_the_field(api, workspace):
    answer = api.get(API, {"type": "notebook"})
    assert answer.status_code == 400
    body = answer.json()
    assert "type" in body["message"] and "pipeline" in body["message"]
    assert list(body["fields"]) == ["type"]


def test_the_openapi_schema_documents_the_type_filter(api):
    schema = api.get("/api/v1/schema/?format=json").json()
    params = schema["paths"]["/api/v1/workspaces/{workspace_name}/jobs/"]["get"]["parameters"]
    (param,) = [p for p in params if p["name"] == "type"]
    assert "pipeline" in param["schema"]["enum"]


def test_a_reader_lists_pipelines_through_the_api(reader, owner, workspace):
    make_pipeline(workspace, "api-reader", owner=owner)
    answer = api_client_for(reader).get(API, {"type": "pipeline"})
    assert answer.status_code == 200 and answer.json()["results"][0]["name"] == "api-reader"


@pytest.mark.django_db(transaction=True)
def test_the_cli_lists_only_pipeline_jobs_with_type_pipeline(studio, owner, workspace):  # noqa: F811
    make_pipeline(workspace, "cli-pipe", owner=owner)
    make_run(workspace, name="cli-run")
    result = studio("job", "list", "-w", "churn", "--type", "pipeline", user=owner)
    assert result.exit_code == 0, result.output
    assert "cli-pipe" in result.output and "cli-run" not in result.output
    assert "cli-pipe-s000" not in result.output


@pytest.mark.django_db(transaction=True)
def test_the_cli_reports_an_unknown_type(studio, owner, workspace):  # noqa: F811
    from tests.cli.conftest import error_line

    result = studio("job", "list", "-w", "churn", "--type", "notebook", user=owner)
    assert result.exit_code != 0
    assert "type" in error_line(result)
