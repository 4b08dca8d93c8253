# ruff: noqa: F811 - fixtures imported from test_runner_support
"""The runner on real containers: inputs mounted read-only, outputs written and registered,
./outputs uploaded as artifacts, a non-root user without the Docker socket, the code
snapshot as working directory, timeout, cancel within 2 s, a progress bar's last state, and
a metric logged from the container to a live studio through the REST API."""

from __future__ import annotations

import io
import json
import threading
import time

import pytest
from django.test.testcases import LiveServerThread, _StaticFilesHandler

from apps.assets.models import DataVersion
from apps.assets.services.code import snapshot_from_folder
from apps.jobs import artifacts
from apps.jobs.models import Job, LatestMetric
from apps.jobs.services import lifecycle
from apps.workspaces import storage
from apps.workspaces.models import Datastore
from tests.jobs.test_runner_support import (  # noqa: F401 - fixtures
    docker_runner,
    docker_status,
    job_dir,
    lines,
    make_job,
    statuses,
)

S = Job.Status


def texts(job) -> list[str]:
    return [text for _, stream, text in lines(job) if stream != "system"]


def blobstore(workspace):
    return storage.open_store(Datastore.objects.get(workspace=workspace, name="workspaceblobstore"))


def test_a_container_job_reads_inputs_writes_outputs_and_uploads_artifacts(
    docker_runner, workspace, owner, tmp_path
):
    blobstore(workspace).write_stream("data/iris.csv", io.BytesIO(b"a,b\n1,2\n"))
    code = tmp_path / "src"
    code.mkdir()
    (code / "hello.txt").write_text("from the snapshot\n")
    snapshot = snapshot_from_folder(actor=owner, workspace=workspace, folder=code)
    command = (
        "cat hello.txt && cat ${{inputs.data}}/iris.csv && id -u && echo $AZURE_ML_INPUT_data"
        " && (touch ${{inputs.data}}/x 2>/dev/null && echo writable || echo readonly)"
        " && (test -e /var/run/docker.sock && echo socket || echo nosocket)"
        " && mkdir -p outputs && echo art > outputs/a.txt && echo m > ${{outputs.model}}/m.txt"
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
                "type": "uri_folder", "mode": "upload",
                "uri": "azureml://datastores/workspaceblobstore/paths/out/model/",
                "register": {"name": "trained"},
            },
        },
    }  # fmt: skip
    job = make_job(workspace, owner, spec)
    job.code = snapshot
    job.save(update_fields=["code"])
    docker_runner.run(str(job.pk))
    job.refresh_from_db()
    assert job.status == S.COMPLETED, (job.error, lines(job))
    assert texts(job) == [
        "from the snapshot", "a,b", "1,2", "1000", "/mnt/inputs/data", "readonly", "nosocket",
    ]  # fmt: skip
    base = f"{job.experiment_id}/{job.run_id}/artifacts/outputs/a.txt"
    assert artifacts.is_file(workspace, base)
    assert blobstore(workspace).read_head("out/model/m.txt", 10) == b"m\n"
    version = DataVersion.objects.get(name="trained")
    assert version.created_by_job_id == job.pk and version.path.endswith("out/model/")
    assert statuses(job) == [S.PREPARING, S.RUNNING, S.FINALIZING, S.COMPLETED]


def test_limits_timeout_ends_a_job_as_failed_with_the_reason(docker_runner, workspace, owner):
    job = make_job(workspace, owner, {"command": "sleep 30", "timeout_s": 1})
    started = time.monotonic()
    docker_runner.run(str(job.pk))
    job.refresh_from_db()
    assert time.monotonic() - started < 15
    assert job.status == S.FAILED and "timeout" in job.error


def test_a_progress_bar_stores_its_last_state_and_a_failure_its_stderr(
    docker_runner, workspace, owner
):
    command = "printf '10%%\\r50%%\\r100%%\\n'; echo oops >&2; exit 4"
    job = make_job(workspace, owner, {"command": command})
    docker_runner.run(str(job.pk))
    job.refresh_from_db()
    assert sorted(texts(job)) == ["100%", "oops"]
    assert [seq for seq, _, _ in lines(job)] == list(range(1, job.log_seq + 1))
    assert job.status == S.FAILED and job.exit_code == 4 and job.error.endswith("oops")


def _run_in_thread(runner, job):
    thread = threading.Thread(target=runner.run, args=(str(job.pk),), daemon=True)
    thread.start()
    return thread


def _wait_status(job, wanted, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status in wanted:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job stayed {job.status}")


@pytest.mark.django_db(transaction=True)
def test_cancel_stops_a_running_container_that_ignores_sigterm(
    docker_runner, workspace, owner, django_capture_on_commit_callbacks
):
    job = make_job(workspace, owner, {"command": "trap '' TERM; echo started; sleep 60"})
    thread = _run_in_thread(docker_runner, job)
    _wait_status(job, {S.RUNNING})
    time.sleep(0.5)
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.job_cancel(actor=owner, job=job)
    assert time.monotonic() - started < 20  # the job itself would run 60 s
    thread.join(20)
    job.refresh_from_db()
    assert job.status == S.CANCELED
    assert S.CANCEL_REQUESTED in statuses(job)


@pytest.fixture
def open_live_server(transactional_db, settings):
    """The studio on 0.0.0.0, so a container reaches it through host-gateway."""
    settings.ALLOWED_HOSTS = ["*"]
    thread = LiveServerThread("0.0.0.0", _StaticFilesHandler, port=0)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    settings.STUDIO_JOB_STUDIO_URL = f"http://studio-host:{thread.port}"
    yield thread
    thread.terminate()


LOG_METRIC = """python - <<'PY'
import json, os, time, urllib.request
body = json.dumps({"run_id": os.environ["MLFLOW_RUN_ID"], "key": "accuracy", "value": 0.93,
                   "timestamp": int(time.time() * 1000), "step": 1}).encode()
request = urllib.request.Request(
    os.environ["MLFLOW_TRACKING_URI"] + "/api/2.0/mlflow/runs/log-metric", data=body,
    headers={"Authorization": "Bearer " + os.environ["MLFLOW_TRACKING_TOKEN"],
             "Content-Type": "application/json"})
print(urllib.request.urlopen(request, timeout=20).status)
PY"""


def test_a_container_logs_a_metric_to_the_studio_with_its_run_token(
    docker_runner, open_live_server, workspace, owner
):
    job = make_job(workspace, owner, {"command": LOG_METRIC})
    docker_runner.run(str(job.pk))
    job.refresh_from_db()
    assert job.status == S.COMPLETED, (job.error, json.dumps(lines(job)))
    assert texts(job) == ["200"]
    assert LatestMetric.objects.get(job=job, key="accuracy").value == 0.93
