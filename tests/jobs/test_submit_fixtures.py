"""Fixtures of the job submit tests (imported by test_submit*.py; no tests here): an
environment version, a cluster, a data asset, a code snapshot, and a way to submit without
reaching the queue (the enqueue call is the unit boundary; one end-to-end test runs it)."""

from __future__ import annotations

import io
import zipfile

import pytest

from apps.assets.models import Kind
from apps.assets.services import code as code_services
from apps.assets.services import versions as version_services
from apps.workspaces.models import Compute


@pytest.fixture
def environment(workspace, owner):
    return version_services.version_create(
        actor=owner,
        workspace=workspace,
        kind=Kind.ENVIRONMENT,
        name="sklearn",
        version="1",
        fields={"source": "image", "image": "studio-base:bookworm-py311-r2", "spec_hash": "0" * 64},
    )


@pytest.fixture
def cluster(workspace):
    return Compute.objects.create(workspace=workspace, name="cpu-cluster", type="amlcompute")


@pytest.fixture
def data_asset(workspace, owner):
    return version_services.version_create(
        actor=owner,
        workspace=workspace,
        kind=Kind.DATA,
        name="iris",
        version="3",
        fields={
            "type": "uri_file",
            "path": "azureml://datastores/workspaceblobstore/paths/iris.csv",
        },
    )


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture
def snapshot(workspace, owner):
    body = zip_bytes({"train.py": b"print('hello')\n"})
    return code_services.snapshot_create(actor=owner, workspace=workspace, fileobj=io.BytesIO(body))


@pytest.fixture
def enqueued(monkeypatch):
    """The jobs handed to the queue (the call is patched: submit is tested on its own)."""
    from apps.jobs.services import submit

    seen: list = []
    monkeypatch.setattr(submit, "_enqueue", seen.append)
    return seen
