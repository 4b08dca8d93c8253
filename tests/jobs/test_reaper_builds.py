# ruff: noqa: F811 - fixtures imported from test_runner_support
"""An image build whose worker died does not stay "Building" forever: a build beats while it
runs, the reaper fails a silent one (its log kept, the page offering to build again), and a
job does not wait for it."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from apps.assets import builder
from apps.assets.models import ImageBuild
from apps.assets.services import environments as envs
from apps.jobs import executors, reaper, runner
from tests.conftest import client_for
from tests.fake_executor import FakeExecutor
from tests.jobs.test_runner_support import job_dir, lines, make_job  # noqa: F401

B = ImageBuild.Status


def _env(owner, workspace):
    return envs.environment_create(
        actor=owner, workspace=workspace, name="tiny", pip_requirements="six\n"
    )


def _running(env, *, beat_age: float | None, started_age: float = 600, engine="") -> ImageBuild:
    now = timezone.now()
    build = ImageBuild.objects.create(
        workspace=env.workspace,
        environment=env,
        spec_hash=env.spec_hash,
        image_tag=envs.image_tag(env),
        status=B.RUNNING,
        engine=engine or "worker-7",
        started_at=now - dt.timedelta(seconds=started_age),
        heartbeat_at=None if beat_age is None else now - dt.timedelta(seconds=beat_age),
        log_seq=2,
    )
    build.log_lines.create(seq=1, text="Step 1/5 : FROM studio-base")
    build.log_lines.create(seq=2, text="Collecting six")
    return build


@pytest.mark.django_db
def test_a_build_with_an_old_heartbeat_is_failed_and_a_fresh_one_left_alone(owner, workspace):
    env = _env(owner, workspace)
    lost = _running(env, beat_age=300)
    fresh = _running(env, beat_age=2)
    assert reaper.reap()["builds"] == 1
    lost.refresh_from_db()
    fresh.refresh_from_db()
    assert lost.status == B.FAILED and lost.error == reaper.LOST_BUILD
    assert lost.finished_at is not None
    texts = list(lost.log_lines.order_by("seq").values_list("seq", "text"))
    assert texts[:2] == [(1, "Step 1/5 : FROM studio-base"), (2, "Collecting six")]
    assert texts[2][0] == 3 and texts[2][1].startswith("worker lost during the build (worker-7")
    assert lost.log_seq == 3
    assert fresh.status == B.RUNNING and fresh.error == ""
    assert reaper.reap()["builds"] == 0  # nothing twice


@pytest.mark.django_db
def test_a_build_that_never_beat_is_judged_by_when_it_started(owner, workspace):
    env = _env(owner, workspace)
    old = _running(env, beat_age=None, started_age=300)
    young = _running(env, beat_age=None, started_age=5)
    reaper.reap()
    assert ImageBuild.objects.get(pk=old.pk).status == B.FAILED
    assert ImageBuild.objects.get(pk=young.pk).status == B.RUNNING


@pytest.mark.django_db
def test_the_environment_page_shows_the_lost_build_failed_and_offers_to_build_again(
    owner, workspace
):
    env = _env(owner, workspace)
    _running(env, beat_age=300)
    reaper.reap()
    section = client_for(owner).get(
        reverse("assets:environment-build", args=["churn", env.name, env.version])
    )
    assert section.status_code == 200
    assert b"Failed" in section.content and b"worker lost during the build" in section.content
    assert b"Rebuild" in section.content


@pytest.mark.django_db(transaction=True)
def test_a_running_build_beats_from_its_own_thread_while_the_block_runs(
    owner, workspace, monkeypatch
):
    monkeypatch.setattr(builder, "BEAT_SECONDS", 0.1)
    env = _env(owner, workspace)
    build = _running(env, beat_age=300)
    with builder.beating(pk=build.pk):
        first = ImageBuild.objects.get(pk=build.pk).heartbeat_at
        assert (timezone.now() - first).total_seconds() < 5
        time.sleep(0.5)
        later = ImageBuild.objects.get(pk=build.pk).heartbeat_at
        assert later > first
    assert reaper.reap()["builds"] == 0


# A job that needs the image another worker is building ----------------------------------------


@pytest.fixture
def fake(settings, job_dir, monkeypatch):  # noqa: F811
    executor = FakeExecutor(script=["hello"])
    monkeypatch.setitem(executors._REGISTRY, "fake", lambda **_: executor)
    settings.STUDIO_EXECUTOR = "fake"
    return executor


@pytest.mark.django_db(transaction=True)
def test_a_job_waits_for_a_live_build_of_its_image_then_goes_on(fake, owner, workspace):
    env = _env(owner, workspace)
    other = _running(env, beat_age=1, engine=builder.engine_name())
    job = make_job(workspace, owner)
    work = runner.JobRunner(job, "w1")

    def finish() -> None:
        try:
            time.sleep(1.5)
            ImageBuild.objects.filter(pk=other.pk).update(status=B.SUCCEEDED)
        finally:
            connection.close()

    thread = threading.Thread(target=finish, daemon=True)
    started = time.monotonic()
    thread.start()
    work.wait_for_build(env)
    thread.join()
    assert time.monotonic() - started >= 1.4
    work.flush(force=True)
    assert any("Waiting for the build of" in text for _, _, text in lines(job))


@pytest.mark.django_db
def test_a_job_does_not_wait_for_a_build_whose_worker_went_silent(fake, owner, workspace):
    env = _env(owner, workspace)
    _running(env, beat_age=300, engine=builder.engine_name())
    job = make_job(workspace, owner)
    work = runner.JobRunner(job, "w1")
    work.wait_for_build(env)  # returns at once: the message below says it did not wait
    work.flush(force=True)
    assert any("lost its worker" in text for _, _, text in lines(job))
