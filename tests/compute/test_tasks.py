"""Celery tasks of compute, called directly; and the queues of a REAL worker process: a
serves-all worker consumes every compute's queue at start-up, and picks up a new compute's
queue (and drops a deleted one's) while it runs."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
import uuid
import zoneinfo

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from apps.workspaces import scheduling, tasks
from apps.workspaces.models import Compute, ComputeNode
from apps.workspaces.services import compute as compute_services
from tests.conftest import api_client_for, require_service, tcp_open
from tests.factories import make_workspace


def _age(compute: Compute, **delta) -> None:
    Compute.objects.filter(pk=compute.pk).update(created_at=timezone.now() - dt.timedelta(**delta))
    compute.refresh_from_db()


@pytest.mark.django_db
def test_scale_down_task_releases_idle_nodes_and_keeps_the_minimum(owner, workspace, cluster):
    job = uuid.uuid4()
    scheduling.node_acquire(compute=cluster, job_id=job, worker="w")
    scheduling.node_release(compute=cluster, job_id=job)
    ComputeNode.objects.filter(compute=cluster).update(
        state_since=timezone.now() - dt.timedelta(seconds=121)
    )
    warm, _ = compute_services.compute_create(
        actor=owner, workspace=workspace, spec={"name": "warm", "type": "amlcompute",
                                                "min_instances": 1, "max_instances": 2},
    )  # fmt: skip
    ComputeNode.objects.filter(compute=warm).delete()  # as if lost: the task restores it

    assert tasks.scale_down() == 1

    assert not ComputeNode.objects.filter(compute=cluster).exists()
    assert cluster.events.filter(kind="scale_down").exists()
    assert ComputeNode.objects.filter(compute=warm, state="idle").count() == 1


@pytest.mark.django_db
def test_run_schedules_task_stops_an_instance_once(instance):
    # Once a day, three minutes ago: a second check a moment later sees the same fire time
    # (an every-minute cron would fire anew when the check crosses a minute boundary).
    fired = timezone.now() - dt.timedelta(minutes=3)
    daily = f"{fired.minute} {fired.hour} * * *"
    Compute.objects.filter(pk=instance.pk).update(
        schedules=[{"action": "stop", "cron": daily, "time_zone": "UTC"}]
    )
    _age(instance, hours=1)

    assert tasks.run_schedules() == 1
    instance.refresh_from_db()
    assert instance.state == "Stopped" and not instance.nodes.exists()
    event = instance.events.get(kind="schedule")
    assert event.message.startswith("Scheduled stop at ") and event.message.endswith(": done")
    assert event.actor_username == "schedule"
    assert instance.events.filter(kind="stopped").exists()

    assert tasks.run_schedules() == 0  # the same fire time is not acted on twice
    assert instance.events.filter(kind="schedule").count() == 1


@pytest.mark.django_db
def test_schedules_follow_their_time_zone(instance):
    Compute.objects.filter(pk=instance.pk).update(
        schedules=[{"action": "stop", "cron": "0 19 * * *", "time_zone": "Europe/Paris"}]
    )
    _age(instance, days=30)
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    day = (timezone.now() - dt.timedelta(days=1)).astimezone(paris).date()
    before = dt.datetime.combine(day, dt.time(18, 0, 40), tzinfo=paris)
    assert compute_services.schedules_run(now=before) == 0
    at_seven = dt.datetime.combine(day, dt.time(19, 0, 40), tzinfo=paris)
    assert compute_services.schedules_run(now=at_seven) == 1
    instance.refresh_from_db()
    assert instance.state == "Stopped"
    fired = at_seven.replace(second=0).astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    assert fired in instance.events.get(kind="schedule").message


@pytest.mark.django_db
def test_a_fire_time_long_past_is_not_acted_on(instance):
    Compute.objects.filter(pk=instance.pk).update(
        schedules=[{"action": "stop", "cron": "0 3 * * *", "time_zone": "UTC"}]
    )
    _age(instance, days=2)
    noon = timezone.now().replace(hour=12, minute=0)
    assert compute_services.schedules_run(now=noon) == 0


@pytest.mark.django_db
def test_a_scheduled_start_of_a_running_instance_is_recorded_as_such(instance):
    Compute.objects.filter(pk=instance.pk).update(
        schedules=[{"action": "start", "cron": "* * * * *", "time_zone": "UTC"}]
    )
    _age(instance, hours=1)
    assert tasks.run_schedules() == 1
    assert instance.events.get(kind="schedule").message.endswith(": already Running")


@pytest.mark.django_db
def test_a_scheduled_stop_waits_for_nothing_but_skips_while_a_job_runs(instance, data_scientist):
    Compute.objects.filter(pk=instance.pk).update(
        schedules=[{"action": "stop", "cron": "* * * * *", "time_zone": "UTC"}]
    )
    _age(instance, hours=1)
    job = uuid.uuid4()
    scheduling.node_acquire(compute=instance, job_id=job, worker="w", user=data_scientist)
    assert tasks.run_schedules() == 1
    instance.refresh_from_db()
    assert instance.state == "Running"
    message = instance.events.get(kind="schedule").message
    assert "skipped" in message and str(job) in message


def test_beat_schedule_runs_both_compute_tasks():
    from studio.celery import app

    entries = {e["task"]: e["schedule"] for e in app.conf.beat_schedule.values()}
    assert entries["compute.scale_down"] == 30.0
    assert entries["compute.run_schedules"] == 60.0


@pytest.mark.django_db
def test_queue_announcements_go_out_only_after_commit(
    owner, workspace, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr(tasks, "announce_queue", lambda queue, **kw: sent.append((queue, kw)))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        compute, _ = compute_services.compute_create(
            actor=owner, workspace=workspace, spec={"name": "late", "type": "amlcompute"}
        )
    assert sent == [] and len(callbacks) == 1
    callbacks[0]()
    assert sent == [("churn.late", {"added": True, "compute_type": "amlcompute", "host": ""})]


def test_a_local_compute_is_served_only_on_its_own_machine():
    assert tasks.serves("local", socket.gethostname())
    assert not tasks.serves("local", "another-machine")
    assert tasks.serves("amlcompute", "")


# A real worker ---------------------------------------------------------------------------------


def _database_url() -> str:
    db = settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def serves_all_worker():
    """A real `celery -A studio worker -Q studio-test-<id>` with STUDIO_WORKER_SERVES_ALL=true,
    on the test database and the configured broker. Yields a function that returns the
    queues it consumes (as /api/v1/health/ reports them)."""
    require_service("PostgreSQL", connection.vendor == "postgresql", "the worker reads the DB")
    broker = settings.CELERY_BROKER_URL
    if broker.startswith("redis://"):
        require_service("Redis", tcp_open(broker, 6379), broker)
    tag = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "CELERY_BROKER_URL": broker,
        "DATABASE_URL": _database_url(),
        "STUDIO_WORKER_SERVES_ALL": "true",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "studio", "worker", "-Q", f"studio-test-{tag}",
         "-n", f"compute-{tag}@%h", "-c", "1", "--loglevel", "WARNING",
         "--without-mingle", "--without-gossip"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=settings.BASE_DIR,
    )  # fmt: skip
    name = f"compute-{tag}@{socket.gethostname()}"

    def queues(owner) -> list[str]:
        workers = api_client_for(owner).get("/api/v1/health/").json()["workers"]
        return next((w["queues"] for w in workers if w["name"] == name), [])

    yield queues
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def _wait_for(predicate, timeout: float = 40.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    return predicate()


@pytest.fixture
def queue_workspace(owner, vm_sizes):
    """A workspace of its own name (other test processes share the broker and announce
    their `churn` computes), with a cluster, made before the worker starts."""
    workspace = make_workspace(owner=owner, name=f"q-{uuid.uuid4().hex[:8]}")
    compute_services.compute_create(
        actor=owner, workspace=workspace, spec={"name": "cpu-cluster", "type": "amlcompute"}
    )
    return workspace


@pytest.mark.django_db(transaction=True)
def test_a_serves_all_worker_consumes_every_compute_queue(
    owner, queue_workspace, serves_all_worker
):
    ws = queue_workspace.name

    def queues() -> list[str]:
        return serves_all_worker(owner)

    # At start-up: the computes that exist (the serverless pool and cpu-cluster).
    assert _wait_for(lambda: f"{ws}.cpu-cluster" in queues()), queues()
    assert f"{ws}.serverless" in queues()

    # While it runs: a new compute's queue is announced after commit and consumed.
    compute_services.compute_create(
        actor=owner, workspace=queue_workspace, spec={"name": "gpu-cluster", "type": "amlcompute"}
    )
    assert _wait_for(lambda: f"{ws}.gpu-cluster" in queues()), queues()

    # A deleted compute's queue is dropped; the others stay.
    gpu = Compute.objects.get(workspace=queue_workspace, name="gpu-cluster")
    compute_services.compute_delete(actor=owner, compute=gpu)
    assert _wait_for(lambda: f"{ws}.gpu-cluster" not in queues()), queues()
    assert f"{ws}.cpu-cluster" in queues()


def test_an_unreachable_broker_delays_the_announcement_but_fails_nothing(monkeypatch, caplog):
    from studio.celery import app

    real = app.connection_for_write
    monkeypatch.setattr(app, "connection_for_write", lambda: real(url="redis://127.0.0.1:1/0"))
    tasks.announce_queue("churn.cpu-cluster", added=True, compute_type="amlcompute")
    assert "could not announce queue churn.cpu-cluster" in caplog.text
