"""Matrix rows: the vault (Manage > Secrets) pages and API."""

import pytest

from . import api_expect, expect

# Secret values are write-only for Owner, Contributor and Data Scientist; names are visible
# to every role but the Compute Operator.
SECRET = "/w/churn/secrets/db-password"
API_SECRET = "/api/v1/workspaces/churn/secrets/db-password/"
NEW = {"name": "api-key", "value": "matrix-value"}


def manage(ok, **kw):
    return expect(403, owner=ok, contributor=ok, data_scientist=ok, **kw)


def api_manage(ok, **kw):
    return api_expect(403, owner=ok, contributor=ok, data_scientist=ok, **kw)


HTML = [
    (
        "workspaces:secret-list",
        "get",
        "/w/churn/secrets/",
        None,
        expect(200, compute_operator=403),
    ),
    ("workspaces:secret-set", "post", "/w/churn/secrets/set/", NEW, manage(302)),
    ("workspaces:secret-delete", "post", f"{SECRET}/delete/", None, manage(302)),
]

API = [
    (
        "api:secret-list",
        "get",
        "/api/v1/workspaces/churn/secrets/",
        None,
        api_expect(200, compute_operator=403),
    ),
    ("api:secret-list", "post", "/api/v1/workspaces/churn/secrets/", NEW, api_manage(201)),
    ("api:secret-detail", "get", API_SECRET, None, api_expect(200, compute_operator=403)),
    ("api:secret-detail", "put", API_SECRET, {"value": "new-value"}, api_manage(200)),
    ("api:secret-detail", "delete", API_SECRET, None, api_manage(204)),
    (
        "api:secret-audit-list",
        "get",
        "/api/v1/workspaces/churn/secret-audit/",
        None,
        api_expect(200, compute_operator=403),
    ),
]

FIXTURES = {
    f"{SECRET}/delete/": ("matrix_secret",),
    API_SECRET: ("matrix_secret",),
}


@pytest.fixture
def matrix_secret(workspace):
    """The secret `db-password` of `churn`, set by its Owner."""
    from apps.workspaces.services import secrets as secret_services

    return secret_services.secret_set(
        actor=workspace.created_by,
        workspace=workspace,
        name="db-password",
        value="matrix-secret-value",
    )
