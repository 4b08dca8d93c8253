"""The pipeline run page: the graph with each step's live status, duration and 'Reused'
badge, nodes linking to the steps' pages, and a status poll whose query count does not grow
with the number of steps."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.jobs.models import Job
from tests.conftest import client_for
from tests.matrix.jobs_pipelines import make_pipeline

pytestmark = pytest.mark.django_db


def test_the_run_page_draws_each_step_with_its_status_and_the_reused_badge(owner, workspace):
    make_pipeline(workspace, "graph", steps=3, owner=owner)
    response = client_for(owner).get("/w/churn/jobs/graph/pipeline/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('class="pipeline-node ') == 3
    assert 'data-step="s000" data-status="Completed"' in html
    assert 'data-step="s001" data-status="Running"' in html
    assert ">Reused</span>" in html and "earlier-s000" in html
    assert "2.5 s" in html  # s000's duration
    assert 'href="/w/churn/jobs/graph-s001/?tab=logs"' in html
    assert html.count("<path d=") == 2  # s000 → s001 → s002
    assert 'hx-trigger="every 2s"' in html  # Running: it polls


def test_the_run_page_fetches_plotly_only_when_a_step_panel_draws_a_chart(owner, workspace):
    make_pipeline(workspace, "lazy", owner=owner)
    html = client_for(owner).get("/w/churn/jobs/lazy/pipeline/").content.decode()
    assert '<script src="/static/plotly/plotly.min.js"' not in html  # 4.6 MB not on every visit
    assert 'data-plotly="/static/plotly/plotly.min.js"' in html  # jobs-metrics.js loads it


def test_the_job_page_of_a_pipeline_links_to_its_graph(owner, workspace):
    make_pipeline(workspace, "linked", owner=owner)
    html = client_for(owner).get("/w/churn/jobs/linked/").content.decode()
    assert 'href="/w/churn/jobs/linked/pipeline/"' in html


def test_an_ended_pipeline_stops_polling(owner, workspace):
    pipeline = make_pipeline(workspace, "ended", owner=owner)
    Job.objects.filter(pk=pipeline.pk).update(status=Job.Status.COMPLETED)
    html = client_for(owner).get("/w/churn/jobs/ended/pipeline/status/").content.decode()
    assert "pipeline-node" in html and "every 2s" not in html


def test_a_command_job_has_no_pipeline_page(owner, workspace):
    pipeline = make_pipeline(workspace, "notpipe", owner=owner)
    child = pipeline.children.first()
    assert client_for(owner).get(f"/w/churn/jobs/{child.name}/pipeline/").status_code == 404


def test_the_status_of_a_100_step_pipeline_refreshes_with_a_constant_number_of_queries(
    owner, workspace, django_assert_num_queries
):
    make_pipeline(workspace, "small", steps=3, owner=owner)
    make_pipeline(workspace, "big", steps=100, owner=owner)
    client = client_for(owner)
    client.get("/w/churn/jobs/small/pipeline/status/")  # warm the session
    with CaptureQueriesContext(connection) as small:
        assert client.get("/w/churn/jobs/small/pipeline/status/").status_code == 200
    with django_assert_num_queries(len(small.captured_queries)):
        response = client.get("/w/churn/jobs/big/pipeline/status/")
    assert response.content.decode().count('class="pipeline-node ') == 100


def test_a_pipeline_run_offers_clone_to_draft_to_those_who_may_edit(owner, reader, workspace):
    make_pipeline(workspace, "cloneme", owner=owner)
    owner_html = client_for(owner).get("/w/churn/jobs/cloneme/pipeline/").content.decode()
    assert 'action="/w/churn/designer/-/clone/cloneme/"' in owner_html
    reader_html = client_for(reader).get("/w/churn/jobs/cloneme/pipeline/").content.decode()
    assert "cannot edit pipelines" in reader_html


# The step panel (clicking a node opens its logs, metrics and outputs beside the graph) -----


def test_a_node_asks_for_its_step_panel_beside_the_graph(owner, workspace):
    make_pipeline(workspace, "panelled", owner=owner)
    html = client_for(owner).get("/w/churn/jobs/panelled/pipeline/").content.decode()
    assert 'hx-get="/w/churn/jobs/panelled/pipeline/step/?step=s000"' in html
    assert 'hx-target="#step-panel"' in html
    assert '<aside id="step-panel"' in html and "step-panel-body" not in html  # closed


def test_the_step_panel_shows_the_steps_overview(owner, workspace):
    pipeline = make_pipeline(workspace, "over", owner=owner)
    step = pipeline.children.get(spec__step="s000")
    step.spec = {**step.spec, "outputs": {"model": {"type": "uri_folder"}}}
    step.save(update_fields=["spec"])
    response = client_for(owner).get(
        "/w/churn/jobs/over/pipeline/step/?step=s000", HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html  # a fragment
    assert 'data-step="s000" data-tab="overview"' in html
    assert 'data-status="Completed"' in html and "2.5 s" in html
    assert ">Reused</span>" in html and "earlier-s000" in html
    assert 'href="/w/churn/jobs/over-s000/" id="step-open-job"' in html
    assert "model" in html and 'id="step-outputs"' in html
    assert "data-step-close" in html


def test_the_step_panel_reuses_the_job_pages_log_tail_and_metrics_poller(owner, workspace):
    from apps.jobs.models import LogLine

    pipeline = make_pipeline(workspace, "tail", owner=owner)
    step = pipeline.children.get(spec__step="s001")
    LogLine.objects.create(job=step, seq=1, stream="stdout", text="epoch 1 loss 0.5")
    client = client_for(owner)
    logs = client.get("/w/churn/jobs/tail/pipeline/step/?step=s001&tab=logs").content.decode()
    assert 'hx-get="/w/churn/jobs/tail-s001/log/?after=0"' in logs  # the job page's tail
    assert 'hx-get="/w/churn/jobs/tail-s001/files/"' in logs
    # the tail's own fragment, as the panel's poller loads it
    lines = client.get("/w/churn/jobs/tail-s001/log/?after=0").content.decode()
    assert "epoch 1 loss 0.5" in lines
    metrics = client.get("/w/churn/jobs/tail/pipeline/step/?step=s001&tab=metrics")
    assert 'hx-get="/w/churn/jobs/tail-s001/metrics/"' in metrics.content.decode()
    assert 'id="charts"' in metrics.content.decode()


def test_a_shared_link_to_a_step_opens_its_panel_with_the_page(owner, workspace):
    make_pipeline(workspace, "shared", owner=owner)
    client = client_for(owner)
    html = client.get("/w/churn/jobs/shared/pipeline/?step=s001&step_tab=logs").content.decode()
    assert 'data-step="s001" data-tab="logs"' in html and 'id="logtail"' in html
    unknown = client.get("/w/churn/jobs/shared/pipeline/?step=nope")
    assert unknown.status_code == 200 and "step-panel-body" not in unknown.content.decode()


def test_the_step_panel_of_a_pipeline_one_cannot_see_is_404(owner, outsider, workspace):
    make_pipeline(workspace, "hidden", owner=owner)
    url = "/w/churn/jobs/hidden/pipeline/step/?step=s000"
    assert client_for(outsider).get(url).status_code == 404
    assert client_for(None).get(url).status_code in (302, 404)


def test_a_step_of_another_pipeline_is_refused(owner, workspace):
    make_pipeline(workspace, "first", owner=owner)
    other = make_pipeline(workspace, "second", steps=4, owner=owner)
    client = client_for(owner)
    assert client.get("/w/churn/jobs/first/pipeline/step/?step=s003").status_code == 404
    # a step job's name is not a step path, and the spec cannot point at another's child
    assert client.get("/w/churn/jobs/first/pipeline/step/?step=second-s000").status_code == 404
    first = Job.objects.get(name="first")
    first.spec["graph"]["steps"]["s000"]["job"] = other.children.first().name
    first.save(update_fields=["spec"])
    assert client.get("/w/churn/jobs/first/pipeline/step/?step=s000").status_code == 404
    assert client.get("/w/churn/jobs/first/pipeline/step/").status_code == 404


def test_a_pipeline_job_page_lists_its_child_jobs_in_the_graph_order(owner, workspace):
    make_pipeline(workspace, "kids", steps=3, owner=owner)
    Job.objects.filter(name="kids-s002").delete()  # a step that has not started yet
    client = client_for(owner)
    overview = client.get("/w/churn/jobs/kids/").content.decode()
    assert 'href="?tab=children"' in overview and ">Child jobs</a>" in overview
    html = client.get("/w/churn/jobs/kids/?tab=children").content.decode()
    table = html[html.index('id="child-jobs"') :]
    assert [s for s in ("s000", "s001", "s002") if f'data-step="{s}"' in table] == [
        "s000", "s001", "s002",
    ]  # fmt: skip
    assert table.index('data-step="s000"') < table.index('data-step="s001"')
    assert 'href="/w/churn/jobs/kids/pipeline/?step=s001"' in table
    assert 'href="/w/churn/jobs/kids-s001/"' in table
    assert '<span class="badge state-succeeded">Completed</span>' in table
    assert '<span class="badge state-running">Running</span>' in table
    assert '<span class="badge state-stopped">Not started</span>' in table
    assert ">Reused</span>" in table and "2.5 s" in table
    command = client.get("/w/churn/jobs/kids-s000/?tab=children").content.decode()
    assert "Child jobs" not in command  # a command job has no such tab (overview instead)
