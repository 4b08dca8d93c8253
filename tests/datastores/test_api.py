"""The datastore API: create, show, update, set default, delete; files listed, uploaded
(raw body), downloaded (streamed) and deleted; errors as 4xx naming the field."""

from __future__ import annotations

import hashlib
import os

import pytest

from apps.workspaces.models import Datastore
from tests.conftest import api_client_for
from tests.datastores.conftest import KINDS
from tests.storage_servers import azure_fields, s3_fields

pytestmark = pytest.mark.django_db
BASE = "/api/v1/workspaces/churn/datastores/"


def test_create_an_azure_blob_datastore_from_azure_yaml_fields(
    api, workspace, azurite, azure_container
):
    body = {"name": "blob_raw", "description": "raw", **azure_fields(azurite, azure_container)}

    response = api.post(BASE, body, format="json")

    assert response.status_code == 201, response.data
    data = response.json()
    assert data["name"] == "blob_raw"
    assert data["type"] == "azure_blob"
    assert data["account_name"] == "devstoreaccount1"
    assert data["container_name"] == azure_container
    assert data["credential_kind"] == "account_key"
    assert data["uri"] == "azureml://datastores/blob_raw"
    assert "credentials" not in data
    assert "bucket" not in data


def test_create_an_s3_datastore(api, workspace, moto_s3, s3_bucket):
    response = api.post(BASE, {"name": "s3_raw", **s3_fields(moto_s3, s3_bucket)}, format="json")

    assert response.status_code == 201, response.data
    data = response.json()
    assert (data["bucket"], data["endpoint_url"], data["region"]) == (
        s3_bucket,
        moto_s3.endpoint_url,
        "us-east-1",
    )
    assert data["credential_kind"] == "access_key"


def test_a_wrong_key_is_a_400_naming_credentials_with_the_container_and_status(
    api, workspace, azurite, azure_container
):
    body = {
        "name": "bad",
        **azure_fields(azurite, azure_container, credentials={"account_key": "Q" * 86 + "=="}),
    }
    response = api.post(BASE, body, format="json")

    assert response.status_code == 400
    assert response.json()["fields"] == {
        "credentials": [f"cannot reach container {azure_container}: 403 AuthorizationFailure"]
    }
    assert not Datastore.objects.filter(name="bad").exists()


def test_an_unreachable_endpoint_is_a_400_naming_endpoint_url(api, workspace, moto_s3):
    from tests.storage_servers import free_port

    body = {
        "name": "gone",
        **s3_fields(moto_s3, "data", endpoint_url=f"http://127.0.0.1:{free_port()}"),
    }
    response = api.post(BASE, body, format="json")

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["endpoint_url"]
    assert not Datastore.objects.filter(name="gone").exists()


@pytest.mark.parametrize(
    "body,field",
    [
        ({"name": "9lives", "type": "local", "path": "x"}, "name"),
        ({"name": "ok", "type": "gcs"}, "type"),
        ({"type": "local", "path": "x"}, "name"),
        ({"name": "ok", "type": "local", "path": "x", "container_name": "c"}, "container_name"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api, workspace, body, field):
    response = api.post(BASE, body, format="json")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == [field]


def test_list_gives_every_datastore_by_name_and_show_gives_one(api, workspace):
    listed = api.get(BASE).json()["results"]
    assert [d["name"] for d in listed] == [
        "workspaceartifactstore",
        "workspaceblobstore",
        "workspacefilestore",
        "workspaceworkingdirectory",
    ]
    assert sum(d["is_default"] for d in listed) == 1

    shown = api.get(f"{BASE}workspaceblobstore/").json()
    assert shown["is_default"] is True
    assert shown["path"].endswith("/workspaceblobstore")
    assert api.get(f"{BASE}nope/").status_code == 404


def test_list_runs_a_fixed_number_of_queries(api, workspace, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        assert api.get(BASE).status_code == 200


def test_set_default_moves_the_default(api, workspace):
    response = api.post(f"{BASE}workspacefilestore/set-default/")
    assert response.status_code == 200
    assert response.json()["is_default"] is True
    assert Datastore.objects.get(workspace=workspace, is_default=True).name == "workspacefilestore"


def test_deleting_the_default_is_a_409_with_a_clear_message(api, workspace):
    response = api.delete(f"{BASE}workspaceblobstore/")
    assert response.status_code == 409
    assert "make another one the default first" in response.json()["message"]


def test_patch_updates_description_and_tags(api, workspace):
    response = api.patch(
        f"{BASE}workspacefilestore/", {"description": "Code", "tags": {"a": "b"}}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["description"], response.json()["tags"]) == ("Code", {"a": "b"})


@pytest.mark.parametrize("kind", KINDS)
def test_files_upload_list_and_download_byte_exactly(api, make_datastore, kind):
    datastore = make_datastore(kind)
    url = f"{BASE}{datastore.name}/files/"
    data = os.urandom(5 * 2**20 + 3)

    put = api.put(f"{url}content?path=raw/data.bin", data, content_type="application/octet-stream")
    listing = api.get(url, {"path": "raw"})
    got = api.get(f"{url}content", {"path": "raw/data.bin"})

    assert put.status_code == 201, put.content
    assert put.json()["size"] == len(data)
    assert put.json()["uri"] == f"azureml://datastores/{datastore.name}/paths/raw/data.bin"
    assert [(e["name"], e["size"]) for e in listing.json()["results"]] == [("data.bin", len(data))]
    assert got.status_code == 200
    assert got["Content-Disposition"] == 'attachment; filename="data.bin"'
    assert got["Content-Length"] == str(len(data))
    assert got["X-Content-Type-Options"] == "nosniff"
    body = b"".join(got.streaming_content)
    assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest()
    assert got["Accept-Ranges"] == "bytes"

    # a broken download resumes: one byte range across the 4 MiB read blocks, and the tail
    size, start, end = len(data), 4 * 2**20 - 5, 4 * 2**20 + 10
    part = api.get(f"{url}content", {"path": "raw/data.bin"}, HTTP_RANGE=f"bytes={start}-{end}")
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes {start}-{end}/{size}"
    assert part["Content-Length"] == str(end - start + 1)
    assert b"".join(part.streaming_content) == data[start : end + 1]
    tail = api.get(f"{url}content", {"path": "raw/data.bin"}, HTTP_RANGE="bytes=-3")
    assert (tail.status_code, b"".join(tail.streaming_content)) == (206, data[-3:])
    past = api.get(f"{url}content", {"path": "raw/data.bin"}, HTTP_RANGE=f"bytes={size}-")
    assert (past.status_code, past["Content-Range"]) == (416, f"bytes */{size}")

    assert api.delete(f"{url}content?path=raw/data.bin").status_code == 204
    assert api.get(f"{url}content", {"path": "raw/data.bin"}).status_code == 404


def test_file_listing_pages_with_a_cursor_and_next_link(api, make_datastore):
    datastore = make_datastore("local")
    url = f"{BASE}{datastore.name}/files/"
    for i in range(5):
        api.put(f"{url}content?path=many/f{i}.txt", b"x", content_type="text/plain")

    first = api.get(url, {"path": "many", "limit": 2}).json()
    second = api.get(first["next"]).json()

    assert [e["name"] for e in first["results"]] == ["f0.txt", "f1.txt"]
    assert [e["name"] for e in second["results"]] == ["f2.txt", "f3.txt"]
    assert api.get(url, {"path": "many", "cursor": "garbage!"}).json()["fields"] == {
        "cursor": ["Not a cursor this listing gave."]
    }


@pytest.mark.parametrize("path", ["../../etc/passwd", "a/../../b", "/../x"])
def test_path_traversal_is_a_400_naming_path(api, workspace, path):
    url = f"{BASE}workspaceblobstore/files/"
    for response in (
        api.get(url, {"path": path}),
        api.get(f"{url}content", {"path": path}),
        api.put(f"{url}content?path={path}", b"x", content_type="text/plain"),
    ):
        assert response.status_code == 400
        assert list(response.json()["fields"]) == ["path"]


def test_a_reader_can_download_but_not_upload(workspace, reader):
    client = api_client_for(reader)
    url = f"{BASE}workspaceblobstore/files/content?path=x.txt"
    assert client.put(url, b"x", content_type="text/plain").status_code == 403
    assert client.get(url).status_code == 404  # allowed, but there is no such file


def test_the_openapi_schema_describes_the_file_endpoints(api):
    schema = api.get("/api/v1/schema/?format=json").json()
    content = schema["paths"]["/api/v1/workspaces/{workspace_name}/datastores/{name}/files/content"]
    assert "application/octet-stream" in content["put"]["requestBody"]["content"]
