"""Matrix rows: the data kind's own routes (create, uploads, preview, profile, download)."""

import io

import pytest

from . import api_expect, expect

CREATE = expect(403, owner=302, contributor=302, data_scientist=302)
API_CREATE = api_expect(403, owner=201, contributor=201, data_scientist=201)
VIEW = expect(200, compute_operator=403)
API_VIEW = api_expect(200, compute_operator=403)
URL = {"name": "web", "type": "uri_file", "path": "https://example.org/iris.csv"}
FORM = {**URL, "source": "url"}
VER = "/w/churn/data/csvdata/versions/1/-/"
API_BASE = "/api/v1/workspaces/churn/data/"
API_VER = f"{API_BASE}csvdata/versions/1/"

HTML = [
    (
        "assets:data-create",
        "get",
        "/w/churn/data/-/new/",
        None,
        expect(403, owner=200, contributor=200, data_scientist=200),
    ),
    ("assets:data-create", "post", "/w/churn/data/-/new/", FORM, CREATE),
    ("assets:data-preview", "get", f"{VER}preview/", None, VIEW),
    ("assets:data-profile", "get", f"{VER}profile/", None, VIEW),
    ("assets:data-profile", "post", f"{VER}profile/", None, CREATE),
    ("assets:data-download", "get", f"{VER}download/", None, VIEW),
]

API = [
    ("api:data-list", "post", API_BASE, URL, API_CREATE),
    ("api:data-upload-start", "post", f"{API_BASE}-/uploads/", None, API_CREATE),
    (
        "api:data-upload-file",
        "delete",
        f"{API_BASE}-/uploads/1700000000-{'0' * 32}-workspaceblobstore/",
        None,
        api_expect(403, owner=204, contributor=204, data_scientist=204),
    ),
    ("api:data-preview", "get", f"{API_VER}preview/", None, API_VIEW),
    (
        "api:data-profile",
        "post",
        f"{API_VER}profile/",
        None,
        api_expect(403, owner=202, contributor=202, data_scientist=202),
    ),
    ("api:data-download", "get", f"{API_VER}download/", None, API_VIEW),
]

FIXTURES = {
    p: ("matrix_data",)
    for p in (
        f"{VER}preview/",
        f"{VER}profile/",
        f"{VER}download/",
        f"{API_VER}preview/",
        f"{API_VER}profile/",
        f"{API_VER}download/",
    )
}


@pytest.fixture
def matrix_data(workspace, owner):
    """Version 1 of `csvdata`, a CSV file on the default datastore."""
    from apps.assets.services import data

    staged = data.upload_begin(actor=owner, workspace=workspace)
    staged.put("iris.csv", io.BytesIO(b"a,b\n1,2\n"), folder=False, size=8)
    data.data_create_upload(
        actor=owner, staged=staged, name="csvdata", version="1", type="uri_file"
    )
    staged.cleanup()
