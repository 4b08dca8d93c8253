"""Rows of the permission matrix, one module per area: each defines HTML and API lists of
(route name, method, path, data, expected status per persona). Paths name the `churn`
workspace; the member `bob` (Reader) exists when a path names him.

tests/test_permission_matrix.py runs every row for every persona, and fails when a route
has no row. Add a module here for a new area; it is picked up by itself.
"""

from __future__ import annotations

import uuid

MEMBERS = ("owner", "contributor", "reader", "data_scientist", "compute_operator")
OUT, ANON = "outsider", "anonymous"
PERSONAS = (*MEMBERS, OUT, ANON)
RANDOM_UUID = str(uuid.UUID(int=1))


def expect(default, **overrides):
    """Expected status per persona: `default` for every member, then overrides. Outsiders
    get 404 and anonymous users are sent to the login page unless overridden."""
    table = {p: default for p in MEMBERS}
    table.update({OUT: 404, ANON: 302})
    table.update(overrides)
    return table


def api_expect(default, **overrides):
    """As `expect`, for the API: anonymous callers get 401 unless overridden."""
    overrides.setdefault(ANON, 401)
    return expect(default, **overrides)


def owner_only(ok, **kw):
    return expect(403, owner=ok, **kw)
