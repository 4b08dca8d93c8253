"""A second, real Docker engine on this machine, with an image store of its own.

To prove that an image is sent to an engine that lacks it, the engine must really lack it:
this machine's own engine reached over TCP already has every image. `SecondEngine` starts
another `dockerd` (the same binary as the machine's engine, nothing downloaded) with its own
data root, exec root and socket, a bridge of its own (made here, 10.254.<n>.1/24) and no
iptables rules, so it leaves the first engine's network alone. Never `--bridge none`: a
dockerd started with it deletes the host's `docker0`, the first engine's bridge. It starts
in about 3 s; close() stops it and removes its folders and its bridge. Needs root, dockerd
and iproute2, as the machine's engine does.

`SecondEngine(tls=EngineTLS.generate())` also listens on tcp://127.0.0.1:<free port> with
`--tlsverify`: only a client holding a certificate of that throwaway CA gets in, as on a
machine set up by Docker's "Protect the Docker daemon socket" guide. `EngineTLS` makes the
CA, the server's certificate (SAN 127.0.0.1 and localhost) and a client's, with
`cryptography`; `EngineTLS.stranger()` gives a client certificate of another CA.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pem_key(key) -> str:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _certificate(name: str, key, issuer=None, issuer_key=None, *, ca=False, server=False):
    """An X.509 certificate for `key`, self-signed unless `issuer`/`issuer_key` are given."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer is not None else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )  # fmt: skip
    else:
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if server:
        names = [x509.DNSName("localhost"), x509.IPAddress(IPv4Address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer_key if issuer_key is not None else key, hashes.SHA256())


def _pem_cert(cert) -> str:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM).decode()


@dataclass(frozen=True)
class EngineTLS:
    """PEM texts: a throwaway CA, the engine's certificate and key, and a client's."""

    ca_cert: str
    server_cert: str
    server_key: str
    client_cert: str
    client_key: str

    @staticmethod
    def _ca(name: str):
        from cryptography.hazmat.primitives.asymmetric import ec

        key = ec.generate_private_key(ec.SECP256R1())
        return key, _certificate(name, key, ca=True)

    @staticmethod
    def _issue(ca, name: str, *, server: bool) -> tuple[str, str]:
        from cryptography.hazmat.primitives.asymmetric import ec

        ca_key, ca_cert = ca
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _certificate(name, key, ca_cert, ca_key, server=server)
        return _pem_cert(cert), _pem_key(key)

    @classmethod
    def generate(cls) -> EngineTLS:
        ca = cls._ca("studio tests engine CA")
        server_cert, server_key = cls._issue(ca, "127.0.0.1", server=True)
        client_cert, client_key = cls._issue(ca, "studio", server=False)
        return cls(_pem_cert(ca[1]), server_cert, server_key, client_cert, client_key)

    @classmethod
    def stranger(cls) -> tuple[str, str, str]:
        """(CA certificate, client certificate, client key) of another CA."""
        ca = cls._ca("another CA")
        cert, key = cls._issue(ca, "studio", server=False)
        return _pem_cert(ca[1]), cert, key


def _free_gateway() -> str:
    """10.254.<n>.1 for an n no bridge on this machine uses (two test processes may each
    start an engine at once)."""
    taken = subprocess.run(["ip", "-4", "addr"], capture_output=True, text=True).stdout
    free = [n for n in range(20, 220) if f"inet 10.254.{n}." not in taken]
    return f"10.254.{free[uuid.uuid4().int % len(free)]}.1"


class SecondEngine:
    def __init__(self, tls: EngineTLS | None = None) -> None:
        self.tls = tls
        self.tcp_url = f"tcp://127.0.0.1:{free_port()}" if tls is not None else ""
        self.root = tempfile.mkdtemp(prefix="studio-engine2-")
        # exec-root holds unix sockets: keep its path short
        self.exec_root = f"/run/se2-{uuid.uuid4().hex[:8]}"
        self.socket = os.path.join(self.root, "docker.sock")
        self.url = f"unix://{self.socket}"
        self.log_path = os.path.join(self.root, "dockerd.log")
        self.proc: subprocess.Popen | None = None
        self.bridge = f"se2-{uuid.uuid4().hex[:8]}"
        self.gateway = _free_gateway()

    @staticmethod
    def available() -> tuple[bool, str]:
        if shutil.which("ip") is None:
            return False, "no ip command (iproute2)"
        if shutil.which("dockerd") is None:
            return False, "no dockerd binary (apt-get install docker.io)"
        if os.geteuid() != 0:
            return False, "a second dockerd needs root"
        return True, ""

    def start(self, timeout: float = 30.0) -> None:
        config = os.path.join(self.root, "daemon.json")
        with open(config, "w") as fh:
            fh.write("{}")  # not the machine's /etc/docker/daemon.json
        args = ["dockerd", "--config-file", config, "--data-root", f"{self.root}/data"]
        args += ["--exec-root", self.exec_root, "--pidfile", f"{self.root}/dockerd.pid"]
        for cmd in (
            ["ip", "link", "add", "name", self.bridge, "type", "bridge"],
            ["ip", "addr", "add", f"{self.gateway}/24", "dev", self.bridge],
            ["ip", "link", "set", self.bridge, "up"],
        ):
            subprocess.run(cmd, check=True, capture_output=True)
        args += ["-H", self.url, "--bridge", self.bridge, "--iptables=false", "--ip-masq=false"]
        if self.tls is not None:
            files = {}
            for name in ("ca_cert", "server_cert", "server_key"):
                files[name] = os.path.join(self.root, f"{name}.pem")
                fd = os.open(files[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(getattr(self.tls, name))
            args += ["-H", self.tcp_url, "--tlsverify", "--tlscacert", files["ca_cert"]]
            args += ["--tlscert", files["server_cert"], "--tlskey", files["server_key"]]
        log = open(self.log_path, "w")  # noqa: SIM115 - the daemon writes it until close()
        self.proc = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        log.close()
        import docker

        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the second dockerd exited: {self.log_tail()}")
            try:
                client = docker.DockerClient(base_url=self.url, timeout=5)
                client.ping()
                client.close()
                return
            except Exception as exc:
                if time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError(
                        f"the second dockerd did not answer: {self.log_tail()}"
                    ) from exc
                time.sleep(0.2)

    def log_tail(self) -> str:
        try:
            with open(self.log_path) as fh:
                return fh.read()[-1500:]
        except OSError:
            return ""

    def client(self):
        import docker

        return docker.DockerClient(base_url=self.url, timeout=60)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None
        # its containers are gone with it; never delete through a mount it left behind
        for path in (self.exec_root, self.root):
            mounts = [
                line.split()[1]
                for line in open("/proc/mounts").read().splitlines()
                if line.split()[1].startswith(path)
            ]
            for mount in sorted(mounts, reverse=True):
                subprocess.run(["umount", "-l", mount], check=False, capture_output=True)
            shutil.rmtree(path, ignore_errors=True)
        subprocess.run(["ip", "link", "del", self.bridge], check=False, capture_output=True)
