"""Matrix rows: components' own routes (create, by API and by the studio's page)."""

from . import api_expect, expect

API = [
    # An empty body: those who may create get as far as the validation (400).
    (
        "api:component-list",
        "post",
        "/api/v1/workspaces/churn/components/",
        None,
        api_expect(403, owner=400, contributor=400, data_scientist=400),
    ),
]

HTML = [
    (
        "assets:component-create",
        "get",
        "/w/churn/components/-/new/",
        None,
        expect(403, owner=200, contributor=200, data_scientist=200),
    ),
    (
        "assets:component-create",
        "post",
        "/w/churn/components/-/new/",
        {"yaml": ""},
        expect(403, owner=422, contributor=422, data_scientist=422),
    ),
]
