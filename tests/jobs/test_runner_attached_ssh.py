# ruff: noqa: F811 - fixtures imported from the runner's support
"""An attached compute reached over ssh://, with a real OpenSSH server.

`SshServer` runs this machine's sshd (`openssh-server`, installed by scripts/services.sh)
as `sshd -D -f <its own config>` on a free port of 127.0.0.1 only, with a host key of its
own and key-only logins of root from 127.0.0.1, whose authorized key is a fresh ed25519 key
made here. The "remote" machine is this one: sshd runs `docker system dial-stdio` with the
docker CLI against this machine's engine (/var/run/docker.sock), so the job's image is
already there; what is real is the transport: docker's `use_ssh_client` path through the
ssh client, sshd, and the key and pinned host key from the workspace's vault."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from apps.jobs.models import Job
from apps.workspaces.services.compute import compute_create
from tests.conftest import require_service
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
SSHD = "/usr/sbin/sshd"


def _keygen(path: str) -> tuple[str, str]:
    """(private key, public key line) of a new ed25519 key at `path`."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "studio-tests", "-f", path],
        check=True, capture_output=True,
    )  # fmt: skip
    with open(path) as private, open(path + ".pub") as public:
        return private.read(), public.read().strip()


class SshServer:
    """A real sshd on 127.0.0.1:<free port> that lets in root with one key only."""

    def __init__(self) -> None:
        self.root = tempfile.mkdtemp(prefix="studio-sshd-")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.log_path = os.path.join(self.root, "sshd.log")
        self.proc: subprocess.Popen | None = None
        _, self.host_key = _keygen(os.path.join(self.root, "host_ed25519"))
        self.client_key, public = _keygen(os.path.join(self.root, "client_ed25519"))
        with open(os.path.join(self.root, "authorized_keys"), "w") as fh:
            fh.write(public + "\n")
        self.url = f"ssh://root@127.0.0.1:{self.port}"
        # what `ssh-keyscan -p <port> 127.0.0.1` prints, the line a user pins
        self.known_hosts = f"[127.0.0.1]:{self.port} {' '.join(self.host_key.split()[:2])}\n"

    @staticmethod
    def available() -> tuple[bool, str]:
        if not os.access(SSHD, os.X_OK):
            return False, f"no {SSHD} (scripts/services.sh installs openssh-server)"
        for tool in ("ssh", "ssh-keygen", "docker"):
            if shutil.which(tool) is None:
                return False, f"no {tool} command"
        if os.geteuid() != 0:
            return False, "sshd needs root"
        return True, ""

    def start(self, timeout: float = 15.0) -> None:
        config = os.path.join(self.root, "sshd_config")
        with open(config, "w") as fh:
            fh.write(
                f"Port {self.port}\n"
                "ListenAddress 127.0.0.1\n"
                f"HostKey {self.root}/host_ed25519\n"
                f"PidFile {self.root}/sshd.pid\n"
                f"AuthorizedKeysFile {self.root}/authorized_keys\n"
                "AllowUsers root@127.0.0.1\n"
                "PermitRootLogin prohibit-password\n"
                "PubkeyAuthentication yes\n"
                "PasswordAuthentication no\n"
                "KbdInteractiveAuthentication no\n"
                "UsePAM no\n"
                "StrictModes no\n"  # its files live under /tmp (world-writable)
                "X11Forwarding no\n"
                "AllowAgentForwarding no\n"
                "PermitTunnel no\n"
                "LogLevel VERBOSE\n"
            )
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # its privilege-separation dir
        self.proc = subprocess.Popen(
            [SSHD, "-D", "-f", config, "-E", self.log_path],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited: {self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    if sock.recv(64).startswith(b"SSH-2.0-"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"sshd did not answer: {self.log()}")
            time.sleep(0.1)

    def log(self) -> str:
        try:
            with open(self.log_path) as fh:
                return fh.read()
        except OSError:
            return ""

    def logins(self) -> int:
        return self.log().count("Accepted publickey for root from 127.0.0.1")

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # its session: sshd and its children
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.proc = None
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def sshd(docker_status):
    ready, why = docker_status
    require_service("Docker", ready, why)
    pytest.importorskip("paramiko", reason="docker's ssh transport imports it: docker[ssh]")
    ok, why = SshServer.available()
    require_service("an OpenSSH server", ok, why)
    server = SshServer()
    server.start()
    yield server
    server.close()


def _ssh_compute(server: SshServer, workspace, owner, name: str):
    compute, _ = compute_create(
        actor=owner,
        workspace=workspace,
        spec={
            "name": name,
            "type": "attached",
            "url": server.url,
            "max_instances": 1,
            "ssh_private_key": server.client_key,
        },
    )
    return compute


@pytest.mark.django_db(transaction=True)
def test_a_job_runs_on_an_attached_engine_reached_over_real_ssh(
    docker_runner, sshd, workspace, owner
):
    before = sshd.logins()
    compute = _ssh_compute(sshd, workspace, owner, "ssh-box")
    # the save-time check logged in with the vault's key and pinned the host's key
    # (the host's name may be hashed, as Debian's ssh_config asks: HashKnownHosts yes)
    assert compute.config["ssh_known_hosts"].split()[1:] == sshd.known_hosts.split()[1:]
    assert compute.config["engine"]["version"]
    assert sshd.client_key.encode() not in bytes(compute.credentials)
    assert sshd.logins() == before + 1
    job = make_job(workspace, owner, {"command": "echo over ssh; id -u"}, compute=compute)

    docker_runner.run(str(job.pk))

    job.refresh_from_db()
    assert job.status == S.COMPLETED, (job.error, lines(job), sshd.log()[-2000:])
    output = [text for _, stream, text in lines(job) if stream != "system"]
    assert output == ["over ssh", "1000"], lines(job)
    assert statuses(job) == [S.PREPARING, S.RUNNING, S.FINALIZING, S.COMPLETED]
    assert sshd.logins() > before + 1  # the runner's engine calls went through sshd


@pytest.mark.django_db(transaction=True)
def test_a_job_fails_with_the_host_key_reason_when_the_pinned_key_is_not_the_hosts(
    docker_runner, sshd, workspace, owner, tmp_path
):
    compute = _ssh_compute(sshd, workspace, owner, "moved-box")
    # another machine's key pinned for this address (a reinstalled box, or a man in the middle)
    _, other = _keygen(str(tmp_path / "other"))
    pinned = f"[127.0.0.1]:{sshd.port} {' '.join(other.split()[:2])}\n"
    compute.config = {**compute.config, "ssh_known_hosts": pinned}
    compute.save(update_fields=["config"])
    before = sshd.logins()
    job = make_job(workspace, owner, {"command": "echo never"}, compute=compute)

    started = time.monotonic()
    docker_runner.run(str(job.pk))

    assert time.monotonic() - started < 60
    job.refresh_from_db()
    assert job.status == S.FAILED, (job.error, lines(job))
    assert job.error.startswith(f"executor: ssh to the engine at {sshd.url}: Host key for "), (
        job.error
    )
    assert job.error.endswith("Host key verification failed."), job.error
    assert sshd.logins() == before  # never logged in
    assert not [t for _, stream, t in lines(job) if stream != "system"]
