"""The health endpoints, against the real broker and a real Celery worker process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings

from tests.conftest import api_client_for, require_service, tcp_open

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_signing_in(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_health_reports_database_and_broker(owner):
    body = api_client_for(owner).get("/api/v1/health/").json()
    assert body["database"]["ok"] is True
    assert body["database"]["vendor"] == (
        "postgresql" if "postgresql" in settings.DATABASES["default"]["ENGINE"] else "sqlite"
    )
    assert body["broker"]["ok"] is True
    assert body["status"] == "ok"


def test_broker_check_reports_an_unreachable_broker_with_its_error():
    from studio.health import check_broker_and_workers

    broker, workers = check_broker_and_workers(url="redis://127.0.0.1:1/0", timeout=0.5)
    assert broker["ok"] is False
    assert broker["error"]
    assert workers == []


@pytest.fixture
def worker(tmp_path):
    """A real `celery -A studio worker` on a queue of its own, on the configured broker."""
    broker = settings.CELERY_BROKER_URL
    if broker.startswith("redis://"):
        require_service("Redis", tcp_open(broker, 6379), broker)
    queue = f"q-{uuid.uuid4().hex[:8]}"
    name = f"test-{queue}@%h"
    # The worker inherits this process's environment, so it finds the same broker (for the
    # filesystem transport: the same folders, which settings derived from STUDIO_HOME).
    env = {**os.environ, "CELERY_BROKER_URL": broker}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "studio",
            "worker",
            "-Q",
            queue,
            "-n",
            name,
            "-c",
            "1",
            "--loglevel",
            "WARNING",
            "--without-mingle",
            "--without-gossip",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=settings.BASE_DIR,
    )
    yield queue
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_health_lists_a_running_worker_with_its_queues(owner, worker):
    client = api_client_for(owner)
    deadline = time.monotonic() + 30
    seen = []
    while time.monotonic() < deadline:
        seen = client.get("/api/v1/health/").json()["workers"]
        if any(worker in w["queues"] for w in seen):
            break
    assert any(worker in w["queues"] for w in seen), seen
