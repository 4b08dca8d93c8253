"""Proxied artifacts: upload, download, listing and deletion under a run's or a logged
model's folder of the workspace's artifact datastore; paths never leave it."""

from __future__ import annotations

import os
import tracemalloc

import pytest
import requests
from django.conf import settings

from apps.jobs.services import logged_models as model_services
from apps.jobs.services import tracking

from .conftest import ARTIFACTS, error_of, token_for

pytestmark = pytest.mark.django_db


def store_root(workspace):
    return settings.STUDIO_HOME / "workspaces" / str(workspace.id) / "workspaceartifactstore"


def put(api, path: str, data: bytes, content_type="application/octet-stream"):
    return api.client.put(f"{ARTIFACTS}/{path}", data, content_type=content_type)


def test_files_go_up_come_down_and_list_relative_to_the_folder(api, run, workspace):
    root = f"{run.experiment_id}/{run.run_id}/artifacts"
    assert put(api, f"{root}/docs/notes.txt", b"hello", "text/plain").status_code == 200
    assert put(api, f"{root}/docs/deep/x.bin", b"\x00\x01").status_code == 200
    assert put(api, f"{root}/top.json", b"{}").status_code == 200
    assert (store_root(workspace) / root / "docs/notes.txt").read_bytes() == b"hello"

    download = api.client.get(f"{ARTIFACTS}/{root}/docs/notes.txt")
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"hello"
    assert "sandbox" in download["Content-Security-Policy"]  # never a page of the studio
    part = api.client.get(f"{ARTIFACTS}/{root}/docs/notes.txt", HTTP_RANGE="bytes=1-3")
    assert (part.status_code, part["Content-Range"]) == (206, "bytes 1-3/5")
    assert b"".join(part.streaming_content) == b"ell"
    listing = api.get(ARTIFACTS, {"path": root}).json()["files"]
    assert listing == [
        {"path": "docs", "is_dir": True},
        {"path": "top.json", "is_dir": False, "file_size": 2},
    ]
    sub = api.get(ARTIFACTS, {"path": f"{root}/docs"}).json()["files"]
    assert [(f["path"], f["is_dir"]) for f in sub] == [("deep", True), ("notes.txt", False)]
    single = api.get(ARTIFACTS, {"path": f"{root}/docs/notes.txt"}).json()["files"]
    assert [f["path"] for f in single] == ["notes.txt"]
    assert api.get(ARTIFACTS, {"path": f"{root}/nothing"}).json() == {}
    legacy = api.get("artifacts/list", {"run_id": run.run_id, "path": "docs"}).json()
    assert legacy["root_uri"] == run.artifact_uri
    assert [f["path"] for f in legacy["files"]] == ["docs/deep", "docs/notes.txt"]

    assert api.client.delete(f"{ARTIFACTS}/{root}/docs").status_code == 200
    assert not (store_root(workspace) / root / "docs").exists()
    assert error_of(api.client.get(f"{ARTIFACTS}/{root}/docs/notes.txt"))[0] == 404


def test_a_logged_models_files_live_under_its_own_folder(api, run, owner, workspace):
    model = model_services.logged_model_create(
        actor=owner, experiment=run.experiment, name="m", source_job=run
    )
    folder = f"{run.experiment_id}/models/{model.model_id}/artifacts"
    assert put(api, f"{folder}/MLmodel", b"flavors: {}").status_code == 200
    listed = api.get(f"logged-models/{model.model_id}/artifacts/directories").json()
    assert [f["path"] for f in listed["files"]] == ["MLmodel"]
    assert error_of(put(api, f"{run.experiment_id}/models/m-nope/artifacts/x", b"1"))[0] == 404


@pytest.mark.parametrize(
    "path",
    [
        "{exp}/{run}/artifacts/../../../../etc/passwd",
        "{exp}/{run}/artifacts/%2e%2e/%2e%2e/x",
        "{exp}/{run}/artifacts/a/..%2f..%2fx",
        "{exp}/{run}/x.txt",
        "{exp}/x.txt",
        "x.txt",
    ],
)
def test_paths_that_leave_a_runs_artifacts_are_refused(api, run, workspace, path):
    target = path.format(exp=run.experiment_id, run=run.run_id)
    response = put(api, target, b"evil")
    assert error_of(response) == (400, "INVALID_PARAMETER_VALUE")
    listed = api.get(ARTIFACTS, {"path": target.replace("%2e", ".").replace("%2f", "/")})
    assert error_of(listed) == (400, "INVALID_PARAMETER_VALUE")
    leaked = [
        p for p in settings.STUDIO_HOME.rglob("*") if p.is_file() and p.read_bytes() == b"evil"
    ]
    assert leaked == []


def test_another_workspaces_run_is_not_found(api, outsider):
    from apps.workspaces.models import Workspace

    elsewhere = Workspace.objects.get(name="eves-space")
    exp = tracking.experiment_create(actor=outsider, workspace=elsewhere, name="e")
    other = tracking.run_create(actor=outsider, experiment=exp)
    response = put(api, f"{exp.pk}/{other.run_id}/artifacts/x.txt", b"1")
    assert error_of(response) == (404, "RESOURCE_DOES_NOT_EXIST")


@pytest.mark.django_db(transaction=True)
def test_a_50_mb_artifact_streams_up_and_down_in_flat_memory(live_server, owner, workspace):
    experiment = tracking.experiment_create(actor=owner, workspace=workspace, name="big")
    job = tracking.run_create(actor=owner, experiment=experiment)
    size = 50 * 2**20
    source = settings.STUDIO_HOME / "big.bin"
    block = os.urandom(2**20)
    with source.open("wb") as out:
        for _ in range(size // len(block)):
            out.write(block)
    url = f"{live_server.url}{ARTIFACTS}/{experiment.pk}/{job.run_id}/artifacts/big.bin"
    headers = {"Authorization": f"Bearer {token_for(owner)}"}

    tracemalloc.start()
    try:
        with source.open("rb") as body:
            response = requests.put(url, data=body, headers=headers, timeout=120)
        assert response.status_code == 200, response.text
        _, upload_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        received = 0
        with requests.get(url, headers=headers, stream=True, timeout=120) as download:
            assert download.status_code == 200
            assert int(download.headers["Content-Length"]) == size
            for chunk in download.iter_content(2**16):
                received += len(chunk)
        _, download_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    stored = store_root(workspace) / f"{experiment.pk}/{job.run_id}/artifacts/big.bin"
    assert stored.stat().st_size == size == received
    # Client and server share this process: both sides together stay far below 50 MB.
    assert upload_peak < 8 * 2**20, upload_peak
    assert download_peak < 8 * 2**20, download_peak


def test_an_upload_needs_a_file_name_below_the_artifacts_and_no_file_in_its_way(api, run):
    root = f"{run.experiment_id}/{run.run_id}/artifacts"
    assert error_of(put(api, root, b"x")) == (400, "INVALID_PARAMETER_VALUE")
    assert put(api, f"{root}/a.txt", b"x").status_code == 200
    assert error_of(put(api, f"{root}/a.txt/b.txt", b"x")) == (400, "INVALID_PARAMETER_VALUE")


def test_an_empty_upload_makes_an_empty_file(api, run, workspace):
    root = f"{run.experiment_id}/{run.run_id}/artifacts"
    assert put(api, f"{root}/empty", b"").status_code == 200
    assert (store_root(workspace) / root / "empty").read_bytes() == b""
