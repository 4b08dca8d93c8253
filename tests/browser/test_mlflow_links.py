"""The links the MLflow client prints (`<tracking URI>/#/experiments/<id>/runs/<run>`) open
the studio's page of that run, in a real Chromium: the part after '#' never reaches the
server, so the page forwards it; and the server side of that forwarding, scoped as ever."""

from __future__ import annotations

import pytest

from apps.jobs.services import tracking
from tests.browser.test_foundation import log_in
from tests.conftest import client_for
from tests.jobs.test_runner_support import make_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(workspace, owner):
    return make_job(workspace, owner, name="laptop-run")


def test_the_forwarded_query_redirects_to_the_run_or_experiment_page(owner, outsider, run):
    client = client_for(owner)
    found = client.get(f"/mlflow/churn/?experiment={run.experiment_id}&run={run.run_id}")
    assert found.status_code == 302 and found["Location"] == "/w/churn/jobs/laptop-run/"
    experiment = client.get(f"/mlflow/churn/?experiment={run.experiment_id}")
    assert experiment["Location"] == f"/w/churn/experiments/{run.experiment.name}/"
    assert client.get("/mlflow/churn/?run=" + "0" * 32).status_code == 404
    assert client.get("/mlflow/churn/?experiment=abc").status_code == 404
    page = client.get("/mlflow/churn/")
    assert page.status_code == 200 and b"js/mlflow-link.js" in page.content
    assert client_for(outsider).get(f"/mlflow/churn/?run={run.run_id}").status_code == 404


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_printed_mlflow_run_link_opens_the_runs_page(page, live_server, workspace, owner):
    run = make_job(workspace, owner, name="laptop-run")
    experiment = tracking.experiment_default(workspace=workspace)
    log_in(page, live_server.url, owner.username)
    page.goto(f"{live_server.url}/mlflow/churn/#/experiments/{experiment.pk}/runs/{run.run_id}")
    page.wait_for_url(f"{live_server.url}/w/churn/jobs/laptop-run/")
    page.goto(f"{live_server.url}/mlflow/churn/")
    page.wait_for_url(f"{live_server.url}/w/churn/experiments/")
