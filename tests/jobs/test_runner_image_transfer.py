# ruff: noqa: F811 - fixtures imported from the runner's and the transfer tests' support
"""A fresh box added as an attached compute runs a job: the job's image is not on its
engine, so the runner's executor sends it there, says so in the job's log, and the job runs.

The box is a second, real dockerd on this machine with an empty image store
(tests/executors/second_engine.py), reached over TCP, so nothing is shared with the studio's
engine: not the images, not the files."""

from __future__ import annotations

import docker
import pytest

from apps.jobs.models import Job
from apps.workspaces.services.compute import compute_create
from tests.executors.conftest import BASE_IMAGE
from tests.executors.test_image_transfer import engine2, redis_url  # noqa: F401 - fixtures
from tests.jobs.test_runner_support import (  # noqa: F401 - fixtures
    docker_runner,
    docker_status,
    job_dir,
    lines,
    make_job,
    statuses,
)

S = Job.Status
pytestmark = pytest.mark.docker


@pytest.mark.django_db(transaction=True)
def test_a_job_on_a_fresh_attached_engine_gets_its_image_sent_and_runs(
    docker_runner, engine2, redis_url, workspace, owner
):
    engine, relay = engine2
    remote = engine.client()
    with pytest.raises(docker.errors.ImageNotFound):
        remote.images.get(BASE_IMAGE)  # the box really lacks the image
    compute, _ = compute_create(
        actor=owner,
        workspace=workspace,
        spec={"name": "fresh-box", "type": "attached", "url": relay.url, "max_instances": 1},
    )
    job = make_job(
        workspace, owner, {"command": "echo ran on the box; python3 -V"}, compute=compute
    )

    docker_runner.run(str(job.pk))

    job.refresh_from_db()
    assert job.status == S.COMPLETED, (job.error, lines(job))
    system = [text for _, stream, text in lines(job) if stream == "system"]
    sending = [i for i, t in enumerate(system) if t.startswith(f"image {BASE_IMAGE} not on ")]
    sent = [i for i, t in enumerate(system) if t.startswith(f"image {BASE_IMAGE} sent to ")]
    assert sending and sent and sending[0] < sent[0], system
    output = [text for _, stream, text in lines(job) if stream != "system"]
    assert output[0] == "ran on the box" and output[1].startswith("Python 3.11"), output
    # one numbering for the studio's lines and the job's, without gaps or repeats
    assert [seq for seq, _, _ in lines(job)] == list(range(1, job.log_seq + 1))
    assert remote.images.get(BASE_IMAGE).id == docker.from_env().images.get(BASE_IMAGE).id
    assert statuses(job) == [S.PREPARING, S.RUNNING, S.FINALIZING, S.COMPLETED]
    remote.close()
