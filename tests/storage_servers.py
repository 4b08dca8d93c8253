"""Real storage servers for the datastore tests, started once per test session (per xdist
worker) and stopped at its end:

- Azurite (Microsoft's Azure Storage emulator, from the repo's package.json: `npm ci`) for
  `azure_blob` datastores, with its well-known development account;
- moto in server mode (`moto_server`, from the test extra) for `s3` datastores, with IAM
  checks on: the fixture makes a user with an access key, and a wrong secret is refused
  with 403, as a real S3 server would.

Import the fixtures where they are needed:

    from tests.storage_servers import azurite, azure_container, moto_s3, s3_bucket  # noqa: F401

With CI=true a missing server fails the tests that need it (require_service). The start
functions need neither Django nor pytest: benchmarks/datastore_roundtrip.py uses them too.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
AZURITE_BIN = ROOT / "node_modules" / ".bin" / "azurite-blob"
MOTO_BIN = Path(sys.executable).parent / "moto_server"
# Azurite's well-known development account (published in Microsoft's documentation).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


@dataclass(frozen=True)
class AzuriteServer:
    account_url: str
    account_name: str = AZURITE_ACCOUNT
    account_key: str = AZURITE_KEY

    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={self.account_name};"
            f"AccountKey={self.account_key};BlobEndpoint={self.account_url};"
        )


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    access_key_id: str
    secret_access_key: str
    region: str = "us-east-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, name: str, log: Path, timeout=60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{name} did not answer on port {port} within {timeout}s")


def _stop(proc: subprocess.Popen, *, kill: bool = False) -> None:
    """Stop a server. Azurite waits minutes for idle keep-alive connections on SIGTERM, and
    its data is a throwaway folder, so it is killed outright."""
    if proc.poll() is None and kill:
        proc.kill()
        proc.wait(timeout=10)
    elif proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def start_azurite(folder: Path) -> tuple[subprocess.Popen, AzuriteServer]:
    """Start Azurite's blob service on a free port, its data in `folder`."""
    port = free_port()
    log = folder / "azurite.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(AZURITE_BIN),
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                str(port),
                "--location",
                str(folder),
                "--silent",
                "--skipApiVersionCheck",
                "--loose",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _wait_for_port(port, proc, "Azurite", log)
    return proc, AzuriteServer(account_url=f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}")


def start_moto(folder: Path) -> tuple[subprocess.Popen, S3Server]:
    """Start moto's S3 server with IAM checks on and make a user with an access key."""
    import boto3

    port = free_port()
    log = folder / "moto.log"
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3"}  # the three IAM calls below
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(MOTO_BIN), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    _wait_for_port(port, proc, "moto_server", log)
    endpoint = f"http://127.0.0.1:{port}"
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    iam.create_user(UserName="studio")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }
    iam.put_user_policy(UserName="studio", PolicyName="s3", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="studio")["AccessKey"]
    return proc, S3Server(endpoint, key["AccessKeyId"], key["SecretAccessKey"])


@pytest.fixture(scope="session")
def azurite(tmp_path_factory) -> AzuriteServer:
    """A running Azurite blob service (one per test session and xdist worker)."""
    from tests.conftest import require_service

    available = AZURITE_BIN.exists() and shutil.which("node") is not None
    require_service("Azurite", available, "run `npm ci` at the repo root (scripts/setup.sh does)")
    proc, server = start_azurite(tmp_path_factory.mktemp("azurite"))
    yield server
    _stop(proc, kill=True)


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory) -> S3Server:
    """A running S3 server (moto) with a user whose access key the tests use."""
    from tests.conftest import require_service

    require_service(
        "moto_server", MOTO_BIN.exists(), "install the test extra: pip install -e .[test]"
    )
    proc, server = start_moto(tmp_path_factory.mktemp("moto"))
    yield server
    _stop(proc)


def make_container(server: AzuriteServer, name: str | None = None) -> str:
    from azure.storage.blob import BlobServiceClient

    name = name or f"c-{uuid.uuid4().hex[:12]}"
    with BlobServiceClient.from_connection_string(server.connection_string()) as client:
        client.create_container(name)
    return name


def make_bucket(server: S3Server, name: str | None = None) -> str:
    import boto3

    name = name or f"b-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=server.endpoint_url,
        region_name=server.region,
        aws_access_key_id=server.access_key_id,
        aws_secret_access_key=server.secret_access_key,
    )
    client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def azure_container(azurite) -> str:
    """A new, empty blob container in Azurite for one test."""
    return make_container(azurite)


@pytest.fixture
def s3_bucket(moto_s3) -> str:
    """A new, empty bucket in the S3 server for one test."""
    return make_bucket(moto_s3)


def azure_fields(server: AzuriteServer, container: str, **overrides) -> dict:
    """The fields of an azure_blob datastore on Azurite, as the service and API take them."""
    fields = {
        "type": "azure_blob",
        "account_name": server.account_name,
        "container_name": container,
        "endpoint": server.account_url,
        "credentials": {"account_key": server.account_key},
    }
    fields.update(overrides)
    return fields


def s3_fields(server: S3Server, bucket: str, **overrides) -> dict:
    fields = {
        "type": "s3",
        "bucket": bucket,
        "endpoint_url": server.endpoint_url,
        "region": server.region,
        "credentials": {
            "access_key_id": server.access_key_id,
            "secret_access_key": server.secret_access_key,
        },
    }
    fields.update(overrides)
    return fields
