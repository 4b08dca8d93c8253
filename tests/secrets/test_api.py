"""The vault's API: set, list, show, delete, audit; and no value in any answer or log."""

from __future__ import annotations

import secrets

import pytest

from apps.workspaces.models import Secret, SecretAccess
from apps.workspaces.services import secrets as secret_services
from tests.conftest import api_client_for, client_for

pytestmark = pytest.mark.django_db
BASE = "/api/v1/workspaces/churn/secrets/"


def test_post_creates_with_201_then_replaces_with_200(api, workspace):
    created = api.post(
        BASE, {"name": "db-password", "value": "v-one-1", "description": "DB"}, format="json"
    )
    replaced = api.post(BASE, {"name": "db-password", "value": "v-two-2"}, format="json")
    assert created.status_code == 201 and replaced.status_code == 200
    assert set(created.json()) == {
        "name",
        "description",
        "created_at",
        "created_by",
        "updated_at",
        "updated_by",
    }
    assert replaced.json()["description"] == "DB" and replaced.json()["created_by"] == "alice"
    assert Secret.objects.count() == 1


def test_put_on_the_secret_creates_or_replaces_it(api, workspace):
    first = api.put(f"{BASE}api_key/", {"value": "k-one-1"}, format="json")
    second = api.put(f"{BASE}api_key/", {"value": "k-two-2", "description": "HF"}, format="json")
    assert first.status_code == 201 and second.status_code == 200
    assert second.json()["name"] == "api_key" and second.json()["description"] == "HF"
    values = secret_services.secret_values_for(workspace=workspace, names=["api_key"], purpose="t")
    assert values == {"api_key": "k-two-2"}


def test_get_returns_metadata_and_delete_removes(api, workspace):
    api.put(f"{BASE}api_key/", {"value": "k-one-1"}, format="json")
    shown = api.get(f"{BASE}api_key/")
    assert shown.status_code == 200 and shown.json()["name"] == "api_key"
    assert api.delete(f"{BASE}api_key/").status_code == 204
    assert api.get(f"{BASE}api_key/").status_code == 404
    gone = api.delete(f"{BASE}api_key/")
    assert gone.status_code == 404 and gone.json()["code"] == "not_found"


def test_list_is_paginated_by_name(api, owner, workspace):
    for name in ("zeta", "alpha", "mid"):
        secret_services.secret_set(actor=owner, workspace=workspace, name=name, value="vvvv")
    page = api.get(f"{BASE}?page_size=2").json()
    assert [s["name"] for s in page["results"]] == ["alpha", "mid"]
    rest = api.get(page["next"]).json()
    assert [s["name"] for s in rest["results"]] == ["zeta"]


def test_list_costs_a_fixed_number_of_queries(api, owner, workspace, django_assert_max_num_queries):
    for i in range(10):
        secret_services.secret_set(actor=owner, workspace=workspace, name=f"s{i}", value="vvvv")
    with django_assert_max_num_queries(8):
        assert len(api.get(BASE).json()["results"]) == 10


def test_audit_lists_sets_deletes_and_system_reads_newest_first(api, owner, workspace):
    secret_services.secret_set(actor=owner, workspace=workspace, name="db", value="vvvv")
    secret_services.secret_values_for(workspace=workspace, names=["db"], purpose="job 3f2a")
    secret_services.secret_delete(actor=owner, workspace=workspace, name="db")
    secret_services.secret_set(actor=owner, workspace=workspace, name="other", value="vvvv")
    body = api.get("/api/v1/workspaces/churn/secret-audit/").json()
    assert [(e["kind"], e["actor"], e["secret"]) for e in body["results"]] == [
        ("set", "alice", "other"),
        ("delete", "alice", "db"),
        ("read", "system", "db"),
        ("set", "alice", "db"),
    ]
    assert body["results"][2]["purpose"] == "job 3f2a"
    only = api.get("/api/v1/workspaces/churn/secret-audit/?secret=other").json()
    assert [e["secret"] for e in only["results"]] == ["other"]


@pytest.mark.parametrize(
    "body,field",
    [
        ({"name": "bad name", "value": "vvvv"}, "name"),
        ({"name": "ok", "value": ""}, "value"),
        ({"name": "ok"}, "value"),
        ({"value": "vvvv"}, "name"),
        ({"name": "ok", "value": "x" * (64 * 1024 + 1)}, "value"),
        ({"name": "ok", "value": "vvvv", "description": "d" * 501}, "description"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api, workspace, body, field):
    response = api.post(BASE, body, format="json")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == [field]
    assert not Secret.objects.exists()


def test_a_reader_sees_names_but_cannot_set(workspace, owner, reader):
    secret_services.secret_set(actor=owner, workspace=workspace, name="db", value="vvvv")
    client = api_client_for(reader)
    assert [s["name"] for s in client.get(BASE).json()["results"]] == ["db"]
    refused = client.post(BASE, {"name": "x", "value": "vvvv"}, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"


def test_an_outsider_cannot_tell_a_secret_exists(workspace, owner, outsider):
    secret_services.secret_set(actor=owner, workspace=workspace, name="db", value="vvvv")
    client = api_client_for(outsider)
    for path in (BASE, f"{BASE}db/", f"{BASE}nothing/", "/api/v1/workspaces/churn/secret-audit/"):
        assert client.get(path).status_code == 404


def test_no_answer_page_or_log_ever_contains_a_secret_value(
    workspace, owner, data_scientist, reader, caplog
):
    caplog.set_level("DEBUG")
    value = f"canary-{secrets.token_urlsafe(24)}"
    api = api_client_for(owner)
    bodies = []

    def grab(response):
        bodies.append(response.content.decode())
        return response

    # Writes, including refused ones that carry the value.
    grab(api.post(BASE, {"name": "db-password", "value": value}, format="json"))
    grab(api.put(f"{BASE}db-password/", {"value": value, "description": "pw"}, format="json"))
    grab(api.post(BASE, {"name": "bad name", "value": value}, format="json"))
    grab(api_client_for(reader).post(BASE, {"name": "x", "value": value}, format="json"))
    grab(api.put(f"{BASE}also-db/", {"value": value}, format="json"))
    page_client = client_for(data_scientist)
    grab(page_client.post("/w/churn/secrets/set/", {"name": "form-db", "value": value}))
    grab(
        page_client.post(
            "/w/churn/secrets/set/", {"name": "bad name", "value": value}, HTTP_HX_REQUEST="true"
        )
    )
    grab(
        page_client.post(
            "/w/churn/secrets/set/", {"name": "hx-db", "value": value}, HTTP_HX_REQUEST="true"
        )
    )
    # The system reads it, as a job would.
    secret_services.secret_values_for(workspace=workspace, names=["db-password"], purpose="job 1")
    # Every read of the vault and of the workspace.
    for path in (
        BASE,
        f"{BASE}db-password/",
        "/api/v1/workspaces/churn/secret-audit/",
        "/api/v1/workspaces/",
        "/api/v1/workspaces/churn/",
        "/api/v1/schema/",
        "/api/v1/schema/?format=json",
    ):
        response = grab(api.get(path))
        assert response.status_code == 200, path
    for client in (client_for(owner), client_for(reader)):
        for path in ("/w/churn/secrets/", "/w/churn/secrets/?name=db-password", "/w/churn/"):
            assert grab(client.get(path)).status_code == 200
        assert grab(client.get("/w/churn/secrets/", HTTP_HX_REQUEST="true")).status_code == 200
    grab(api.delete(f"{BASE}db-password/"))

    assert SecretAccess.objects.filter(kind="read").count() == 1
    assert Secret.objects.count() == 3  # also-db, form-db, hx-db
    for body in bodies:
        assert value not in body
    assert caplog.records and value not in caplog.text
    for record in caplog.records:
        text = f"{record.getMessage()} {record.args!r} {record.exc_text or ''}"
        assert value not in text, record.name
