"""Fixtures of the executor contract tests: real executors, each in its own namespace.

`executor` is parametrized over the real executors: "docker" (a DockerExecutor with its own
`studio.instance` label, so find_orphans() sees only this test's containers) and "local" (a
LocalExecutor with its own state directory). Whatever a test leaves running is cleaned up.
The Docker ones need the engine and the base image; the image is built once (cached by the
engine) by scripts/base-image.sh when missing.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from apps.jobs.executors import RunSpec, get_executor
from tests.conftest import require_service

BASE_IMAGE = os.environ.get("STUDIO_BASE_IMAGE", "studio-base:bookworm-py311-r2")
REPO = Path(__file__).resolve().parents[2]
# The system's interpreter: a job's user (uid 1000) can run it, unlike one under /root.
HOST_PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else shutil.which("python3")


def _base_image_ready(client) -> tuple[bool, str]:
    import docker.errors

    try:
        client.images.get(BASE_IMAGE)
        return True, ""
    except docker.errors.ImageNotFound:
        pass
    # One build at a time across xdist workers; the second finds the image there.
    with open(os.path.join(tempfile.gettempdir(), "studio-base-image.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = subprocess.run(
            ["bash", str(REPO / "scripts" / "base-image.sh")],
            env={**os.environ, "STUDIO_BASE_IMAGE": BASE_IMAGE},
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
    if result.returncode != 0:
        return False, f"the base image {BASE_IMAGE} could not be built: {result.stderr[-800:]}"
    return True, ""


@pytest.fixture(scope="session")
def docker_status():
    """(ready, why not) for the Docker engine plus the base image."""
    try:
        import docker

        client = docker.from_env()
        client.ping()
    except Exception as exc:
        return False, f"no Docker engine answers ({exc}); scripts/services.sh starts one"
    return _base_image_ready(client)


@pytest.fixture
def docker_executor(docker_status):
    ready, why = docker_status
    require_service("Docker", ready, why)
    executor = get_executor(
        "docker",
        instance=f"contract-{uuid.uuid4().hex[:10]}",
        heartbeat_seconds=0.5,
        metrics_interval_seconds=0.5,
    )
    yield executor
    for orphan in executor.find_orphans():
        executor.cleanup(orphan.handle)


@pytest.fixture
def local_executor():
    state_dir = tempfile.mkdtemp(prefix="studio-contract-local-")
    executor = get_executor("local", state_dir=state_dir, heartbeat_seconds=0.5)
    yield executor
    for orphan in executor.find_orphans():
        executor.cleanup(orphan.handle)
    shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture
def executor(request):
    """The executor named by the test's parameter ("docker" or "local")."""
    return request.getfixturevalue(f"{request.param}_executor")


@pytest.fixture
def host_dir():
    """A host directory the job's user (uid 1000) can use, as the runner must prepare it:
    world-writable (or chowned to 1000:1000), in a parent every user can traverse."""
    path = tempfile.mkdtemp(prefix="studio-contract-dir-", dir="/tmp")
    os.chmod(path, 0o777)
    yield Path(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def make_spec(executor):
    """RunSpec factory for the executor under test: a fresh job id, the base image (docker)
    or the host's python3 (local)."""

    def make(command: str, **fields) -> RunSpec:
        fields.setdefault("job_id", str(uuid.uuid4()))
        fields.setdefault("image", BASE_IMAGE)
        fields.setdefault("python", HOST_PYTHON)
        return RunSpec(command=command, **fields)

    return make
