"""Matrix rows: user management (staff only).

These routes belong to no workspace: they answer staff, and everyone else gets 404 as if
they did not exist. For these rows the `owner` persona (alice, the walkthrough's admin) is
made staff by `matrix_staff_owner`; every other persona is an ordinary account.
"""

import pytest

from . import api_expect, expect

STAFF_ONLY = {"owner": 200}
# Non-staff: 404 whatever their roles in `churn`; anonymous: the login page (HTML), 401 (API).
HTML = [
    ("workspaces:user-list", "get", "/users/", None, expect(404, **STAFF_ONLY)),
    ("workspaces:user-list", "get", "/users/?q=bo&page=1", None, expect(404, **STAFF_ONLY)),
    ("workspaces:user-create", "get", "/users/-/new/", None, expect(404, **STAFF_ONLY)),
    (
        "workspaces:user-create",
        "post",
        "/users/-/new/",
        {"username": "zoe", "password": "a-long-and-unusual-passphrase"},
        expect(404, owner=302),
    ),
    ("workspaces:user-detail", "get", "/users/bob/", None, expect(404, **STAFF_ONLY)),
    (
        "workspaces:user-update",
        "post",
        "/users/bob/update/",
        {"is_active": "false"},
        expect(404, owner=302),
    ),
    (
        "workspaces:user-password-reset",
        "post",
        "/users/bob/reset-password/",
        None,
        expect(404, **STAFF_ONLY),
    ),
]

API = [
    ("api:user-list", "get", "/api/v1/users/", None, api_expect(404, **STAFF_ONLY)),
    (
        "api:user-list",
        "post",
        "/api/v1/users/",
        {"username": "zoe", "generate_password": True},
        api_expect(404, owner=201),
    ),
    ("api:user-detail", "get", "/api/v1/users/bob/", None, api_expect(404, **STAFF_ONLY)),
    (
        "api:user-detail",
        "patch",
        "/api/v1/users/bob/",
        {"is_staff": True},
        api_expect(404, **STAFF_ONLY),
    ),
    (
        "api:user-reset-password",
        "post",
        "/api/v1/users/bob/reset-password/",
        None,
        api_expect(404, **STAFF_ONLY),
    ),
    ("api:user-audit", "get", "/api/v1/users/bob/audit/", None, api_expect(404, **STAFF_ONLY)),
]

FIXTURES = {path: ("matrix_staff_owner",) for _, _, path, _, _ in HTML + API}


@pytest.fixture
def matrix_staff_owner(owner):
    """The owner persona as staff: the one persona that may manage users."""
    owner.is_staff = True
    owner.save(update_fields=["is_staff"])
    return owner
