"""Every HTML and API route × every persona → the expected status.

A route that is not listed here fails `test_every_route_is_in_the_matrix`: a new route is
not done until its row is written. Outsiders always get 404 for anything in `churn`, exactly
as for a workspace that does not exist.
"""

from __future__ import annotations

import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tests.conftest import api_client_for, client_for

O, C, R, DS, CO, OUT, ANON = "owner", "contributor", "reader", "data_scientist", "compute_operator", "outsider", "anonymous"
MEMBERS = (O, C, R, DS, CO)
pytestmark = pytest.mark.django_db
RANDOM_UUID = str(uuid.UUID(int=1))


def expect(default, **overrides):
    """Expected status per persona: `default` for every member, then overrides."""
    table = {p: default for p in MEMBERS}
    table.update({OUT: 404, ANON: 302})
    table.update(overrides)
    return table


def api_expect(default, **overrides):
    table = expect(default, **overrides)
    table.setdefault(ANON, 401)
    if table[ANON] == 302:
        table[ANON] = 401
    return table


def owner_only(ok, **kw):
    return expect(403, owner=ok, **kw)


# (route name, method, path, data, expected statuses). Paths name the `churn` workspace.
HTML = [
    ("home", "get", "/", None, expect(302, outsider=302)),
    ("login", "get", "/login/", None, expect(302, outsider=302, anonymous=200)),
    ("logout", "post", "/logout/", None, expect(302, outsider=302, anonymous=302)),
    ("healthz", "get", "/healthz", None, expect(200, outsider=200, anonymous=200)),
    ("token-list", "get", "/tokens/", None, expect(200, outsider=200)),
    ("token-list", "post", "/tokens/", {"name": "ci"}, expect(200, outsider=200)),
    ("token-revoke", "post", f"/tokens/{RANDOM_UUID}/revoke/", None, expect(404)),
    ("workspaces:workspace-list", "get", "/workspaces/", None, expect(200, outsider=200)),
    ("workspaces:workspace-create", "get", "/workspaces/new/", None, expect(200, outsider=200)),
    ("workspaces:workspace-create", "post", "/workspaces/new/", {"name": "new-space"}, expect(302, outsider=302)),
    ("workspaces:workspace-switcher", "get", "/workspaces/switcher/?q=ch", None, expect(200, outsider=200)),
    ("workspaces:workspace-home", "get", "/w/churn/", None, expect(200)),
    ("workspaces:workspace-settings", "get", "/w/churn/settings/", None, expect(200)),
    (
        "workspaces:workspace-settings",
        "post",
        "/w/churn/settings/",
        {"display_name": "Churn", "description": "", "tags": ""},
        expect(403, owner=302, contributor=302),
    ),
    ("workspaces:workspace-delete", "get", "/w/churn/delete/", None, expect(403, owner=200, contributor=200)),
    (
        "workspaces:workspace-delete",
        "post",
        "/w/churn/delete/",
        {"confirm": "churn"},
        expect(403, owner=302, contributor=302),
    ),
    ("workspaces:access-control", "get", "/w/churn/access/", None, expect(200)),
    ("workspaces:member-add", "post", "/w/churn/access/add/", {"user": "bob", "role": "Reader"}, owner_only(302)),
    ("workspaces:member-user-search", "get", "/w/churn/access/users/?user=b", None, owner_only(200)),
    ("workspaces:member-update", "post", "/w/churn/access/bob/role/", {"role": "Contributor"}, owner_only(302)),
    ("workspaces:member-remove", "post", "/w/churn/access/bob/remove/", None, owner_only(302)),
    ("workspaces:datastore-list", "get", "/w/churn/datastores/", None, expect(200, compute_operator=403)),
]

API = [
    ("api:me", "get", "/api/v1/me/", None, api_expect(200, outsider=200)),
    ("api:health", "get", "/api/v1/health/", None, api_expect(200, outsider=200)),
    ("api:schema", "get", "/api/v1/schema/", None, api_expect(200, outsider=200, anonymous=200)),
    ("api:docs", "get", "/api/v1/docs/", None, api_expect(200, outsider=200, anonymous=200)),
    ("api:token-list", "get", "/api/v1/tokens/", None, api_expect(200, outsider=200)),
    ("api:token-list", "post", "/api/v1/tokens/", {"name": "laptop"}, api_expect(201, outsider=201)),
    ("api:token-detail", "delete", f"/api/v1/tokens/{RANDOM_UUID}/", None, api_expect(404)),
    ("api:workspace-list", "get", "/api/v1/workspaces/", None, api_expect(200, outsider=200)),
    ("api:workspace-list", "post", "/api/v1/workspaces/", {"name": "new-space"}, api_expect(201, outsider=201)),
    ("api:workspace-detail", "get", "/api/v1/workspaces/churn/", None, api_expect(200)),
    (
        "api:workspace-detail",
        "patch",
        "/api/v1/workspaces/churn/",
        {"description": "x"},
        api_expect(403, owner=200, contributor=200),
    ),
    ("api:workspace-detail", "delete", "/api/v1/workspaces/churn/", None, api_expect(403, owner=204, contributor=204)),
    ("api:member-list", "get", "/api/v1/workspaces/churn/members/", None, api_expect(200)),
    (
        "api:member-list",
        "post",
        "/api/v1/workspaces/churn/members/",
        {"user": "bob", "role": "Reader"},
        api_expect(403, owner=201),
    ),
    ("api:member-detail", "get", "/api/v1/workspaces/churn/members/bob/", None, api_expect(200)),
    (
        "api:member-detail",
        "patch",
        "/api/v1/workspaces/churn/members/bob/",
        {"role": "Contributor"},
        api_expect(403, owner=200),
    ),
    ("api:member-detail", "delete", "/api/v1/workspaces/churn/members/bob/", None, api_expect(403, owner=204)),
    ("api:role-audit-list", "get", "/api/v1/workspaces/churn/role-audit/", None, api_expect(200)),
    (
        "api:datastore-list",
        "get",
        "/api/v1/workspaces/churn/datastores/",
        None,
        api_expect(200, compute_operator=403),
    ),
]

PERSONAS = (*MEMBERS, OUT, ANON)


def _cases(rows):
    for name, method, path, data, statuses in rows:
        for persona in PERSONAS:
            yield pytest.param(method, path, data, persona, statuses[persona], id=f"{method} {path} as {persona}")


@pytest.fixture
def bob(workspace):
    """A second member, the subject of role changes in the matrix."""
    from tests.factories import UserFactory

    user = UserFactory(username="bob")
    return user


def _setup(request, persona, path, method):
    request.getfixturevalue("workspace")
    bob = request.getfixturevalue("bob")
    if "/access/bob/" in path or "/members/bob/" in path:
        from apps.workspaces.models import Role
        from tests.factories import add_member

        add_member(request.getfixturevalue("workspace"), bob, Role.READER)
    return request.getfixturevalue(persona)


@pytest.mark.parametrize("method,path,data,persona,expected", list(_cases(HTML)))
def test_html_route_answers_each_persona_as_expected(request, method, path, data, persona, expected):
    user = _setup(request, persona, path, method)
    response = getattr(client_for(user), method)(path, data or {})
    assert response.status_code == expected, response.content[:500]


@pytest.mark.parametrize("method,path,data,persona,expected", list(_cases(API)))
def test_api_route_answers_each_persona_as_expected(request, method, path, data, persona, expected):
    user = _setup(request, persona, path, method)
    client = api_client_for(user)
    response = getattr(client, method)(path, data, format="json") if data else getattr(client, method)(path)
    assert response.status_code == expected, getattr(response, "data", response.content[:300])


def _named_routes(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            if entry.app_name == "admin":
                continue  # Django's own admin, guarded by is_staff
            ns = entry.namespace
            yield from _named_routes(entry, f"{prefix}{ns}:" if ns else prefix)
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{prefix}{entry.name}"


def test_every_route_is_in_the_matrix():
    listed = {row[0] for row in HTML + API}
    missing = sorted(set(_named_routes()) - listed)
    assert not missing, f"routes without a row in the permission matrix: {missing}"
