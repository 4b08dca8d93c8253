# ruff: noqa: F811 - fixtures imported from test_runner_support and test_remote_engine
"""The runner on an attached compute: another Docker engine addressed by URL.

The engine is this machine's, exposed at tcp://127.0.0.1:<port> by the relay of
tests/executors/test_remote_engine.py; a tcp:// engine is remote, so nothing is bind-mounted:
the code, the inputs and empty output folders are copied into the container, and ./outputs,
./logs and the outputs are copied back before the job's finalize step."""

from __future__ import annotations

import io
import threading
import time

import pytest

from apps.assets.services.code import snapshot_from_folder
from apps.jobs import artifacts
from apps.jobs.executors import Handle
from apps.jobs.models import Job
from apps.jobs.services import lifecycle
from apps.workspaces import storage
from apps.workspaces.models import Datastore
from apps.workspaces.services.compute import compute_create
from tests.executors.test_remote_engine import tcp_engine  # noqa: F401 - a fixture
from tests.jobs.test_runner_support import (  # noqa: F401 - fixtures
    docker_runner,
    docker_status,
    job_dir,
    lines,
    make_job,
    statuses,
)

S = Job.Status


@pytest.fixture
def attached(tcp_engine, workspace, owner):
    compute, _ = compute_create(
        actor=owner,
        workspace=workspace,
        spec={"name": "gpu-box", "type": "attached", "url": tcp_engine.url, "max_instances": 2},
    )
    return compute


def blobstore(workspace):
    return storage.open_store(Datastore.objects.get(workspace=workspace, name="workspaceblobstore"))


def test_an_attached_engine_gets_the_jobs_files_by_copy_and_its_outputs_come_back(
    docker_runner, attached, tcp_engine, workspace, owner, tmp_path
):
    from apps.jobs import runner

    options = runner.engine_options(attached)
    assert options == {"base_url": tcp_engine.url, "remote": True}
    blobstore(workspace).write_stream("data/iris.csv", io.BytesIO(b"a,b\n1,2\n"))
    code = tmp_path / "src"
    code.mkdir()
    (code / "hello.txt").write_text("from the snapshot\n")
    snapshot = snapshot_from_folder(actor=owner, workspace=workspace, folder=code)
    command = (
        "cat hello.txt && cat ${{inputs.data}}/iris.csv && id -u"
        " && (test -e /var/run/docker.sock && echo socket || echo nosocket)"
        " && (touch ${{inputs.data}}/x 2>/dev/null && echo writable || echo readonly)"
        " && mkdir -p outputs logs && echo art > outputs/a.txt && echo trace > logs/t.log"
        " && echo result > ${{outputs.model}}/m.txt && echo to-upload > ${{outputs.up}}/u.txt"
    )
    spec = {
        "command": command,
        "inputs": {
            "data": {
                "kind": "data", "type": "uri_folder", "mode": "ro_mount",
                "uri": "azureml://datastores/workspaceblobstore/paths/data/",
            },
        },
        "outputs": {
            "model": {
                "type": "uri_folder", "mode": "rw_mount",
                "uri": "azureml://datastores/workspaceblobstore/paths/out/model/",
            },
            "up": {
                "type": "uri_folder", "mode": "upload",
                "uri": "azureml://datastores/workspaceblobstore/paths/out/up/",
            },
        },
    }  # fmt: skip
    job = make_job(workspace, owner, spec, compute=attached)
    job.code = snapshot
    job.save(update_fields=["code"])
    before = tcp_engine.connections
    docker_runner.run(str(job.pk))
    job.refresh_from_db()
    assert job.status == S.COMPLETED, (job.error, lines(job))
    texts = [text for _, stream, text in lines(job) if stream != "system"]
    assert texts == ["from the snapshot", "a,b", "1,2", "1000", "nosocket", "readonly"]
    system = [text for _, stream, text in lines(job) if stream == "system"]
    assert f"Copying the job's files to the Docker engine at {tcp_engine.url}" in system
    assert [seq for seq, _, _ in lines(job)] == list(range(1, job.log_seq + 1))
    store = blobstore(workspace)
    assert store.read_head("out/model/m.txt", 10) == b"result\n"
    assert store.read_head("out/up/u.txt", 20) == b"to-upload\n"
    base = f"{job.experiment_id}/{job.run_id}/artifacts"
    assert artifacts.is_file(workspace, f"{base}/outputs/a.txt")
    assert artifacts.is_file(workspace, f"{base}/logs/t.log")
    assert job.handle["compute"] == str(attached.pk)
    assert tcp_engine.connections > before  # the job went through the compute's URL
    assert statuses(job) == [S.PREPARING, S.RUNNING, S.FINALIZING, S.COMPLETED]


@pytest.mark.django_db(transaction=True)
def test_cancel_on_an_attached_engine_stops_the_job(
    docker_runner, attached, tcp_engine, workspace, owner, django_capture_on_commit_callbacks
):
    job = make_job(
        workspace, owner, {"command": "trap '' TERM; echo started; sleep 60"}, compute=attached
    )
    thread = threading.Thread(target=docker_runner.run, args=(str(job.pk),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while job.status != S.RUNNING and time.monotonic() < deadline:
        time.sleep(0.1)
        job.refresh_from_db()
    assert job.status == S.RUNNING
    handle = Handle.decode(job.handle["encoded"])
    assert docker_runner.handle_compute(handle) == attached  # the engine cancel will use
    time.sleep(0.5)
    before = tcp_engine.connections
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.job_cancel(actor=owner, job=job)
    assert time.monotonic() - started < 20  # the job itself would run 60 s
    assert tcp_engine.connections > before
    thread.join(20)
    job.refresh_from_db()
    assert job.status == S.CANCELED
    assert S.CANCEL_REQUESTED in statuses(job)


def test_only_a_unix_engine_shares_this_machines_files_unless_the_compute_says_so(attached, owner):
    """A unix:// engine shares this machine's files; tcp:// and ssh:// do not (unless the
    compute's config says `remote: false`)."""
    from apps.jobs import runner

    attached.config = {**attached.config, "url": "unix:///var/run/docker.sock"}
    assert runner.engine_options(attached)["remote"] is False
    attached.config = {**attached.config, "url": "tcp://10.0.0.5:2375", "remote": False}
    assert runner.engine_options(attached)["remote"] is False
    attached.config = {"url": "ssh://studio@10.0.0.5", "ssh_known_hosts": "10.0.0.5 ssh-ed25519 A"}
    options = runner.engine_options(attached)
    assert options["remote"] is True
    assert options["ssh"] == {"private_key": "", "known_hosts": "10.0.0.5 ssh-ed25519 A"}
