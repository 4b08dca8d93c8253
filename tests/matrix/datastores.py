"""Matrix rows: datastores (Manage > Datastores), their files, and their API.

Rows that name `matrix_store` get it from the `matrix_datastore` fixture: a local datastore
holding hello.txt and pixel.png.
"""

from __future__ import annotations

import io

import pytest

from . import api_expect, expect

WS = "/w/churn/datastores"
API = "/api/v1/workspaces/churn/datastores"
DS = f"{WS}/matrix_store"
API_DS = f"{API}/matrix_store"
# Who may do what: everyone but a Compute Operator sees datastores and reads their files;
# Owners, Contributors and Data Scientists manage them and write files.
VIEW = {"compute_operator": 403}
MANAGE = {"reader": 403, "compute_operator": 403}
# The smallest PNG (1x1 pixel).
PIXEL_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf00000301010018dd8db00000000049454e44ae426082"
)


class _UploadFile:
    """A file for the test client's multipart body that can be read again for each persona."""

    name = "upload.txt"

    def read(self) -> bytes:
        return b"uploaded by the matrix"


@pytest.fixture
def matrix_datastore(workspace, owner):
    from apps.workspaces import storage
    from apps.workspaces.services import datastores as services

    datastore = services.datastore_create(
        actor=owner, workspace=workspace, name="matrix_store", type="local", path="matrix"
    )
    store = storage.open_store(datastore)
    store.write_stream("hello.txt", io.BytesIO(b"hello"))
    store.write_stream("pixel.png", io.BytesIO(PIXEL_PNG))
    return datastore


HTML = [
    ("workspaces:datastore-list", "get", f"{WS}/", None, expect(200, **VIEW)),
    ("workspaces:datastore-create", "get", f"{WS}/-/new/", None, expect(200, **MANAGE)),
    (
        "workspaces:datastore-create",
        "post",
        f"{WS}/-/new/",
        {"name": "matrix_new", "type": "local", "path": "matrix_new"},
        expect(302, **MANAGE),
    ),
    ("workspaces:datastore-detail", "get", f"{DS}/", None, expect(200, **VIEW)),
    ("workspaces:datastore-detail", "get", f"{DS}/?path=", None, expect(200, **VIEW)),
    ("workspaces:datastore-edit", "get", f"{DS}/edit/", None, expect(200, **MANAGE)),
    (
        "workspaces:datastore-edit",
        "post",
        f"{DS}/edit/",
        {"description": "edited", "tags": ""},
        expect(302, **MANAGE),
    ),
    ("workspaces:datastore-set-default", "post", f"{DS}/set-default/", None, expect(302, **MANAGE)),
    ("workspaces:datastore-delete", "post", f"{DS}/delete/", None, expect(302, **MANAGE)),
    (
        "workspaces:datastore-upload",
        "post",
        f"{DS}/upload/?path=in",
        {"file": _UploadFile()},
        expect(302, **MANAGE),
    ),
    (
        "workspaces:datastore-download",
        "get",
        f"{DS}/download/?path=hello.txt",
        None,
        expect(200, **VIEW),
    ),
    (
        "workspaces:datastore-preview",
        "get",
        f"{DS}/preview/?path=hello.txt",
        None,
        expect(200, **VIEW),
    ),
    ("workspaces:datastore-raw", "get", f"{DS}/raw/?path=pixel.png", None, expect(200, **VIEW)),
    (
        "workspaces:datastore-file-delete",
        "post",
        f"{DS}/delete-file/?path=hello.txt",
        None,
        expect(302, **MANAGE),
    ),
]

API = [
    ("api:datastore-list", "get", f"{API}/", None, api_expect(200, **VIEW)),
    (
        "api:datastore-list",
        "post",
        f"{API}/",
        {"name": "matrix_api", "type": "local", "path": "matrix_api"},
        api_expect(201, **MANAGE),
    ),
    ("api:datastore-detail", "get", f"{API_DS}/", None, api_expect(200, **VIEW)),
    (
        "api:datastore-detail",
        "patch",
        f"{API_DS}/",
        {"description": "edited"},
        api_expect(200, **MANAGE),
    ),
    ("api:datastore-detail", "delete", f"{API_DS}/", None, api_expect(204, **MANAGE)),
    (
        "api:datastore-set-default",
        "post",
        f"{API_DS}/set-default/",
        None,
        api_expect(200, **MANAGE),
    ),
    ("api:datastore-file-list", "get", f"{API_DS}/files/?path=", None, api_expect(200, **VIEW)),
    (
        "api:datastore-file-content",
        "get",
        f"{API_DS}/files/content?path=hello.txt",
        None,
        api_expect(200, **VIEW),
    ),
    (
        "api:datastore-file-content",
        "put",
        f"{API_DS}/files/content?path=up/new.txt",
        None,
        api_expect(201, **MANAGE),
    ),
    (
        "api:datastore-file-content",
        "delete",
        f"{API_DS}/files/content?path=hello.txt",
        None,
        api_expect(204, **MANAGE),
    ),
]

FIXTURES = {
    path: ("matrix_datastore",) for _, _, path, _, _ in HTML + API if "matrix_store" in path
}
