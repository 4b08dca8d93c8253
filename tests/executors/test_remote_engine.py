# ruff: noqa: F811 - fixtures imported from the executors conftest
"""The Docker executor on an engine addressed by URL, without this machine's files.

This machine's engine is exposed on a TCP port of 127.0.0.1 by a small relay started here
(`tcp_engine`: bytes between a TCP socket and /var/run/docker.sock, nothing installed), and
the executor is told it is `remote`: the job's files are copied in with put_archive and its
outputs copied back with get_archive, exactly as for another machine. A real TLS engine and
a real sshd are in tests/jobs/test_runner_attached_tls.py and test_runner_attached_ssh.py.
"""

from __future__ import annotations

import os
import socket
import stat
import threading
import time
import uuid
from pathlib import Path

import pytest

from apps.jobs.executors import Mount, OutcomeKind, RunSpec, SpecError, get_executor
from tests.conftest import require_service
from tests.executors.conftest import BASE_IMAGE, docker_status  # noqa: F401 - a fixture

DOCKER_SOCKET = "/var/run/docker.sock"


class EngineRelay:
    """A TCP listener on 127.0.0.1 whose connections are relayed to the engine's socket."""

    def __init__(self, unix_path: str = DOCKER_SOCKET):
        self.unix_path = unix_path
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.port = self.server.getsockname()[1]
        self.url = f"tcp://127.0.0.1:{self.port}"
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return  # closed
            self.connections += 1
            engine = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                engine.connect(self.unix_path)
            except OSError:
                client.close()
                continue
            done = threading.Barrier(2, action=lambda c=client, e=engine: (c.close(), e.close()))
            for a, b in ((client, engine), (engine, client)):
                threading.Thread(target=self._pipe, args=(a, b, done), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket, done: threading.Barrier) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            try:
                done.wait(timeout=3600)
            except threading.BrokenBarrierError:
                pass

    def close(self) -> None:
        self.server.close()


@pytest.fixture(scope="session")
def tcp_engine(docker_status):  # noqa: F811
    """This machine's engine at tcp://127.0.0.1:<free port>."""
    ready, why = docker_status
    require_service("Docker", ready and os.path.exists(DOCKER_SOCKET), why or DOCKER_SOCKET)
    relay = EngineRelay()
    yield relay
    relay.close()


@pytest.fixture
def remote_executor(tcp_engine):
    executor = get_executor(
        "docker",
        base_url=tcp_engine.url,
        remote=True,
        instance=f"remote-{uuid.uuid4().hex[:10]}",
        heartbeat_seconds=0.5,
        metrics_interval_seconds=None,
    )
    yield executor
    for orphan in executor.find_orphans():
        executor.cleanup(orphan.handle)
    executor.close()


def _run(executor, spec: RunSpec):
    handle = executor.start(spec)
    events = [e for e in executor.events(handle) if getattr(e, "partial", None) is False]
    outcome = None
    for _ in range(50):
        outcome = executor.poll(handle)
        if outcome is not None:
            break
        time.sleep(0.1)
    return handle, events, outcome


def test_a_remote_engine_gets_copies_of_code_and_inputs_and_gives_back_outputs(
    remote_executor, tcp_engine, tmp_path
):
    code, data, out, back = (tmp_path / n for n in ("code", "data", "out", "back"))
    for folder in (code, data, out):
        folder.mkdir()
    (code / "main.sh").write_text("echo from the code\n")
    (data / "rows.csv").write_text("a,b\n1,2\n")
    (data / "nested").mkdir()
    (data / "nested" / "deep.txt").write_text("deep\n")
    os.chmod(tmp_path, 0o700)  # the engine never reads these host folders: it gets copies
    command = (
        "bash main.sh && cat /mnt/inputs/data/rows.csv /mnt/inputs/data/nested/deep.txt"
        " && (touch /mnt/inputs/data/x 2>/dev/null && echo writable || echo readonly)"
        " && id -u && echo result > /mnt/outputs/model/m.txt && mkdir -p outputs logs"
        " && echo art > outputs/a.txt && echo done > logs/run.log && echo oops >&2"
    )
    spec = RunSpec(
        job_id=str(uuid.uuid4()),
        command=command,
        image=BASE_IMAGE,
        working_dir="/mnt/code",
        copy_in=(
            Mount(str(code), "/mnt/code", False),
            Mount(str(data), "/mnt/inputs/data", True),
            Mount(str(out), "/mnt/outputs/model", False),
        ),
        copy_out=(
            Mount(str(back / "outputs"), "/mnt/code/outputs"),
            Mount(str(back / "logs"), "/mnt/code/logs"),
            Mount(str(back / "never"), "/mnt/code/never-made"),
            Mount(str(out), "/mnt/outputs/model"),
        ),
    )
    handle, events, outcome = _run(remote_executor, spec)
    assert outcome.kind == OutcomeKind.SUCCEEDED, (outcome, events)
    assert [(e.stream, e.text) for e in events] == [
        ("stdout", "from the code"),
        ("stdout", "a,b"),
        ("stdout", "1,2"),
        ("stdout", "deep"),
        ("stdout", "readonly"),
        ("stdout", "1000"),
        ("stderr", "oops"),
    ]
    copied = remote_executor.collect(handle)
    assert copied == ["/mnt/code/outputs", "/mnt/code/logs", "/mnt/outputs/model"]
    assert (out / "m.txt").read_text() == "result\n"
    assert (back / "outputs" / "a.txt").read_text() == "art\n"
    assert (back / "logs" / "run.log").read_text() == "done\n"
    assert not (back / "never").exists()
    assert tcp_engine.connections > 0  # it went through the TCP URL, not the socket
    remote_executor.cleanup(handle)


def test_a_remote_engine_refuses_bind_mounts_and_missing_copies(remote_executor, tmp_path):
    with pytest.raises(SpecError) as caught:
        remote_executor.start(
            RunSpec(
                job_id=str(uuid.uuid4()),
                command="true",
                image=BASE_IMAGE,
                mounts=(Mount(str(tmp_path), "/mnt/x"),),
            )
        )
    assert caught.value.field == "mounts"
    with pytest.raises(SpecError) as caught:
        remote_executor.start(
            RunSpec(
                job_id=str(uuid.uuid4()),
                command="true",
                image=BASE_IMAGE,
                copy_in=(Mount(str(tmp_path / "gone"), "/mnt/x"),),
            )
        )
    assert caught.value.field == "copy_in[0].source"
    assert remote_executor.find_orphans() == []  # start() left nothing behind


def test_a_remote_engine_gets_a_copy_of_the_ca_bundle(remote_executor, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\nstudio test\n-----END CERTIFICATE-----\n")
    spec = RunSpec(
        job_id=str(uuid.uuid4()),
        command='head -2 "$SSL_CERT_FILE" | tail -1',
        image=BASE_IMAGE,
        ca_bundle=str(bundle),
    )
    handle, events, outcome = _run(remote_executor, spec)
    assert outcome.kind == OutcomeKind.SUCCEEDED, (outcome, events)
    assert [e.text for e in events] == ["studio test"]
    remote_executor.cleanup(handle)


def test_cancel_on_a_remote_engine_stops_the_job(remote_executor):
    spec = RunSpec(
        job_id=str(uuid.uuid4()), command="trap '' TERM; echo up; sleep 60", image=BASE_IMAGE
    )
    handle = remote_executor.start(spec)
    time.sleep(1.0)  # running, TERM ignored
    assert remote_executor.poll(handle) is None
    started = time.monotonic()
    remote_executor.cancel(handle)
    assert time.monotonic() - started < 20  # the job itself would run 60 s
    assert remote_executor.poll(handle).kind == OutcomeKind.CANCELED
    remote_executor.cleanup(handle)


def test_tls_credentials_live_in_a_private_folder_removed_on_close():
    pem = "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n"
    executor = get_executor(
        "docker",
        base_url="tcp://127.0.0.1:1",
        remote=True,
        tls={"ca_cert": pem, "client_cert": pem, "client_key": "-----BEGIN PRIVATE KEY-----\n"},
    )
    config = executor._tls_config()
    folder = Path(executor._secret_dir)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert config.cert == (str(folder / "client_cert.pem"), str(folder / "client_key.pem"))
    assert config.verify == str(folder / "ca_cert.pem")
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (folder / "client_key.pem").read_text() == "-----BEGIN PRIVATE KEY-----\n"
    executor.close()
    assert not folder.exists()


def test_an_ssh_engine_without_pinned_keys_accepts_the_first_one():
    executor = get_executor("docker", base_url="ssh://gpu-box.invalid", ssh={})
    args = executor.ssh_command()
    assert "StrictHostKeyChecking=accept-new" in args
    assert "-i" not in args
    executor.close()
