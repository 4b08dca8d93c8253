"""A build that a worker owns while it waits for the build lock of its spec (Queued) beats too:
when that worker dies, the reaper fails it like a Running one; a build that waits for a worker
to take its task (it never beat) is left alone, however long it waits."""

from __future__ import annotations

import datetime as dt
import fcntl
import threading
import time

import pytest
from django.db import connection
from django.utils import timezone

from apps.assets import builder
from apps.assets.models import ImageBuild
from apps.assets.services import environments as envs
from apps.jobs import reaper

B = ImageBuild.Status


def _env(owner, workspace):
    return envs.environment_create(
        actor=owner, workspace=workspace, name="tiny", pip_requirements="six\n"
    )


def _queued(env, *, beat_age: float | None, created_age: float = 600) -> ImageBuild:
    now = timezone.now()
    build = ImageBuild.objects.create(
        workspace=env.workspace,
        environment=env,
        spec_hash=env.spec_hash,
        image_tag=envs.image_tag(env),
        heartbeat_at=None if beat_age is None else now - dt.timedelta(seconds=beat_age),
        log_seq=1,
    )
    ImageBuild.objects.filter(pk=build.pk).update(
        created_at=now - dt.timedelta(seconds=created_age)
    )
    build.log_lines.create(seq=1, text=f"waiting for another build of {build.image_tag}")
    return build


@pytest.mark.django_db
def test_a_queued_build_whose_worker_went_silent_is_failed_as_worker_lost(owner, workspace):
    env = _env(owner, workspace)
    lost = _queued(env, beat_age=300)
    assert reaper.reap()["builds"] == 1
    lost.refresh_from_db()
    assert lost.status == B.FAILED and lost.error == reaper.LOST_BUILD
    assert lost.finished_at is not None and lost.log_seq == 2
    texts = list(lost.log_lines.order_by("seq").values_list("text", flat=True))
    assert texts[0].startswith("waiting for another build")
    assert texts[1].startswith("worker lost during the build (its worker was waiting for")
    assert reaper.reap()["builds"] == 0


@pytest.mark.django_db
def test_queued_builds_that_beat_lately_or_never_beat_are_left_alone(owner, workspace):
    env = _env(owner, workspace)
    waiting_for_lock = _queued(env, beat_age=3)
    waiting_for_a_worker = _queued(env, beat_age=None, created_age=3 * 3600)
    assert reaper.reap()["builds"] == 0
    for build in (waiting_for_lock, waiting_for_a_worker):
        build.refresh_from_db()
        assert build.status == B.QUEUED and build.error == ""


@pytest.mark.django_db
def test_a_build_that_a_job_creates_is_born_beating(owner, workspace):
    env = _env(owner, workspace)
    owned = envs._new_build(env, owned=True)
    requested = envs._new_build(env, actor=owner)
    assert owned.heartbeat_at is not None
    assert requested.heartbeat_at is None


@pytest.mark.django_db(transaction=True)
def test_a_build_waiting_for_the_lock_beats_and_is_not_reaped_then_runs(
    owner, workspace, monkeypatch
):
    monkeypatch.setattr(builder, "BEAT_SECONDS", 0.1)
    # The image is "already on the engine" once the lock is free: no Docker needed here.
    monkeypatch.setattr(builder, "image_exists", lambda tag: True)
    env = _env(owner, workspace)
    build = envs._new_build(env, owned=True)
    ImageBuild.objects.filter(pk=build.pk).update(
        heartbeat_at=timezone.now() - dt.timedelta(seconds=300)
    )
    build.refresh_from_db()
    with open(envs._lock_path(env.spec_hash), "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another build of the spec holds the lock

        def run() -> None:
            try:
                envs.run_build(build)
            finally:
                connection.close()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        time.sleep(0.6)
        waiting = ImageBuild.objects.get(pk=build.pk)
        assert waiting.status == B.QUEUED
        assert (timezone.now() - waiting.heartbeat_at).total_seconds() < 1
        assert reaper.reap(stale_seconds=1)["builds"] == 0
        first_beat = waiting.heartbeat_at
        time.sleep(0.3)
        assert ImageBuild.objects.get(pk=build.pk).heartbeat_at > first_beat
        fcntl.flock(held, fcntl.LOCK_UN)
    thread.join(timeout=10)
    build.refresh_from_db()
    assert build.status == B.SUCCEEDED
    texts = list(build.log_lines.order_by("seq").values_list("text", flat=True))
    assert texts[0] == f"waiting for another build of {build.image_tag} on this engine to end"
    assert "already on this engine" in texts[-1]
