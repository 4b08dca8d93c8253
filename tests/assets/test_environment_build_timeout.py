# ruff: noqa: F811 - fixtures imported from other test modules
"""A build whose worker is alive but hangs (a RUN step waiting forever) is stopped at
STUDIO_BUILD_TIMEOUT_SECONDS on the real Docker engine: the build fails saying so, its log
kept, its step's container gone, and the build lock of its spec free for the next build."""

from __future__ import annotations

import fcntl
import re
import threading
import time
import uuid

import docker
import pytest
from django.db import connection

from apps.assets import builder
from apps.assets.models import ImageBuild
from apps.assets.services import environments as envs
from apps.jobs import executors, runner
from apps.jobs.models import Job
from tests.assets.test_environment_build import _context_env, engine  # noqa: F401
from tests.fake_executor import FakeExecutor
from tests.jobs.test_runner_support import job_dir, lines, make_job  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.docker]

B = ImageBuild.Status
LIMIT = 4


@pytest.fixture
def limit(settings):
    settings.STUDIO_BUILD_TIMEOUT_SECONDS = LIMIT
    return LIMIT


def _hanging(owner, workspace, name="hang"):
    """An environment whose build hangs in its last step; the marker names its containers."""
    marker = uuid.uuid4().hex
    dockerfile = f"FROM {builder.settings.STUDIO_BASE_IMAGE}\nRUN echo {marker} && sleep 600\n"
    env = _context_env(owner, workspace, {"Dockerfile": dockerfile}, name=name)
    return env, marker


def _containers_of(engine, marker: str) -> list[str]:
    return [c["Id"] for c in engine.containers(all=True) if marker in (c.get("Command") or "")]


def _lock_is_free(spec_hash: str) -> bool:
    with open(envs._lock_path(spec_hash), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(lock, fcntl.LOCK_UN)
        return True


def test_a_hanging_build_is_stopped_at_the_limit_and_fails_saying_so(
    engine, limit, owner, workspace
):
    env, marker = _hanging(owner, workspace)
    started = time.monotonic()
    with pytest.raises(envs.BuildFailed) as info:
        envs.ensure_image(env)
    elapsed = time.monotonic() - started
    assert limit <= elapsed < limit + 15, elapsed

    build = ImageBuild.objects.get(pk=info.value.build.pk)
    assert build.status == B.FAILED and build.finished_at is not None
    assert build.error == f"build timed out after {limit} s"
    assert "RUN echo" in build.failed_step and "sleep 600" in build.failed_step
    message = info.value.message
    assert f"environment {env.name}:{env.version}" in message
    assert f"build timed out after {limit} s" in message

    texts = list(build.log_lines.order_by("seq").values_list("text", flat=True))
    assert len(texts) == build.log_seq
    assert any(t.startswith("Step 2/") for t in texts)
    assert marker in texts  # the step's own output was kept
    assert texts[-1] == f"build timed out after {limit} s"
    container = next(m[1] for t in texts if (m := re.search(r"Running in ([0-9a-f]+)", t)))
    with pytest.raises(docker.errors.NotFound):
        engine.inspect_container(container)
    assert _containers_of(engine, marker) == []
    assert not builder.image_exists(build.image_tag)
    assert _lock_is_free(env.spec_hash)


def test_after_a_timed_out_build_the_next_builds_proceed(engine, limit, owner, workspace):
    env, _ = _hanging(owner, workspace)
    with pytest.raises(envs.BuildFailed):
        envs.ensure_image(env)
    other = _context_env(
        owner,
        workspace,
        {
            "Dockerfile": f"FROM {builder.settings.STUDIO_BASE_IMAGE}\nCOPY a.txt /a.txt\n",
            "a.txt": uuid.uuid4().hex,
        },
        name="quick",
    )
    tag = envs.ensure_image(other)
    try:
        assert builder.image_exists(tag)
    finally:
        builder.remove_image(tag)
    # The same spec builds again (and, hanging still, times out again rather than waiting).
    started = time.monotonic()
    with pytest.raises(envs.BuildFailed, match="timed out"):
        envs.ensure_image(env, force=True)
    assert time.monotonic() - started < limit + 15
    assert ImageBuild.objects.filter(environment=env, status=B.FAILED).count() == 2


def test_a_build_waiting_for_the_lock_of_a_hanging_build_gets_it_at_the_limit(
    engine, limit, owner, workspace
):
    env, marker = _hanging(owner, workspace)
    first: dict = {}

    def hold() -> None:
        try:
            envs.ensure_image(env)
        except envs.BuildFailed as exc:
            first["build"] = exc.build
        finally:
            connection.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    _wait_running(env)
    second = envs._new_build(env, owned=True)
    started = time.monotonic()
    envs.run_build(second)
    thread.join(timeout=30)
    second.refresh_from_db()
    # It waited for the first build's limit, then built itself (and hung in its turn).
    assert time.monotonic() - started >= limit
    assert first["build"].error == second.error == f"build timed out after {limit} s"
    texts = list(second.log_lines.order_by("seq").values_list("text", flat=True))
    assert texts[0].startswith("waiting for another build of")
    assert _containers_of(engine, marker) == []
    assert _lock_is_free(env.spec_hash)


# A job that needs the image ---------------------------------------------------------------------


@pytest.fixture
def fake(settings, job_dir, monkeypatch):  # noqa: F811
    executor = FakeExecutor(script=["hello"])
    monkeypatch.setitem(executors._REGISTRY, "fake", lambda **_: executor)
    settings.STUDIO_EXECUTOR = "fake"
    return executor


def _wait_running(env) -> ImageBuild:
    until = time.monotonic() + 30
    while time.monotonic() < until:
        build = ImageBuild.objects.filter(
            environment=env, status=B.RUNNING, engine=builder.engine_name()
        ).first()
        if build is not None:
            return build
        time.sleep(0.1)
    raise AssertionError("the first build never started")


def test_a_job_waiting_for_a_build_that_times_out_fails_naming_the_environment(
    engine, limit, fake, owner, workspace
):
    env, marker = _hanging(owner, workspace)

    def hold() -> None:
        try:
            envs.ensure_image(env)
        except envs.BuildFailed:
            pass
        finally:
            connection.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    other = _wait_running(env)
    job = make_job(workspace, owner, {"environment": {"id": str(env.pk)}})
    started = time.monotonic()
    runner.run(str(job.pk), worker="w1")
    thread.join(timeout=30)
    # It waited for the other worker's build, then built the image itself once (the runner's
    # way with a failed build), which timed out too.
    assert 2 * limit <= time.monotonic() - started < 2 * limit + 30
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert f"environment {env.name}:{env.version}" in job.error
    assert f"build timed out after {limit} s" in job.error
    texts = [text for _, _, text in lines(job)]
    assert any(f"Waiting for the build of {other.image_tag}" in t for t in texts)
    assert any(t == f"build timed out after {limit} s" for t in texts)
    assert ImageBuild.objects.filter(environment=env, status=B.FAILED).count() == 2
    assert _containers_of(engine, marker) == []
    assert fake.calls == []  # the job never started


def test_without_a_reachable_stream_socket_the_limit_kills_the_step_instead(
    engine, limit, owner, workspace, monkeypatch
):
    # A docker SDK whose streaming response hides its socket: the deadline kills the running
    # step's container, so the step fails and the build still ends at the limit.
    monkeypatch.setattr(builder, "_socket_of", lambda response: None)
    env, marker = _hanging(owner, workspace)
    started = time.monotonic()
    with pytest.raises(envs.BuildFailed, match=f"build timed out after {limit} s"):
        envs.ensure_image(env)
    assert time.monotonic() - started < limit + 15
    assert _containers_of(engine, marker) == []
    assert _lock_is_free(env.spec_hash)
