"""Manage > Datastores pages: list, create (with the connection test's error next to its
field), the file browser (page and fragment, folders, paging), streamed upload, download,
previews, set default and delete."""

from __future__ import annotations

import io

import pytest

from apps.workspaces import storage
from apps.workspaces.models import Datastore
from tests.conftest import client_for
from tests.matrix.datastores import PIXEL_PNG

pytestmark = pytest.mark.django_db
WS = "/w/churn/datastores"


@pytest.fixture
def client(owner):
    return client_for(owner)


@pytest.fixture
def blob(workspace) -> storage.Store:
    return storage.open_store(Datastore.objects.get(workspace=workspace, name="workspaceblobstore"))


def test_the_list_shows_each_datastore_with_its_type_and_default_badge(client, workspace):
    body = client.get(f"{WS}/").content.decode()

    assert 'data-datastore="workspaceblobstore"' in body
    assert "Local folder" in body
    assert body.count('<span class="badge">default</span>') == 1
    assert f'href="{WS}/-/new/"' in body


def test_a_reader_sees_new_greyed_out(workspace, reader):
    body = client_for(reader).get(f"{WS}/").content.decode()
    assert '<button class="primary" disabled title="Your role (Reader) cannot create' in body


def test_creating_an_azure_datastore_from_the_form(client, workspace, azurite, azure_container):
    response = client.post(
        f"{WS}/-/new/",
        {
            "name": "blob_raw",
            "type": "azure_blob",
            "account_name": azurite.account_name,
            "container_name": azure_container,
            "endpoint": azurite.account_url,
            "protocol": "https",
            "account_key": azurite.account_key,
            "tags": "team=ml",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == f"{WS}/blob_raw/"
    datastore = Datastore.objects.get(name="blob_raw")
    assert datastore.tags == {"team": "ml"}
    page = client.get(response["Location"]).content.decode()
    assert "Account key: set" in page
    assert azurite.account_key not in page


def test_a_failed_connection_test_shows_next_to_the_key_field_with_422(
    client, workspace, azurite, azure_container
):
    response = client.post(
        f"{WS}/-/new/",
        {
            "name": "blob_raw",
            "type": "azure_blob",
            "account_name": azurite.account_name,
            "container_name": azure_container,
            "endpoint": azurite.account_url,
            "account_key": "Z" * 86 + "==",
        },
    )

    assert response.status_code == 422
    form = response.context["form"]
    assert form.errors["account_key"] == [
        f"cannot reach container {azure_container}: 403 AuthorizationFailure"
    ]
    assert ("Z" * 86) not in response.content.decode()  # the password field is not refilled
    assert not Datastore.objects.filter(name="blob_raw").exists()


def test_a_bad_name_shows_next_to_the_name_field(client, workspace):
    response = client.post(f"{WS}/-/new/", {"name": "1bad", "type": "local", "path": "x"})
    assert response.status_code == 422
    assert "name" in response.context["form"].errors


def test_creating_an_s3_datastore_from_the_form(client, workspace, moto_s3, s3_bucket):
    response = client.post(
        f"{WS}/-/new/",
        {
            "name": "s3_raw",
            "type": "s3",
            "bucket": s3_bucket,
            "endpoint_url": moto_s3.endpoint_url,
            "region": "us-east-1",
            "access_key_id": moto_s3.access_key_id,
            "secret_access_key": moto_s3.secret_access_key,
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    assert Datastore.objects.get(name="s3_raw").credential_kind == "access_key"


def test_the_browser_shows_folders_then_files_with_sizes(client, blob):
    blob.write_stream("raw/a.csv", io.BytesIO(b"a,b\n1,2\n"))
    blob.write_stream("readme.txt", io.BytesIO(b"x" * 2048))

    body = client.get(f"{WS}/workspaceblobstore/").content.decode()

    assert body.index('data-path="raw"') < body.index('data-path="readme.txt"')
    assert "2.0\xa0KB" in body
    assert "<html" in body


def test_a_folder_opens_as_a_fragment_with_htmx(client, blob):
    blob.write_stream("raw/2024/a.csv", io.BytesIO(b"a\n"))

    response = client.get(f"{WS}/workspaceblobstore/", {"path": "raw"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()

    assert "<html" not in body
    assert body.startswith('\n<section id="browser"') or '<section id="browser"' in body
    assert 'data-path="raw/2024"' in body
    assert response["Vary"].count("HX-Request") == 1


def test_the_browser_pages_with_next(client, blob, monkeypatch):
    from apps.workspaces.views import datastores as views

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    for i in range(3):
        blob.write_stream(f"f{i}.txt", io.BytesIO(b"x"))

    first = client.get(f"{WS}/workspaceblobstore/").content.decode()
    assert 'rel="next"' in first
    assert 'data-path="f2.txt"' not in first
    cursor = first.split("cursor=")[1].split('"')[0]
    second = client.get(f"{WS}/workspaceblobstore/?cursor={cursor}").content.decode()
    assert 'data-path="f2.txt"' in second
    assert 'rel="next"' not in second


def test_upload_streams_the_file_to_storage_and_shows_the_folder(client, blob):
    data = b"0123456789" * 300_000
    response = client.post(
        f"{WS}/workspaceblobstore/upload/?path=in",
        {"file": io.BytesIO(data)},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    assert "Uploaded file." in response.content.decode()  # BytesIO uploads are named 'file'
    assert blob.read_head("in/file", len(data) + 1) == data


def test_upload_of_several_named_files_without_htmx_redirects_to_the_folder(client, blob):
    one, two = io.BytesIO(b"one"), io.BytesIO(b"two")
    one.name, two.name = "one.txt", "two.txt"

    response = client.post(f"{WS}/workspaceblobstore/upload/", {"file": [one, two]})

    assert response.status_code == 302
    assert response["Location"] == f"{WS}/workspaceblobstore/"
    assert blob.read_head("one.txt", 10) == b"one"
    assert blob.read_head("two.txt", 10) == b"two"


def test_upload_without_a_file_is_a_422(client, workspace):
    response = client.post(f"{WS}/workspaceblobstore/upload/", {}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert "Choose a file to upload." in response.content.decode()


def test_upload_over_a_folder_is_refused_and_leaves_nothing(client, blob):
    blob.write_stream("taken/inner.txt", io.BytesIO(b"x"))
    upload = io.BytesIO(b"new")
    upload.name = "taken"

    response = client.post(
        f"{WS}/workspaceblobstore/upload/", {"file": upload}, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 422
    assert "is a folder" in response.content.decode()
    assert blob.stat("taken").is_dir


def test_download_streams_an_attachment(client, blob):
    blob.write_stream("report.html", io.BytesIO(b"<script>alert(1)</script>"))

    response = client.get(f"{WS}/workspaceblobstore/download/", {"path": "report.html"})

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == 'attachment; filename="report.html"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == b"<script>alert(1)</script>"


def test_preview_shows_the_start_of_a_text_file(client, blob):
    blob.write_stream("notes.txt", io.BytesIO(b"line one\n" + b"z" * 70_000))

    response = client.get(f"{WS}/workspaceblobstore/preview/", {"path": "notes.txt"})
    body = response.content.decode()

    assert "line one" in body
    assert "The start of the file only" in body
    assert response.context["preview"].kind == "text"
    assert len(response.context["preview"].text) == 64 * 1024


def test_preview_shows_a_csv_as_a_table_of_50_rows(client, blob):
    rows = "id,name\n" + "".join(f"{i},<b>n{i}</b>\n" for i in range(80))
    blob.write_stream("data/people.csv", io.BytesIO(rows.encode()))

    response = client.get(f"{WS}/workspaceblobstore/preview/", {"path": "data/people.csv"})
    body = response.content.decode()

    preview = response.context["preview"]
    assert preview.kind == "csv"
    assert preview.rows[0] == ["id", "name"]
    assert len(preview.rows) == 51
    assert "<th>name</th>" in body
    assert "&lt;b&gt;n49&lt;/b&gt;" in body
    assert "n50" not in body
    assert "The first 50 rows" in body


def test_preview_pretty_prints_json(client, blob):
    blob.write_stream("m.json", io.BytesIO(b'{"a":[1,2],"b":{"c":true}}'))
    preview = client.get(f"{WS}/workspaceblobstore/preview/", {"path": "m.json"}).context["preview"]
    assert preview.kind == "json"
    assert preview.text == '{\n  "a": [\n    1,\n    2\n  ],\n  "b": {\n    "c": true\n  }\n}'


def test_preview_shows_an_image_inline_from_a_streamed_endpoint(client, blob):
    blob.write_stream("img/pixel.png", io.BytesIO(PIXEL_PNG))

    page = client.get(f"{WS}/workspaceblobstore/preview/", {"path": "img/pixel.png"})
    raw = client.get(f"{WS}/workspaceblobstore/raw/", {"path": "img/pixel.png"})

    assert f'<img src="{WS}/workspaceblobstore/raw/?path=img/pixel.png"' in page.content.decode()
    assert raw["Content-Type"] == "image/png"
    assert raw["Content-Disposition"] == 'inline; filename="pixel.png"'
    assert raw["X-Content-Type-Options"] == "nosniff"
    assert b"".join(raw.streaming_content) == PIXEL_PNG


def test_svg_is_never_served_inline(client, blob):
    blob.write_stream("logo.svg", io.BytesIO(b"<svg onload='alert(1)'/>"))

    page = client.get(f"{WS}/workspaceblobstore/preview/", {"path": "logo.svg"})
    raw = client.get(f"{WS}/workspaceblobstore/raw/", {"path": "logo.svg"})

    assert "download to view" in page.content.decode()
    assert "<img" not in page.content.decode().split('id="preview"')[1]
    assert raw.status_code == 400


def test_a_binary_file_has_no_preview(client, blob):
    blob.write_stream("model.bin", io.BytesIO(b"\x00\x01\x02" * 10))
    response = client.get(f"{WS}/workspaceblobstore/preview/", {"path": "model.bin"})
    assert "Binary file: no preview." in response.content.decode()


def test_a_missing_file_is_a_404_and_traversal_a_400(client, workspace):
    assert client.get(f"{WS}/workspaceblobstore/preview/", {"path": "no.txt"}).status_code == 404
    assert client.get(f"{WS}/workspaceblobstore/", {"path": "../x"}).status_code == 400
    assert client.get(f"{WS}/workspaceblobstore/download/", {"path": "../x"}).status_code == 400


def test_deleting_a_file_rerenders_its_folder(client, blob):
    blob.write_stream("dir/a.txt", io.BytesIO(b"a"))
    blob.write_stream("dir/b.txt", io.BytesIO(b"b"))

    response = client.post(
        f"{WS}/workspaceblobstore/delete-file/?path=dir/a.txt", HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 200
    assert 'data-path="dir/b.txt"' in response.content.decode()
    assert not blob.exists("dir/a.txt")


def test_set_default_with_htmx_navigates_back_to_the_datastore(client, workspace):
    response = client.post(f"{WS}/workspacefilestore/set-default/", HTTP_HX_REQUEST="true")

    assert response["HX-Redirect"] == f"{WS}/workspacefilestore/"
    assert Datastore.objects.get(workspace=workspace, is_default=True).name == "workspacefilestore"


def test_deleting_the_default_shows_why_with_409(client, workspace):
    response = client.post(f"{WS}/workspaceblobstore/delete/")
    assert response.status_code == 409
    assert "make another one the default first" in response.content.decode()


def test_an_unreachable_datastore_shows_the_error_in_the_browser(
    client, workspace, owner, moto_s3, s3_bucket
):
    from apps.workspaces.services import datastores as services
    from tests.storage_servers import s3_fields

    datastore = services.datastore_create(
        actor=owner, workspace=workspace, name="flaky", **s3_fields(moto_s3, s3_bucket)
    )
    datastore.config = {**datastore.config, "bucket": "gone-bucket"}
    datastore.save()

    response = client.get(f"{WS}/flaky/")

    assert response.status_code == 200
    assert "Datastore &#x27;flaky&#x27; failed" in response.content.decode()


def test_editing_rotates_credentials_and_never_shows_them(
    client, workspace, owner, azurite, azure_container
):
    from apps.workspaces.services import datastores as services
    from tests.storage_servers import azure_fields

    services.datastore_create(
        actor=owner, workspace=workspace, name="blob", **azure_fields(azurite, azure_container)
    )
    page = client.get(f"{WS}/blob/edit/").content.decode()
    assert "Now: Account key: set" in page
    assert azurite.account_key not in page

    bad = client.post(f"{WS}/blob/edit/", {"description": "x", "account_key": "Y" * 86 + "=="})
    assert bad.status_code == 422
    assert "403 AuthorizationFailure" in bad.context["form"].errors["account_key"][0]

    ok = client.post(
        f"{WS}/blob/edit/", {"description": "rotated", "account_key": azurite.account_key}
    )
    assert ok.status_code == 302
    assert Datastore.objects.get(name="blob").description == "rotated"


def test_the_nav_marks_datastores_active_on_a_datastore_page(client, workspace):
    body = client.get(f"{WS}/workspaceblobstore/").content.decode()
    assert 'class="active">Datastores</a>' in body
