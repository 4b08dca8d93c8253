"""The code snapshot API: upload a zip (raw body or multipart), read its manifest."""

from __future__ import annotations

import io
import zipfile

import pytest

from apps.assets.models import CodeSnapshot
from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db

URL = "/api/v1/workspaces/churn/code/"


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _post_raw(client, body: bytes, content_type="application/zip"):
    return client.generic("POST", URL, body, content_type=content_type)


def test_a_raw_zip_upload_answers_the_snapshot_and_its_manifest_reads_back(api, workspace):
    response = _post_raw(api, _zip({"train.py": b"print(1)\n", "src/util.py": b"x = 1\n"}))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["file_count"] == 2 and body["size_bytes"] == 15
    assert len(body["content_hash"]) == 64
    shown = api.get(f"{URL}{body['id']}/").json()
    assert [f["path"] for f in shown["manifest"]] == ["src/util.py", "train.py"]
    assert shown["manifest"][1]["size"] == 9


def test_a_multipart_upload_works_and_the_same_files_give_the_same_snapshot(api, workspace):
    files = {"a.py": b"1", "b/c.py": b"2"}
    first = _post_raw(api, _zip(files)).json()
    upload = io.BytesIO(_zip(dict(reversed(files.items()))))
    upload.name = "code.zip"
    response = api.post(URL, {"file": upload}, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["id"] == first["id"]
    assert CodeSnapshot.objects.filter(workspace=workspace).count() == 1


def test_a_multipart_upload_without_a_file_names_the_field(api, workspace):
    response = api.post(URL, {"other": "x"}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()["fields"]


@pytest.mark.parametrize(
    "body,message",
    [
        (b"", "empty"),
        (b"not a zip at all", "not a zip"),
        (_zip({"../evil.py": b"x"}), "leaves the code folder"),
        (_zip({"/etc/passwd": b"x"}), "absolute path"),
    ],
)
def test_bad_uploads_are_refused_naming_the_field_and_store_nothing(api, workspace, body, message):
    response = _post_raw(api, body)
    assert response.status_code == 400, response.content
    assert "code" in response.json()["fields"]
    assert message in response.json()["message"]
    assert not CodeSnapshot.objects.exists()


def test_an_upload_over_the_limit_is_refused(api, workspace, settings):
    settings.STUDIO_CODE_MAX_BYTES = 10
    response = _post_raw(api, _zip({"big.bin": b"x" * 100}))
    assert response.status_code == 400
    assert "limit" in response.json()["message"]
    assert not CodeSnapshot.objects.exists()


def test_a_reader_cannot_upload_and_an_outsider_sees_no_snapshot(api, reader, outsider, workspace):
    assert _post_raw(api_client_for(reader), _zip({"a": b"1"})).status_code == 403
    created = _post_raw(api, _zip({"a": b"1"})).json()
    assert api_client_for(reader).get(f"{URL}{created['id']}/").status_code == 200
    assert api_client_for(outsider).get(f"{URL}{created['id']}/").status_code == 404
    assert api.get(f"{URL}not-a-uuid/").status_code == 404
