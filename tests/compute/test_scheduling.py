"""Node slots: acquire, release, scale up and down with events; instances; and the proof that
concurrent workers never hold more than max_instances nodes (threads, one connection each)."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest
from django.db import connection, connections
from django.utils import timezone

from apps.workspaces import scheduling
from apps.workspaces.models import ComputeEvent, ComputeNode
from apps.workspaces.services import compute as compute_services
from studio.errors import Conflict, PermissionDenied
from tests.conftest import require_service


@pytest.mark.django_db
def test_acquire_adds_nodes_up_to_max_then_refuses(cluster):
    first = scheduling.node_acquire(compute=cluster, job_id=uuid.uuid4(), worker="w1")
    second = scheduling.node_acquire(compute=cluster, job_id=uuid.uuid4(), worker="w2")
    third = scheduling.node_acquire(compute=cluster, job_id=uuid.uuid4(), worker="w3")
    assert (first.index, second.index, third) == (0, 1, None)
    assert (first.state, first.worker) == ("busy", "w1")
    ups = ComputeEvent.objects.filter(compute=cluster, kind="scale_up").order_by("id")
    assert [e.message.split(" for ")[0] for e in ups] == ["Node 0 added", "Node 1 added"]
    assert "2 of at most 2" in ups.last().message


@pytest.mark.django_db
def test_released_node_is_idle_and_reused_without_scaling_up(cluster):
    job = uuid.uuid4()
    node = scheduling.node_acquire(compute=cluster, job_id=job, worker="w1")
    released = scheduling.node_release(compute=cluster, job_id=job)
    assert (released.pk, released.state, released.job_id) == (node.pk, "idle", None)
    again = scheduling.node_acquire(compute=cluster, job_id=uuid.uuid4(), worker="w2")
    assert again.pk == node.pk and again.state == "busy"
    assert ComputeEvent.objects.filter(compute=cluster, kind="scale_up").count() == 1


@pytest.mark.django_db
def test_acquiring_twice_for_one_job_takes_one_slot(cluster):
    job = uuid.uuid4()
    a = scheduling.node_acquire(compute=cluster, job_id=job, worker="w1")
    b = scheduling.node_acquire(compute=cluster, job_id=job, worker="w1")
    assert a.pk == b.pk and ComputeNode.objects.filter(compute=cluster).count() == 1


@pytest.mark.django_db
def test_release_of_an_unknown_job_changes_nothing(cluster):
    assert scheduling.node_release(compute=cluster, job_id=uuid.uuid4()) is None


@pytest.mark.django_db
def test_idle_nodes_are_released_after_the_idle_time_with_scale_down_events(cluster):
    jobs = [uuid.uuid4(), uuid.uuid4()]
    for job in jobs:
        scheduling.node_acquire(compute=cluster, job_id=job, worker="w")
    scheduling.node_release(compute=cluster, job_id=jobs[0])
    now = timezone.now()
    assert scheduling.scale_down_idle(now=now + dt.timedelta(seconds=60)) == 0
    assert scheduling.scale_down_idle(now=now + dt.timedelta(seconds=121)) == 1
    assert list(ComputeNode.objects.filter(compute=cluster).values_list("state", flat=True)) == [
        "busy"
    ]
    down = ComputeEvent.objects.get(compute=cluster, kind="scale_down")
    assert down.message == "Node 0 released: idle for more than 120 s."


@pytest.mark.django_db
def test_scale_down_keeps_min_instances(owner, workspace):
    compute, _ = compute_services.compute_create(
        actor=owner,
        workspace=workspace,
        spec={"name": "warm", "type": "amlcompute", "min_instances": 1, "max_instances": 3,
              "idle_time_before_scale_down": 0},
    )  # fmt: skip
    job = uuid.uuid4()
    scheduling.node_acquire(compute=compute, job_id=uuid.uuid4(), worker="w")  # takes node 0
    scheduling.node_acquire(compute=compute, job_id=job, worker="w")  # adds node 1
    scheduling.node_release(compute=compute, job_id=job)
    later = timezone.now() + dt.timedelta(seconds=5)
    assert scheduling.scale_down_idle(now=later) == 1
    assert scheduling.scale_down_idle(now=later) == 0
    assert ComputeNode.objects.filter(compute=compute).count() == 1


@pytest.mark.django_db
def test_leaving_nodes_do_not_take_jobs_and_do_not_count(cluster):
    job = uuid.uuid4()
    node = scheduling.node_acquire(compute=cluster, job_id=job, worker="w")
    scheduling.node_release(compute=cluster, job_id=job)
    ComputeNode.objects.filter(pk=node.pk).update(state="leaving")
    a = scheduling.node_acquire(compute=cluster, job_id=uuid.uuid4(), worker="w")
    b = scheduling.node_acquire(compute=cluster, job_id=uuid.uuid4(), worker="w")
    assert {a.index, b.index} == {1, 2}
    assert scheduling.scale_down_idle() == 1  # the leaving one goes
    assert sorted(ComputeNode.objects.values_list("index", flat=True)) == [1, 2]


@pytest.mark.django_db
def test_instance_runs_only_its_users_jobs_and_none_while_stopped(owner, instance, data_scientist):
    with pytest.raises(PermissionDenied) as excinfo:
        scheduling.node_acquire(compute=instance, job_id=uuid.uuid4(), worker="w", user=owner)
    assert "assigned to dana" in excinfo.value.message
    node = scheduling.node_acquire(
        compute=instance, job_id=uuid.uuid4(), worker="w", user=data_scientist
    )
    assert node.index == 0
    assert (
        scheduling.node_acquire(
            compute=instance, job_id=uuid.uuid4(), worker="w", user=data_scientist
        )
        is None
    )
    scheduling.node_release(compute=instance, job_id=node.job_id)
    compute_services.compute_stop(actor=owner, compute=instance)
    with pytest.raises(Conflict) as excinfo:
        scheduling.node_acquire(
            compute=instance, job_id=uuid.uuid4(), worker="w", user=data_scientist
        )
    assert "Stopped" in excinfo.value.message


@pytest.mark.django_db
def test_instance_node_is_not_scaled_down(instance):
    assert scheduling.scale_down_idle(now=timezone.now() + dt.timedelta(days=1)) == 0
    assert instance.nodes.count() == 1


@pytest.mark.django_db
def test_active_jobs_on_lists_the_jobs_of_busy_nodes(cluster):
    job = uuid.uuid4()
    scheduling.node_acquire(compute=cluster, job_id=job, worker="w")
    assert scheduling.active_jobs_on(cluster) == [str(job)]


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_never_hold_more_than_max_instances(cluster):
    """Twelve threads, each with its own database connection, ask at the same moment for a
    node of a max_instances=2 cluster: exactly two get one."""
    require_service("PostgreSQL", connection.vendor == "postgresql", "row locks need it")
    barrier = threading.Barrier(12)
    results: list = []
    errors: list = []

    def worker(n: int) -> None:
        try:
            connection.ensure_connection()  # connect first, so the calls really overlap
            barrier.wait()
            results.append(
                scheduling.node_acquire(compute=cluster, job_id=uuid.uuid4(), worker=f"w{n}")
            )
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    got = [node for node in results if node is not None]
    assert len(got) == 2 and len(results) == 12
    assert sorted(n.index for n in got) == [0, 1]
    assert ComputeNode.objects.filter(compute=cluster).count() == 2
    assert ComputeEvent.objects.filter(compute=cluster, kind="scale_up").count() == 2
