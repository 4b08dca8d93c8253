"""Matrix rows: code snapshots (upload a zipped code folder, read its manifest)."""

import pytest

from . import RANDOM_UUID, api_expect

BASE = "/api/v1/workspaces/churn/code/"
ONE = f"{BASE}{RANDOM_UUID}/"

API = [
    # No body: members who may create get as far as "empty" (400); the rest are refused first.
    (
        "api:code-list",
        "post",
        BASE,
        None,
        api_expect(403, owner=400, contributor=400, data_scientist=400),
    ),
    ("api:code-detail", "get", ONE, None, api_expect(200, compute_operator=403)),
]

FIXTURES = {ONE: ("matrix_code_snapshot",)}


@pytest.fixture
def matrix_code_snapshot(workspace):
    import io
    import uuid
    import zipfile

    from apps.assets.models import CodeSnapshot
    from apps.assets.services import code

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("train.py", "print('hi')\n")
    buf.seek(0)
    snapshot = code.snapshot_create(actor=None, workspace=workspace, fileobj=buf)
    CodeSnapshot.objects.filter(pk=snapshot.pk).update(id=uuid.UUID(RANDOM_UUID))
