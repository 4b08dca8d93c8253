"""Matrix rows: the Designer's pages, fragments and API (drafts)."""

from __future__ import annotations

import uuid

import pytest

from . import api_expect, expect

DRAFT_ID = str(uuid.UUID(int=77))
W = "/w/churn/designer/"
D = f"{W}{DRAFT_ID}/"
A = "/api/v1/workspaces/churn/designer/drafts/"
VIEW = expect(200, compute_operator=403)
EDIT = dict(reader=403, compute_operator=403)


def edit(ok):
    return expect(ok, **EDIT)


HTML = [
    ("designer:draft-list", "get", W, None, VIEW),
    ("designer:draft-create", "post", f"{W}-/new/", {"name": ""}, edit(422)),
    ("designer:draft-import", "post", f"{W}-/import/", {"yaml": ""}, edit(422)),
    ("designer:draft-clone", "post", f"{W}-/clone/no-such-run/", None, edit(404)),
    ("designer:draft-detail", "get", D, None, VIEW),
    ("designer:draft-rename", "post", f"{D}rename/", {"name": ""}, edit(422)),
    ("designer:draft-delete", "post", f"{D}delete/", None, edit(302)),
    ("designer:draft-palette", "get", f"{D}palette/", None, VIEW),
    ("designer:draft-gesture", "post", f"{D}gesture/", {"op": "nope"}, edit(422)),
    ("designer:draft-node", "get", f"{D}nodes/x/", None, VIEW),
    ("designer:draft-node", "post", f"{D}nodes/x/", {"param.a": "1"}, edit(422)),
    ("designer:draft-settings", "get", f"{D}settings/", None, VIEW),
    ("designer:draft-settings", "post", f"{D}settings/", {"experiment_name": "e"}, edit(200)),
    ("designer:draft-validate", "post", f"{D}validate/", None, VIEW),
    ("designer:draft-history", "get", f"{D}history/", None, VIEW),
    ("designer:draft-export", "get", f"{D}export.yml", None, VIEW),
    ("designer:draft-submit", "get", f"{D}submit/", None, VIEW),
    ("designer:draft-submit", "post", f"{D}submit/", {"compute": ""}, edit(422)),
]

API_VIEW = api_expect(200, compute_operator=403)


def api_edit(ok):
    return api_expect(ok, **EDIT)


API = [
    ("api:designer-draft-list", "get", A, None, API_VIEW),
    ("api:designer-draft-list", "post", A, {"name": ""}, api_edit(400)),
    ("api:designer-draft-import", "post", f"{A}-/import/", {"yaml": ""}, api_edit(400)),
    ("api:designer-draft-detail", "get", f"{A}{DRAFT_ID}/", None, API_VIEW),
    ("api:designer-draft-detail", "patch", f"{A}{DRAFT_ID}/", {"name": "renamed"},
     api_edit(200)),
    ("api:designer-draft-detail", "delete", f"{A}{DRAFT_ID}/", None, api_edit(204)),
    ("api:designer-draft-export", "get", f"{A}{DRAFT_ID}/export/", None, API_VIEW),
    ("api:designer-draft-submit", "post", f"{A}{DRAFT_ID}/submit/", {"compute": "x"},
     api_edit(400)),
]  # fmt: skip

FIXTURES = {path: ("matrix_draft",) for path in {row[2] for row in HTML + API} if DRAFT_ID in path}


@pytest.fixture
def matrix_draft(workspace):
    from apps.designer.models import Draft, DraftChange

    draft = Draft.objects.create(id=uuid.UUID(DRAFT_ID), workspace=workspace, name="matrix")
    DraftChange.objects.create(draft=draft, revision=0, action="create")
    return draft
