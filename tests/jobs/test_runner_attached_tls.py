# ruff: noqa: F811 - fixtures imported from the runner's support
"""An attached compute whose engine wants TLS client certificates, as docs/compute.md tells
a user to set one up: `url: tcp://host:port` and `tls: {ca_cert, client_cert, client_key}`,
kept in the workspace's vault.

The engine is a second, real dockerd on this machine (tests/executors/second_engine.py)
listening on tcp://127.0.0.1:<free port> with `--tlsverify` and a throwaway CA made here
with `cryptography`: no relay, the studio's TLS client talks to dockerd's TLS server. It
starts empty, so the first job's image is sent there first (about 20 s for the base image):
one engine for the whole module."""

from __future__ import annotations

import subprocess
import time

import docker
import pytest

from apps.jobs.models import Job
from apps.workspaces.services.compute import _seal, compute_create
from studio.errors import ValidationError
from tests.conftest import require_service
from tests.executors.conftest import BASE_IMAGE
from tests.executors.second_engine import EngineTLS, SecondEngine
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


@pytest.fixture(scope="module")
def tls_engine(docker_status):
    """A second dockerd that answers only TLS clients holding a certificate of its CA."""
    ready, why = docker_status
    require_service("Docker", ready, why)
    ok, why = SecondEngine.available()
    require_service("a second Docker engine", ok, why)
    engine = SecondEngine(tls=EngineTLS.generate())
    engine.start()
    yield engine
    engine.close()
    # the machine's engine keeps its bridge (a `--bridge none` dockerd would delete it)
    assert subprocess.run(["ip", "link", "show", "docker0"], capture_output=True).returncode == 0


def _tls(engine: SecondEngine, **changes) -> dict:
    tls = engine.tls
    return {
        "ca_cert": tls.ca_cert,
        "client_cert": tls.client_cert,
        "client_key": tls.client_key,
        **changes,
    }


@pytest.mark.django_db(transaction=True)
def test_a_job_runs_on_an_attached_engine_that_requires_tls_client_certificates(
    docker_runner, tls_engine, workspace, owner
):
    compute, _ = compute_create(
        actor=owner,
        workspace=workspace,
        spec={
            "name": "tls-box",
            "type": "attached",
            "url": tls_engine.tcp_url,
            "max_instances": 1,
            "tls": _tls(tls_engine),
        },
    )
    assert compute.config["tls"] == {"enabled": True, "verify": True}
    assert compute.config["engine"]["version"]  # the save-time check got in with TLS
    stored = bytes(compute.credentials)
    assert b"BEGIN" not in stored and tls_engine.tls.client_key.encode() not in stored
    job = make_job(workspace, owner, {"command": "echo over tls; id -u"}, compute=compute)

    docker_runner.run(str(job.pk))

    job.refresh_from_db()
    assert job.status == S.COMPLETED, (job.error, lines(job))
    output = [text for _, stream, text in lines(job) if stream != "system"]
    assert output == ["over tls", "1000"], lines(job)
    system = [text for _, stream, text in lines(job) if stream == "system"]
    assert any(t.startswith(f"image {BASE_IMAGE} sent to {tls_engine.tcp_url}") for t in system)
    assert statuses(job) == [S.PREPARING, S.RUNNING, S.FINALIZING, S.COMPLETED]
    # the job really ran on the TLS engine: its container was made and removed there
    remote = tls_engine.client()
    assert remote.images.get(BASE_IMAGE)
    assert remote.containers.list(all=True, filters={"label": "studio.managed=true"}) == []
    remote.close()


def test_the_tls_engine_refuses_a_client_without_a_certificate_of_its_ca(tls_engine):
    """The engine really checks client certificates: no certificate, or one of another CA,
    gets no answer (what the failing cases below rely on)."""
    ca, cert, key = EngineTLS.stranger()
    for tls in (
        False,
        docker.tls.TLSConfig(ca_cert=_file(tls_engine, "ca", tls_engine.tls.ca_cert)),
    ):
        with pytest.raises(docker.errors.DockerException):
            docker.DockerClient(base_url=tls_engine.tcp_url, tls=tls, timeout=5).version()
    stranger = docker.tls.TLSConfig(
        ca_cert=_file(tls_engine, "ca", tls_engine.tls.ca_cert),
        client_cert=(_file(tls_engine, "c", cert), _file(tls_engine, "k", key)),
    )
    with pytest.raises(docker.errors.DockerException):
        docker.DockerClient(base_url=tls_engine.tcp_url, tls=stranger, timeout=5).version()


def _file(engine: SecondEngine, name: str, text: str) -> str:
    path = f"{engine.root}/test-{name}.pem"
    with open(path, "w") as fh:
        fh.write(text)
    return path


@pytest.mark.django_db(transaction=True)
def test_a_client_certificate_of_another_ca_is_refused_on_save_with_a_tls_reason(
    tls_engine, workspace, owner
):
    _, cert, key = EngineTLS.stranger()
    started = time.monotonic()
    with pytest.raises(ValidationError) as caught:
        compute_create(
            actor=owner,
            workspace=workspace,
            spec={
                "name": "stranger-box",
                "type": "attached",
                "url": tls_engine.tcp_url,
                "tls": _tls(tls_engine, client_cert=cert, client_key=key),
            },
        )
    assert time.monotonic() - started < 30  # refused, not left to hang
    message = caught.value.fields["url"][0]
    assert message.startswith(f"The Docker engine at {tls_engine.tcp_url} does not answer: ")
    assert "TLS: the engine refused the client certificate (tls.client_cert)" in message, message


@pytest.mark.django_db(transaction=True)
def test_a_job_on_an_engine_that_no_longer_trusts_its_client_certificate_fails_with_the_tls_reason(
    docker_runner, tls_engine, workspace, owner
):
    """The compute was saved with good certificates; then the vault holds one of another
    CA (a certificate replaced by the wrong one, an engine whose CA was rotated): the job
    fails, saying why, instead of hanging or crashing."""
    compute, _ = compute_create(
        actor=owner,
        workspace=workspace,
        spec={"name": "rotated-box", "type": "attached", "url": tls_engine.tcp_url,
              "tls": _tls(tls_engine)},
    )  # fmt: skip
    _, cert, key = EngineTLS.stranger()
    compute.credentials = _seal(workspace, _tls(tls_engine, client_cert=cert, client_key=key))
    compute.save(update_fields=["credentials"])
    job = make_job(workspace, owner, {"command": "echo never"}, compute=compute)

    started = time.monotonic()
    docker_runner.run(str(job.pk))

    assert time.monotonic() - started < 60
    job.refresh_from_db()
    assert job.status == S.FAILED, (job.error, lines(job))
    assert job.error.startswith(f"executor: TLS with the engine at {tls_engine.tcp_url}: "), (
        job.error
    )
    assert "the engine refused the client certificate (tls.client_cert)" in job.error
    assert not [t for _, stream, t in lines(job) if stream != "system"]
