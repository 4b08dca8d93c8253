"""/api/v1/users/: staff only (404 otherwise), errors naming the field, a generated
password returned once, 409 for locking yourself out, and the OpenAPI schema."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from apps.workspaces.models import Role
from tests.conftest import api_client_for
from tests.factories import UserFactory, add_member

pytestmark = pytest.mark.django_db
User = get_user_model()
FIELDS = {
    "username",
    "full_name",
    "email",
    "is_active",
    "is_staff",
    "is_superuser",
    "last_login",
    "date_joined",
    "workspace_count",
}


@pytest.fixture
def admin(db):
    return UserFactory(username="admin", is_staff=True)


@pytest.fixture
def staff(admin):
    return api_client_for(admin)


def test_create_with_generate_returns_the_password_once(staff):
    response = staff.post(
        "/api/v1/users/",
        {
            "username": "dana",
            "email": "d@x.org",
            "full_name": "Dana Scott",
            "generate_password": True,
        },
        format="json",
    )
    body = response.json()
    assert response.status_code == 201 and set(body) == FIELDS | {"password"}
    assert body["full_name"] == "Dana Scott" and body["is_active"] and not body["is_staff"]
    assert User.objects.get(username="dana").check_password(body["password"])
    assert "password" not in staff.get("/api/v1/users/dana/").json()


def test_create_with_a_given_password_returns_no_password(staff):
    response = staff.post(
        "/api/v1/users/",
        {"username": "omar", "password": "a-long-and-unusual-passphrase"},
        format="json",
    )
    assert response.status_code == 201 and response.json()["password"] is None


@pytest.mark.parametrize(
    "payload,field",
    [
        ({"username": "rita", "password": "123"}, "password"),
        ({"username": "rita"}, "password"),
        ({"username": "ri ta", "generate_password": True}, "username"),
        ({"username": "rita", "email": "x", "generate_password": True}, "email"),
        ({"generate_password": True}, "username"),
    ],
)
def test_bad_input_is_400_naming_the_field(staff, payload, field):
    response = staff.post("/api/v1/users/", payload, format="json")
    body = response.json()
    assert response.status_code == 400 and field in body["fields"], body
    assert not User.objects.filter(username__in=["rita", "ri ta"]).exists()


def test_a_taken_name_is_409(staff):
    UserFactory(username="dana")
    response = staff.post(
        "/api/v1/users/", {"username": "dana", "generate_password": True}, format="json"
    )
    assert response.status_code == 409 and "username" in response.json()["fields"]


def test_list_filters_pages_by_cursor_and_counts_workspaces(staff, owner, workspace):
    dana = UserFactory(username="dana", email="dana@x.org")
    add_member(workspace, dana, Role.READER)
    for i in range(3):
        UserFactory(username=f"z{i}")

    found = staff.get("/api/v1/users/?search=DANA@").json()
    first = staff.get("/api/v1/users/?page_size=4").json()
    second = staff.get(first["next"]).json()

    assert [(u["username"], u["workspace_count"]) for u in found["results"]] == [("dana", 1)]
    names = [u["username"] for u in first["results"] + second["results"]]
    assert names == ["admin", "alice", "dana", "z0", "z1", "z2"]


def test_list_costs_the_same_queries_for_more_users(staff, django_assert_max_num_queries):
    for i in range(30):
        UserFactory(username=f"u{i:02d}")
    with django_assert_max_num_queries(6):
        staff.get("/api/v1/users/")


def test_patch_deactivates_makes_staff_and_renames(staff):
    UserFactory(username="dana")
    response = staff.patch(
        "/api/v1/users/dana/",
        {"is_active": False, "is_staff": True, "full_name": "Dana Scott"},
        format="json",
    )
    body = response.json()
    assert response.status_code == 200
    assert (body["is_active"], body["is_staff"], body["full_name"]) == (False, True, "Dana Scott")


def test_a_deactivated_users_token_stops_working(staff):
    dana = UserFactory(username="dana")
    dana_api = api_client_for(dana)
    staff.patch("/api/v1/users/dana/", {"is_active": False}, format="json")
    assert dana_api.get("/api/v1/me/").status_code == 401


def test_patch_refuses_unknown_fields_and_bad_values_naming_them(staff):
    UserFactory(username="dana")
    unknown = staff.patch("/api/v1/users/dana/", {"password": "x"}, format="json")
    bad = staff.patch("/api/v1/users/dana/", {"is_active": "perhaps"}, format="json")
    empty = staff.patch("/api/v1/users/dana/", {}, format="json")
    assert unknown.status_code == 400 and "password" in unknown.json()["fields"]
    assert bad.status_code == 400 and "is_active" in bad.json()["fields"]
    assert empty.status_code == 400


def test_you_cannot_unstaff_or_deactivate_yourself_409_with_the_reason(staff, admin):
    unstaff = staff.patch("/api/v1/users/admin/", {"is_staff": False}, format="json")
    deactivate = staff.patch("/api/v1/users/admin/", {"is_active": False}, format="json")
    assert unstaff.status_code == deactivate.status_code == 409
    assert "own staff flag" in unstaff.json()["message"]
    assert "is_active" in deactivate.json()["fields"]
    admin.refresh_from_db()
    assert admin.is_staff and admin.is_active


def test_reset_password_returns_a_new_working_password(staff):
    UserFactory(username="dana")
    body = staff.post("/api/v1/users/dana/reset-password/").json()
    assert User.objects.get(username="dana").check_password(body["password"])


def test_non_staff_and_unknown_users_get_404(owner, workspace, staff):
    UserFactory(username="dana")
    member = api_client_for(owner)
    assert member.get("/api/v1/users/").status_code == 404
    assert member.post("/api/v1/users/", {"username": "x"}, format="json").status_code == 404
    assert member.patch("/api/v1/users/dana/", {"is_staff": True}, format="json").status_code == 404
    assert member.post("/api/v1/users/dana/reset-password/").status_code == 404
    assert staff.get("/api/v1/users/ghost/").status_code == 404
    assert staff.post("/api/v1/users/ghost/reset-password/").status_code == 404


def test_openapi_schema_lists_the_user_endpoints(client):
    paths = client.get("/api/v1/schema/?format=json").json()["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/users/"])
    assert {"get", "patch"} <= set(paths["/api/v1/users/{username}/"])
    assert "post" in paths["/api/v1/users/{username}/reset-password/"]
    assert "get" in paths["/api/v1/users/{username}/audit/"]


def test_audit_lists_the_accounts_history_newest_first_by_cursor(staff):
    staff.post("/api/v1/users/", {"username": "dana", "generate_password": True}, format="json")
    staff.patch("/api/v1/users/dana/", {"is_active": False, "email": "d@x.org"}, format="json")
    reset = staff.post("/api/v1/users/dana/reset-password/").json()["password"]
    first = staff.get("/api/v1/users/dana/audit/?page_size=2")
    assert first.status_code == 200 and "password" not in first.json()["results"][0]
    second = staff.get(first.json()["next"]).json()
    entries = first.json()["results"] + second["results"]
    assert second["next"] is None
    assert [(e["actor"], e["user"], e["action"]) for e in entries] == [
        ("admin", "dana", "password_reset"),
        ("admin", "dana", "updated"),
        ("admin", "dana", "deactivated"),
        ("admin", "dana", "created"),
    ]
    assert entries[1]["fields"] == ["email"] and set(entries[0]) == {
        "created_at",
        "actor",
        "user",
        "action",
        "fields",
    }
    assert reset not in first.content.decode() + str(second)


def test_audit_is_404_for_non_staff_and_unknown_users(owner, staff):
    UserFactory(username="dana")
    assert api_client_for(owner).get("/api/v1/users/dana/audit/").status_code == 404
    assert api_client_for(owner).get("/api/v1/users/alice/audit/").status_code == 404
    assert staff.get("/api/v1/users/ghost/audit/").status_code == 404
