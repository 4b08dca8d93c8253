"""The REST API: shapes, errors, paging and authentication."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.workspaces.models import Workspace
from tests.conftest import api_client_for
from tests.factories import make_workspace

pytestmark = pytest.mark.django_db


def test_create_returns_the_workspace_with_the_callers_role(api):
    response = api.post(
        "/api/v1/workspaces/", {"name": "fraud", "tags": {"team": "risk"}}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "fraud" and body["role"] == "Owner" and body["tags"] == {"team": "risk"}


def test_validation_errors_name_the_field_path(api):
    response = api.post(
        "/api/v1/workspaces/", {"name": "ok-name", "tags": {"team": {"x": 1}}}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body) == {"code", "message", "fields"}
    assert "tags.team" in body["fields"]


def test_a_missing_required_field_is_named(api):
    body = api.post("/api/v1/workspaces/", {}, format="json").json()
    assert list(body["fields"]) == ["name"]
    assert "name" in body["message"]


def test_malformed_json_is_a_400_not_a_500(api):
    response = api.generic(
        "POST", "/api/v1/workspaces/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_an_outsider_cannot_tell_a_workspace_exists(workspace, outsider):
    client = api_client_for(outsider)
    hidden = client.get("/api/v1/workspaces/churn/")
    absent = client.get("/api/v1/workspaces/no-such-space/")
    assert hidden.status_code == absent.status_code == 404
    assert hidden.json()["code"] == absent.json()["code"] == "not_found"
    for path in ("/members/", "/role-audit/", "/datastores/"):
        assert client.get(f"/api/v1/workspaces/churn{path}").status_code == 404


def test_workspace_list_shows_only_the_callers_workspaces(workspace, outsider):
    names = [
        w["name"] for w in api_client_for(outsider).get("/api/v1/workspaces/").json()["results"]
    ]
    assert names == ["eves-space"]


def test_lists_are_paged_by_cursor(owner):
    for i in range(7):
        make_workspace(owner=owner, name=f"space-{i}")
    client = api_client_for(owner)
    first = client.get("/api/v1/workspaces/?page_size=5").json()
    assert len(first["results"]) == 5 and first["next"]
    second = client.get(first["next"]).json()
    assert [w["name"] for w in first["results"] + second["results"]] == [
        f"space-{i}" for i in range(7)
    ]
    assert second["next"] is None


def test_workspace_list_uses_a_constant_number_of_queries(owner, django_assert_max_num_queries):
    for i in range(20):
        make_workspace(owner=owner, name=f"space-{i}")
    client = api_client_for(owner)
    client.get("/api/v1/workspaces/")  # warm the token's last-used write
    with django_assert_max_num_queries(4):
        assert len(client.get("/api/v1/workspaces/").json()["results"]) == 20


def test_member_endpoints_add_change_and_remove(api, workspace):
    from tests.factories import UserFactory

    UserFactory(username="bob")
    assert (
        api.post(
            "/api/v1/workspaces/churn/members/", {"user": "bob", "role": "reader"}, format="json"
        ).json()["role"]
        == "Reader"
    )
    assert (
        api.patch(
            "/api/v1/workspaces/churn/members/bob/", {"role": "Contributor"}, format="json"
        ).json()["role"]
        == "Contributor"
    )
    assert api.delete("/api/v1/workspaces/churn/members/bob/").status_code == 204
    audit = api.get("/api/v1/workspaces/churn/role-audit/").json()["results"]
    assert [a["action"] for a in audit[:3]] == ["removed", "changed", "added"]


def test_removing_the_last_owner_is_a_409_with_the_reason(api, workspace):
    response = api.delete("/api/v1/workspaces/churn/members/alice/")
    assert response.status_code == 409
    assert "last Owner" in response.json()["message"]


def test_token_api_shows_the_token_once(api):
    created = api.post("/api/v1/tokens/", {"name": "laptop"}, format="json").json()
    assert created["token"].startswith("stu_")
    listed = api.get("/api/v1/tokens/").json()["results"]
    assert all("token" not in t for t in listed)
    fresh = APIClient()
    fresh.credentials(HTTP_AUTHORIZATION=f"Bearer {created['token']}")
    assert fresh.get("/api/v1/me/").json()["username"] == "alice"
    assert api.delete(f"/api/v1/tokens/{created['id']}/").status_code == 204
    assert fresh.get("/api/v1/me/").status_code == 401


def test_token_header_also_accepts_the_token_keyword(owner):
    from apps.workspaces import services

    _, raw = services.token_create(actor=owner, name="x")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    assert client.get("/api/v1/me/").status_code == 200


def test_session_api_writes_need_csrf(owner):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(owner)
    response = client.post("/api/v1/workspaces/", {"name": "sneaky"}, format="json")
    assert response.status_code == 403
    assert not Workspace.objects.filter(name="sneaky").exists()


def test_openapi_schema_lists_the_workspace_endpoints(client):
    body = client.get("/api/v1/schema/?format=json").json()
    assert "/api/v1/workspaces/{workspace_name}/members/" in body["paths"]
    assert "tokenAuth" in body["components"]["securitySchemes"]
    assert body["info"]["title"] == "Studio API"


def test_a_taken_name_is_a_409_conflict(api, workspace):
    response = api.post("/api/v1/workspaces/", {"name": "churn"}, format="json")
    assert response.status_code == 409
    assert "name" in response.json()["fields"]


def test_azure_only_fields_are_kept_and_shown(api):
    extra = {"location": "westeurope", "resource_group": "rg"}
    created = api.post(
        "/api/v1/workspaces/", {"name": "az-space", "extra": extra}, format="json"
    ).json()
    assert created["extra"] == extra
