"""Data assets uploaded onto cloud datastores: an Azure Blob container (Azurite) and an S3
bucket (moto), through the API as the CLI drives it (start an upload on the datastore, PUT
each file, create), then read back (preview and download). The staged files are moved to
their content-addressed paths with `Store.move` (a server-side copy); nothing staged is left,
and abandoned staging folders are swept."""

from __future__ import annotations

import io
import os
import zipfile

import pytest

from apps.assets.models import DataVersion
from apps.assets.services import data as data_services
from apps.workspaces import storage
from apps.workspaces.services import datastores as datastore_services
from studio.errors import ValidationError
from tests.conftest import api_client_for
from tests.storage_servers import (  # noqa: F401 - fixtures
    azure_fields,
    azurite,
    make_bucket,
    make_container,
    moto_s3,
    s3_fields,
)

BASE = "/api/v1/workspaces/churn/data/"
IRIS = b"sepal_length,sepal_width,species\n5.1,3.5,setosa\n4.9,,setosa\n6.3,3.3,virginica\n"
KINDS = ("azure_blob", "s3")


@pytest.fixture(params=KINDS)
def cloud(request, owner, workspace):
    """A datastore of each cloud type in `churn`, on a fresh container or bucket."""
    if request.param == "azure_blob":
        server = request.getfixturevalue("azurite")
        fields = azure_fields(server, make_container(server))
    else:
        server = request.getfixturevalue("moto_s3")
        fields = s3_fields(server, make_bucket(server))
    return datastore_services.datastore_create(
        actor=owner, workspace=workspace, name=f"{request.param}_data", **fields
    )


def _files(store: storage.Store, rel: str = "") -> set[str]:
    """Every file below `rel`, staging names included."""
    out, todo = set(), [rel]
    while todo:
        folder = todo.pop()
        cursor = None
        while True:
            entries, cursor = store.ls(folder, cursor=cursor, limit=1000, hidden=True)
            for entry in entries:
                (todo.append if entry.is_dir else out.add)(entry.path)
            if not cursor:
                break
    return out


def _upload(api, datastore: str, files: dict[str, bytes], *, folder: bool, **spec):
    start = api.post(f"{BASE}-/uploads/?datastore={datastore}")
    assert start.status_code == 201, start.content
    token = start.json()["upload"]
    assert start.json()["datastore"] == datastore
    for rel, body in files.items():
        flag = "&folder=1" if folder else ""
        put = api.put(
            f"{BASE}-/uploads/{token}/?path={rel}{flag}",
            data=body,
            content_type="application/octet-stream",
        )
        assert put.status_code == 201, put.content
    return api.post(BASE, {**spec, "upload": token}, format="json")


def test_a_file_uploaded_onto_a_cloud_datastore_previews_and_downloads(owner, cloud):
    api = api_client_for(owner)
    created = _upload(
        api, cloud.name, {"iris.csv": IRIS}, folder=False, name="iris", type="uri_file"
    )
    assert created.status_code == 201, created.content
    row = DataVersion.objects.get(name="iris")
    digest = row.content_hash
    assert row.datastore_id == cloud.id
    assert row.path == f"azureml://datastores/{cloud.name}/paths/LocalUpload/{digest}/iris.csv"
    store = storage.open_store(cloud)
    assert _files(store) == {f"LocalUpload/{digest}/iris.csv"}  # nothing staged is left

    preview = api.get(f"{BASE}iris/versions/1/preview/").json()
    assert [c["name"] for c in preview["columns"]] == ["sepal_length", "sepal_width", "species"]
    assert len(preview["rows"]) == 3
    got = api.get(f"{BASE}iris/versions/1/download/")
    assert got.status_code == 200
    assert b"".join(got.streaming_content) == IRIS


def test_a_folder_uploaded_onto_a_cloud_datastore_is_stored_once_and_zips_back(owner, cloud):
    api = api_client_for(owner)
    files = {"iris.csv": IRIS, "parts/big.bin": os.urandom(9 * 2**20 + 3)}  # > one block
    created = _upload(api, cloud.name, files, folder=True, name="train")
    assert created.status_code == 201, created.content
    row = DataVersion.objects.get(name="train", version="1")
    assert (row.type, row.file_count) == ("uri_folder", 2)
    store = storage.open_store(cloud)
    stored = _files(store)
    assert stored == {f"LocalUpload/{row.content_hash}/{rel}" for rel in files}

    again = _upload(api, cloud.name, files, folder=True, name="train")
    assert again.status_code == 201, again.content
    assert again.json()["path"] == row.path
    assert _files(store) == stored  # the same bytes: nothing new stored, nothing staged left

    preview = api.get(f"{BASE}train/versions/2/preview/").json()
    assert {f["name"] for f in preview["files"]} == {"iris.csv", "parts"}
    assert len(preview["rows"]) == 3
    zipped = api.get(f"{BASE}train/versions/2/download/")
    assert zipped.status_code == 200 and zipped["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(b"".join(zipped.streaming_content))) as zf:
        assert {name: zf.read(name) for name in zf.namelist()} == files


def test_a_refused_cloud_upload_leaves_no_file(owner, cloud):
    api = api_client_for(owner)
    refused = _upload(api, cloud.name, {"iris.csv": IRIS}, folder=True, name="x", type="uri_file")
    assert refused.status_code == 400 and "path" in refused.json()["fields"]
    assert not DataVersion.objects.exists()
    assert _files(storage.open_store(cloud)) == set()


def test_move_replaces_the_target_and_refuses_folders(cloud):
    store = storage.open_store(cloud)
    body = os.urandom(2**20 + 1)
    store.write_stream("in/a.bin", io.BytesIO(body))
    store.write_stream("out/a.bin", io.BytesIO(b"old"))
    moved = store.move("in/a.bin", "out/a.bin")
    assert (moved.path, moved.size) == ("out/a.bin", len(body))
    assert store.read_head("out/a.bin", len(body) + 1) == body
    assert not store.exists("in/a.bin")
    with pytest.raises(ValidationError):
        store.move("out", "elsewhere/out")
    with pytest.raises(ValidationError):
        store.move("out/a.bin", "../a.bin")


def test_a_staging_folder_abandoned_a_day_ago_is_swept_by_the_next_upload(owner, cloud):
    store = storage.open_store(cloud)
    old = f"LocalUpload/{storage.UPLOAD_PREFIX}1000000000-{'0' * 32}-{cloud.name}"
    store.write_stream(f"{old}/f.data", io.BytesIO(b"left behind"))
    store.write_stream("LocalUpload/keep/iris.csv", io.BytesIO(IRIS))
    staged = data_services.upload_begin(
        actor=owner, workspace=cloud.workspace, datastore=cloud.name
    )
    staged.cleanup()
    assert _files(store) == {"LocalUpload/keep/iris.csv"}
