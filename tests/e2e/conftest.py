# ruff: noqa: F811 - fixtures imported from the runner's test support
"""End-to-end fixtures: the studio on a live server that job containers reach (0.0.0.0,
through Docker's host-gateway as `studio-host`), the jobs' Celery task run in-process on the
real Docker engine, the real `studio` CLI as a user with a token, and a Chromium page logged
in as that user.

The run task runs in-process (`run_job_task.apply` in a thread when the submit queues the
job) rather than through the broker: under `pytest -n 2` another test process's worker would share
the broker's `churn.<compute>` queues.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from django.test import Client
from django.test.testcases import LiveServerThread, _StaticFilesHandler

from apps.jobs import tasks
from apps.jobs.models import Job
from apps.jobs.services import lifecycle
from apps.workspaces import services
from tests.cli.conftest import invoke
from tests.jobs.test_runner_support import docker_runner, docker_status, job_dir  # noqa: F401


@pytest.fixture
def studio_server(transactional_db, settings):
    """The studio on 0.0.0.0 (the browser and the CLI use 127.0.0.1; containers
    studio-host)."""
    settings.ALLOWED_HOSTS = ["*"]
    thread = LiveServerThread("0.0.0.0", _StaticFilesHandler, port=0)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    settings.STUDIO_JOB_STUDIO_URL = f"http://studio-host:{thread.port}"
    thread.url = f"http://127.0.0.1:{thread.port}"
    yield thread
    thread.terminate()


@pytest.fixture
def run_in_process(docker_runner, monkeypatch):
    """Each job the studio queues runs at once in a thread of this process, through the
    Celery task itself (`jobs.run`, its retry included); joined at the end."""
    threads: list[threading.Thread] = []

    def run(job_id: str) -> None:
        try:
            tasks.run_job_task.apply(args=[job_id])
        finally:
            connection.close()

    def send(job, kick: bool = False) -> None:
        if kick:  # a freed node's extra look: the job's own task already retries it
            return
        thread = threading.Thread(target=run, args=(str(job.pk),), daemon=True)
        thread.start()
        threads.append(thread)

    monkeypatch.setattr(lifecycle, "_send", send)
    yield threads
    for thread in threads:
        thread.join(60)


@pytest.fixture
def studio_cli(studio_server, tmp_path):
    """`studio_cli(user, "job", "create", ...)`: the real CLI against the live server."""
    tokens: dict[int, str] = {}

    def run(user, *args: str):
        if user.pk not in tokens:
            _, tokens[user.pk] = services.token_create(actor=user, name="e2e")
        env = {"STUDIO_URL": studio_server.url, "STUDIO_TOKEN": tokens[user.pk]}
        return invoke(args, home=tmp_path, env=env)

    return run


@pytest.fixture
def page_as(new_page, studio_server):
    """`page_as(user)`: a Chromium page whose session is that user's."""

    def open_as(user):
        client = Client()
        client.force_login(user)
        page = new_page()
        page.context.add_cookies(
            [{"name": "sessionid", "value": client.cookies["sessionid"].value,
              "url": studio_server.url}]
        )  # fmt: skip
        return page

    return open_as


def wait_for(predicate, *, timeout: float, every: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def job_status(name: str) -> str:
    return Job.objects.filter(name=name).values_list("status", flat=True).first() or ""
