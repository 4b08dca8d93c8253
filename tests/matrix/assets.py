"""Matrix rows: what every asset kind shares (list, show, update, archive, restore), for
each kind. Kinds' own routes (create, download, build...) are in their own modules."""

import pytest

from . import api_expect, expect

# Every role but the Compute Operator sees assets; Owner, Contributor and Data Scientist
# change them.
VIEW = api_expect(200, compute_operator=403)
WRITE = api_expect(403, owner=200, contributor=200, data_scientist=200)
SEGMENTS = {
    "data": "data",
    "environment": "environments",
    "model": "models",
    "component": "components",
}
FIELDS = {
    "data": {"type": "uri_file", "path": "https://example.org/iris.csv"},
    "environment": {
        "source": "image",
        "image": "studio-base:bookworm-py311-r2",
        "spec_hash": "0" * 64,
    },
    "model": {"type": "custom_model", "path": "azureml://datastores/workspaceblobstore/paths/m/"},
    "component": {"command": "echo hi"},
}

PAGE = expect(200, compute_operator=403)
CHANGE = expect(403, owner=302, contributor=302, data_scientist=302)
EDIT = {"owner": 200, "contributor": 200, "data_scientist": 200}
HTML = []
API = []
FIXTURES = {}
for kind, seg in SEGMENTS.items():
    page = f"/w/churn/{seg}/"
    pver = f"{page}iris/versions/1/"
    HTML += [
        ("assets:asset-list", "get", page, None, PAGE),
        ("assets:asset-bulk-archive", "post", f"{page}-/archive/", {"names": ["iris"]}, CHANGE),
        ("assets:asset-detail", "get", f"{page}iris/", None, PAGE),
        ("assets:version-detail", "get", pver, None, PAGE),
        ("assets:version-edit", "get", f"{pver}edit/", None, CHANGE | EDIT),
        ("assets:version-edit", "post", f"{pver}edit/", {"tags": "a=b"}, CHANGE),
        ("assets:version-archive", "post", f"{pver}archive/", None, CHANGE),
        ("assets:version-restore", "post", f"{pver}restore/", None, CHANGE),
    ]
    for p in (
        f"{page}-/archive/",
        f"{page}iris/",
        pver,
        f"{pver}edit/",
        f"{pver}archive/",
        f"{pver}restore/",
    ):
        FIXTURES[p] = ("matrix_assets",)
    base = f"/api/v1/workspaces/churn/{seg}/"
    one = f"{base}iris/"
    ver = f"{one}versions/1/"
    API += [
        (f"api:{kind}-list", "get", base, None, VIEW),
        (f"api:{kind}-detail", "get", one, None, VIEW),
        (f"api:{kind}-detail", "patch", one, {"description": "d"}, WRITE),
        (f"api:{kind}-archive", "post", f"{one}archive/", None, WRITE),
        (f"api:{kind}-restore", "post", f"{one}restore/", None, WRITE),
        (f"api:{kind}-version-list", "get", f"{one}versions/", None, VIEW),
        (f"api:{kind}-version-detail", "get", ver, None, VIEW),
        (f"api:{kind}-version-detail", "patch", ver, {"tags": {"a": "b"}}, WRITE),
        (f"api:{kind}-version-archive", "post", f"{ver}archive/", None, WRITE),
        (f"api:{kind}-version-restore", "post", f"{ver}restore/", None, WRITE),
    ]
    for path in (
        one,
        f"{one}archive/",
        f"{one}restore/",
        f"{one}versions/",
        ver,
        f"{ver}archive/",
        f"{ver}restore/",
    ):
        FIXTURES[path] = ("matrix_assets",)


@pytest.fixture
def matrix_assets(workspace):
    """Version 1 of an asset named `iris` of every kind."""
    from apps.assets.services import versions

    for kind, fields in FIELDS.items():
        versions.version_create(
            actor=None, workspace=workspace, kind=kind, name="iris", version="1", fields=fields
        )
