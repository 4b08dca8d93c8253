"""Every HTML and API route × every persona → the expected status.

The rows live in tests/matrix/ (one module per area). A route that has no row fails
`test_every_route_is_in_the_matrix`: a new route is not done until its row is written.
Outsiders get 404 for anything in `churn`, exactly as for a workspace that does not exist.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

import tests.matrix
from tests.conftest import api_client_for, client_for
from tests.matrix import PERSONAS

pytestmark = pytest.mark.django_db

MODULES = [
    importlib.import_module(f"tests.matrix.{m.name}")
    for m in pkgutil.iter_modules(tests.matrix.__path__)
]
HTML = [row for module in MODULES for row in getattr(module, "HTML", [])]
# Fixtures that rows need (named in a module's FIXTURES) are defined in the row modules with
# names starting `matrix_`; bringing them into this module's namespace lets pytest find them.
for _module in MODULES:
    globals().update({k: v for k, v in vars(_module).items() if k.startswith("matrix_")})
API = [row for module in MODULES for row in getattr(module, "API", [])]


def _cases(rows):
    for _name, method, path, data, statuses in rows:
        for persona in PERSONAS:
            yield pytest.param(
                method, path, data, persona, statuses[persona], id=f"{method} {path} as {persona}"
            )


def _setup(request, persona, path):
    """The workspace, the member `bob` when a path names him, and any fixtures that the
    row's module asks for (`FIXTURES`), then the persona's user."""
    from apps.workspaces.models import Role
    from tests.factories import UserFactory, add_member

    workspace = request.getfixturevalue("workspace")
    bob = UserFactory(username="bob")
    if "/bob/" in path:
        add_member(workspace, bob, Role.READER)
    for module in MODULES:
        for fixture in getattr(module, "FIXTURES", {}).get(path, ()):
            request.getfixturevalue(fixture)
    return request.getfixturevalue(persona)


@pytest.mark.parametrize("method,path,data,persona,expected", list(_cases(HTML)))
def test_html_route_answers_each_persona_as_expected(
    request, method, path, data, persona, expected
):
    user = _setup(request, persona, path)
    response = getattr(client_for(user), method)(path, data or {})
    assert response.status_code == expected, response.content[:500]


@pytest.mark.parametrize("method,path,data,persona,expected", list(_cases(API)))
def test_api_route_answers_each_persona_as_expected(request, method, path, data, persona, expected):
    user = _setup(request, persona, path)
    client = api_client_for(user)
    call = getattr(client, method)
    response = call(path, data, format="json") if data else call(path)
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
