"""Data assets: create from a datastore path, a URL or an upload (content-addressed, nothing
left behind on failure), previews, profiles, downloads, and the datastore in-use check."""

from __future__ import annotations

import io
import zipfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from apps.assets.models import DataVersion
from apps.assets.selectors_data import data_preview
from apps.assets.services import data as data_services
from apps.workspaces import storage
from apps.workspaces.models import Datastore
from studio.errors import Conflict, ValidationError
from tests.conftest import api_client_for

BASE = "/api/v1/workspaces/churn/data/"
IRIS = b"sepal_length,sepal_width,species\n5.1,3.5,setosa\n4.9,,setosa\n6.3,3.3,virginica\n"
MLTABLE = (
    b"paths:\n  - file: ./iris.csv\ntransformations:\n  - read_delimited:\n      delimiter: ','\n"
)


def _store(workspace, name="workspaceblobstore"):
    return storage.open_store(Datastore.objects.get(workspace=workspace, name=name))


def _all_files(store, rel="") -> set[str]:
    return {e.path for e in store.walk(rel)}


def _upload(actor, workspace, files: dict[str, bytes], *, folder: bool, **kw):
    staged = data_services.upload_begin(actor=actor, workspace=workspace)
    try:
        for name, body in files.items():
            staged.put(name, io.BytesIO(body), folder=folder, size=len(body))
        return data_services.data_create_upload(actor=actor, staged=staged, **kw)
    finally:
        staged.cleanup()


def test_a_file_upload_lands_under_its_sha256_and_the_same_bytes_are_stored_once(owner, workspace):
    row = _upload(owner, workspace, {"iris.csv": IRIS}, folder=False, name="iris", type="uri_file")
    again = _upload(
        owner, workspace, {"iris.csv": IRIS}, folder=False, name="iris", type="uri_file"
    )
    digest = row.content_hash
    assert (
        row.path == f"azureml://datastores/workspaceblobstore/paths/LocalUpload/{digest}/iris.csv"
    )
    assert (row.version, again.version, again.path) == ("1", "2", row.path)
    assert (row.size_bytes, row.file_count) == (len(IRIS), 1)
    # Only the content-addressed file is left: no staging folder, no second copy.
    store = _store(workspace)
    assert _all_files(store, "LocalUpload") == {f"LocalUpload/{digest}/iris.csv"}
    names = [p.rsplit("/", 1)[-1] for p in store.fs.ls(store._full("LocalUpload"), detail=False)]
    assert names == [digest]  # no staging folder left


def test_a_folder_upload_is_named_by_its_manifest_and_keeps_its_tree(owner, workspace):
    files = {"MLTable": MLTABLE, "iris.csv": IRIS, "extra/notes.txt": b"hi\n"}
    row = _upload(owner, workspace, files, folder=True, name="iris-table", type="mltable")
    assert row.type == "mltable" and row.file_count == 3
    assert "read_delimited" in row.mltable
    rel = f"LocalUpload/{row.content_hash}"
    assert _all_files(_store(workspace), rel) == {f"{rel}/{p}" for p in files}
    root = _store(workspace).fs.ls(_store(workspace)._full("LocalUpload"), detail=False)
    assert [p.rsplit("/", 1)[-1] for p in root] == [row.content_hash]


@pytest.mark.parametrize(
    ("files", "folder", "type_", "message"),
    [
        ({"a.csv": IRIS, "b.csv": IRIS}, True, "uri_file", "is a folder"),
        ({"a.csv": IRIS}, False, "uri_folder", "is a file"),
        ({"iris.csv": IRIS}, True, "mltable", "no file named MLTable"),
        ({"MLTable": b"paths: [\n", "iris.csv": IRIS}, True, "mltable", "not valid YAML"),
        ({"MLTable": b"paths:\n  - file: ./gone.csv\n"}, True, "mltable", "gone.csv"),
        ({"a.csv": IRIS}, False, "table", "not a data type"),
    ],
)
def test_a_bad_upload_is_refused_and_leaves_no_row_and_no_file(
    owner, workspace, files, folder, type_, message
):
    with pytest.raises(ValidationError) as caught:
        _upload(owner, workspace, files, folder=folder, name="bad", type=type_)
    assert message in caught.value.message + str(caught.value.fields)
    assert not DataVersion.objects.filter(name="bad").exists()
    assert _all_files(_store(workspace), "LocalUpload") == set()


def test_a_duplicate_version_is_a_conflict_and_its_upload_is_not_kept(owner, workspace):
    _upload(
        owner, workspace, {"a.csv": IRIS}, folder=False, name="iris", version="1", type="uri_file"
    )
    before = _all_files(_store(workspace), "LocalUpload")
    with pytest.raises(Conflict):
        _upload(
            owner,
            workspace,
            {"b.csv": b"x,y\n1,2\n"},
            folder=False,
            name="iris",
            version="1",
            type="uri_file",
        )
    assert _all_files(_store(workspace), "LocalUpload") == before


def test_a_datastore_path_is_checked_to_exist_and_to_be_the_right_kind(owner, workspace):
    store = _store(workspace, "workspaceblobstore")
    store.write_stream("raw/iris.csv", io.BytesIO(IRIS))
    uri = "azureml://datastores/workspaceblobstore/paths/raw/iris.csv"
    row = data_services.data_create(
        actor=owner, workspace=workspace, name="raw", path=uri, type="uri_file"
    )
    assert (row.datastore.name, row.size_bytes) == ("workspaceblobstore", len(IRIS))
    folder = data_services.data_create(
        actor=owner, workspace=workspace, name="rawdir", path=uri.rsplit("/", 1)[0]
    )
    assert (folder.type, folder.file_count) == ("uri_folder", 1)
    cases = [
        (uri, "uri_folder", "is a file"),
        (uri.rsplit("/", 1)[0], "uri_file", "is a folder"),
        (uri.rsplit("/", 1)[0], "mltable", "no file named MLTable"),
        ("azureml://datastores/workspaceblobstore/paths/raw/../../etc", "uri_folder", "'..'"),
        ("azureml://datastores/nope/paths/x", "uri_folder", "No datastore 'nope'"),
        ("azureml://datastores/workspaceblobstore/paths/missing.csv", "uri_file", "No file"),
        ("./data", "uri_folder", "local path"),
        ("wasbs://c@a.blob.core.windows.net/x", "uri_folder", "register the storage"),
    ]
    for path, type_, message in cases:
        with pytest.raises(ValidationError) as caught:
            data_services.data_create(
                actor=owner, workspace=workspace, name="x", path=path, type=type_
            )
        assert caught.value.fields.get("path"), path
        assert message in caught.value.fields["path"][0], (path, caught.value.fields)
    assert not DataVersion.objects.filter(name="x").exists()


def test_a_url_is_kept_as_a_reference_without_a_preview(owner, workspace):
    row = data_services.data_create(
        actor=owner,
        workspace=workspace,
        name="web",
        path="https://example.org/iris.csv",
        type="uri_file",
    )
    assert row.datastore is None and row.path == "https://example.org/iris.csv"
    assert data_preview(actor=owner, row=row).kind == "none"


def test_the_preview_shows_the_first_rows_with_column_types(owner, workspace):
    row = _upload(owner, workspace, {"iris.csv": IRIS}, folder=False, name="iris", type="uri_file")
    preview = data_preview(actor=owner, row=row)
    assert preview.kind == "table"
    assert preview.columns == [
        ("sepal_length", "float"),
        ("sepal_width", "float"),
        ("species", "string"),
    ]
    assert preview.rows[0] == [5.1, 3.5, "setosa"] and preview.rows[1][1] == ""


def test_a_parquet_preview_and_a_folder_listing(owner, workspace):
    buf = io.BytesIO()
    pq.write_table(pa.table({"id": [1, 2, 3], "name": ["a", "b", None]}), buf)
    row = _upload(
        owner,
        workspace,
        {"t.parquet": buf.getvalue(), "sub/x.txt": b"1"},
        folder=True,
        name="pq",
        type="uri_folder",
    )
    preview = data_preview(actor=owner, row=row)
    assert preview.kind == "listing"
    assert [e.name for e in preview.files] == ["sub", "t.parquet"]
    assert preview.file.endswith("t.parquet")
    assert preview.columns == [("id", "integer"), ("name", "string")]
    assert preview.rows == [[1, "a"], [2, "b"], [3, ""]]


def test_a_hive_partitioned_folder_previews_and_profiles_with_its_partition_columns(
    owner, workspace
):
    """A dataset partitioned by year and country, as Spark or pyarrow write it: the preview
    reads the first part file below the folders and shows the folders' values as columns;
    the profile reads every part, partition columns included."""

    def part(amounts) -> bytes:
        buf = io.BytesIO()
        pq.write_table(pa.table({"amount": amounts}), buf)
        return buf.getvalue()

    row = _upload(
        owner,
        workspace,
        {
            "_SUCCESS": b"",
            "year=2023/country=fr/part-0.parquet": part([1.0, 2.0]),
            "year=2024/country=de%20o/part-0.parquet": part([3.0]),
            "year=2024/country=__HIVE_DEFAULT_PARTITION__/part-0.parquet": part([4.0, 5.0]),
        },
        folder=True,
        name="sales",
        type="uri_folder",
    )
    preview = data_preview(actor=owner, row=row)
    assert [e.name for e in preview.files] == ["year=2023", "year=2024", "_SUCCESS"]
    assert preview.file.endswith("year=2023/country=fr/part-0.parquet")
    assert preview.columns == [
        ("amount", "float"), ("year", "integer (folder)"), ("country", "string (folder)"),
    ]  # fmt: skip
    assert preview.rows == [[1.0, 2023, "fr"], [2.0, 2023, "fr"]]

    DataVersion.objects.filter(pk=row.pk).update(profile_status="queued")
    data_services.data_profile_compute(str(row.pk))
    row.refresh_from_db()
    assert row.profile["rows"] == 5 and len(row.profile["files"]) == 3
    cols = {c["name"]: c for c in row.profile["columns"]}
    assert (cols["year"]["min"], cols["year"]["max"], cols["year"]["missing"]) == (2023, 2024, 0)
    assert (cols["country"]["min"], cols["country"]["max"]) == ("de o", "fr")
    assert cols["country"]["missing"] == 2


def test_the_profile_is_computed_by_the_task_and_cached(
    owner, workspace, django_capture_on_commit_callbacks
):
    from apps.assets.tasks import profile_data

    row = _upload(owner, workspace, {"iris.csv": IRIS}, folder=False, name="iris", type="uri_file")
    with django_capture_on_commit_callbacks() as callbacks:
        data_services.data_profile_request(actor=owner, row=row)
    assert len(callbacks) == 1
    profile_data(str(row.pk))
    row.refresh_from_db()
    assert row.profile_status == "done"
    assert row.profile["rows"] == 3 and row.profile["partial"] is False
    cols = {c["name"]: c for c in row.profile["columns"]}
    assert cols["sepal_width"] == {
        "name": "sepal_width",
        "type": "float",
        "missing": 1,
        "min": 3.3,
        "max": 3.5,
        "mean": 3.4,
    }
    assert (cols["species"]["min"], cols["species"]["max"]) == ("setosa", "virginica")
    profile_data(str(row.pk))  # not queued any more: nothing happens
    row.refresh_from_db()
    assert row.profile_status == "done"


def test_a_profile_past_its_byte_limit_says_it_is_partial(owner, workspace, settings):
    settings.STUDIO_DATA_PROFILE_MAX_BYTES = 40
    row = _upload(owner, workspace, {"iris.csv": IRIS}, folder=False, name="iris", type="uri_file")
    DataVersion.objects.filter(pk=row.pk).update(profile_status="queued")
    data_services.data_profile_compute(str(row.pk))
    row.refresh_from_db()
    assert row.profile_status == "done" and row.profile["partial"] is True
    assert row.profile["rows"] < 3


def test_a_reader_cannot_create_or_request_a_profile(owner, reader, workspace):
    from studio.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        data_services.upload_begin(actor=reader, workspace=workspace)
    row = data_services.data_create(
        actor=owner, workspace=workspace, name="web", path="https://example.org/x.csv"
    )
    with pytest.raises(PermissionDenied):
        data_services.data_profile_request(actor=reader, row=row)


def test_a_datastore_used_by_a_data_version_cannot_be_deleted(owner, workspace):
    from apps.workspaces.services import datastores as ds_services

    target = Datastore.objects.get(workspace=workspace, name="workspaceartifactstore")
    storage.open_store(target).write_stream("d/iris.csv", io.BytesIO(IRIS))
    data_services.data_create(
        actor=owner,
        workspace=workspace,
        name="iris",
        version="3",
        type="uri_file",
        path="azureml://datastores/workspaceartifactstore/paths/d/iris.csv",
    )
    assert ds_services.datastore_in_use(target) == ["data iris:3"]


# API ---------------------------------------------------------------------------------------


def test_the_api_uploads_a_folder_file_by_file_and_creates_the_version(owner, workspace):
    api = api_client_for(owner)
    start = api.post(f"{BASE}-/uploads/")
    assert start.status_code == 201, start.content
    token = start.json()["upload"]
    for rel, body in {"MLTable": MLTABLE, "iris.csv": IRIS}.items():
        put = api.put(
            f"{BASE}-/uploads/{token}/?path={rel}&folder=1",
            data=body,
            content_type="application/octet-stream",
        )
        assert put.status_code == 201, put.content
    created = api.post(
        BASE, {"name": "iris", "type": "mltable", "upload": token, "version": 7}, format="json"
    )
    assert created.status_code == 201, created.content
    assert created.json()["version"] == "7" and created.json()["type"] == "mltable"
    got = api.get(f"{BASE}iris/versions/7/preview/").json()
    assert got["columns"][0] == {"name": "sepal_length", "type": "float"}
    zipped = api.get(f"{BASE}iris/versions/7/download/")
    assert zipped.status_code == 200 and zipped["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(b"".join(zipped.streaming_content))) as zf:
        assert sorted(zf.namelist()) == ["MLTable", "iris.csv"]
        assert zf.read("iris.csv") == IRIS


def test_the_api_names_the_field_of_bad_input(owner, workspace):
    api = api_client_for(owner)
    bad = api.post(BASE, {"name": "x", "path": "https://e.org/x", "type": "table"}, format="json")
    assert bad.status_code == 400 and "type" in bad.json()["fields"]
    extra = api.post(BASE, {"name": "x", "path": "https://e.org/x", "colour": 1}, format="json")
    assert extra.status_code == 400 and "colour" in extra.json()["fields"]
    token = api.post(f"{BASE}-/uploads/").json()["upload"]
    empty = api.post(BASE, {"name": "x", "upload": token}, format="json")
    assert empty.status_code == 400 and "path" in empty.json()["fields"]
    forged = api.post(BASE, {"name": "x", "upload": "../../etc"}, format="json")
    assert forged.status_code == 400 and "upload" in forged.json()["fields"]


def test_a_file_downloads_as_itself(owner, workspace):
    row = _upload(owner, workspace, {"iris.csv": IRIS}, folder=False, name="iris", type="uri_file")
    response = api_client_for(owner).get(f"{BASE}iris/versions/{row.version}/download/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == IRIS
    assert 'filename="iris.csv"' in response["Content-Disposition"]
    part = api_client_for(owner).get(
        f"{BASE}iris/versions/{row.version}/download/", HTTP_RANGE="bytes=5-9"
    )
    assert part.status_code == 206 and b"".join(part.streaming_content) == IRIS[5:10]


def test_the_version_page_shows_the_panel_and_its_preview_fragment(owner, workspace):
    from tests.conftest import client_for

    _upload(owner, workspace, {"iris.csv": IRIS}, folder=False, name="iris", type="uri_file")
    client = client_for(owner)
    page = client.get("/w/churn/data/iris/versions/1/")
    assert page.status_code == 200 and b"Compute profile" in page.content
    fragment = client.get("/w/churn/data/iris/versions/1/-/preview/", HTTP_HX_REQUEST="true")
    assert b"<html" not in fragment.content and b"sepal_length" in fragment.content
    assert client.get("/w/churn/data/-/new/").status_code == 200
