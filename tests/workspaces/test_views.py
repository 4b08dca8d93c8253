"""Pages and HTMX fragments of workspaces, access control and tokens."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from apps.workspaces.models import Membership, Role, Workspace
from tests.conftest import client_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


def test_workspace_list_is_a_page_or_a_fragment_by_hx_request(owner, workspace):
    client = client_for(owner)
    page = client.get("/workspaces/")
    fragment = client.get("/workspaces/?q=chu", **HX)
    assert b"<html" in page.content and b"churn" in page.content
    assert b"<html" not in fragment.content and b"churn" in fragment.content
    assert "HX-Request" in page["Vary"] and "HX-Request" in fragment["Vary"]


def test_workspace_list_empty_state_offers_to_create_one(owner):
    body = client_for(owner).get("/workspaces/").content.decode()
    assert "Create a workspace" in body


def test_workspace_switcher_finds_workspaces_as_you_type(owner, workspace):
    body = client_for(owner).get("/workspaces/switcher/?q=ch", **HX).content.decode()
    assert "/w/churn/" in body


def test_create_form_makes_the_workspace_and_opens_it(owner):
    response = client_for(owner).post("/workspaces/new/", {"name": "fraud", "tags": "team=risk"})
    assert response.status_code == 302 and response["Location"] == "/w/fraud/"
    assert Workspace.objects.get(name="fraud").tags == {"team": "risk"}


def test_create_form_shows_the_error_next_to_the_field_with_422(owner):
    response = client_for(owner).post("/workspaces/new/", {"name": "a b"})
    assert response.status_code == 422
    body = response.content.decode()
    assert re.search(r'has-error">\s*<label for="id_name"', body)
    assert not Workspace.objects.exists()


def test_home_redirects_a_single_workspace_member_into_it(owner, workspace):
    assert client_for(owner).get("/")["Location"] == "/w/churn/"


def test_a_non_member_sees_the_same_404_as_for_a_missing_workspace(workspace, outsider):
    client = client_for(outsider)
    hidden, absent = client.get("/w/churn/"), client.get("/w/nothing-here/")
    assert hidden.status_code == absent.status_code == 404

    def strip(body: bytes) -> bytes:  # CSRF tokens are masked anew on every response
        body = re.sub(rb'"X-CSRFToken": "[^"]+"', b"", body)
        return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", body)

    assert strip(hidden.content) == strip(absent.content)


def test_access_control_add_member_answers_with_the_fragment_and_the_audit_out_of_band(
    owner, workspace
):
    UserFactory(username="bob")
    response = client_for(owner).post(
        "/w/churn/access/add/", {"user": "bob", "role": Role.READER}, **HX
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body
    assert 'data-user="bob"' in body
    assert 'id="audit" hx-swap-oob="true"' in body and "added bob as Reader" in body
    assert Membership.objects.get(user__username="bob").role == Role.READER


def test_access_control_add_errors_come_back_as_422_next_to_the_field(owner, workspace):
    response = client_for(owner).post(
        "/w/churn/access/add/", {"user": "nobody", "role": Role.READER}, **HX
    )
    assert response.status_code == 422
    body = response.content.decode()
    assert "No active user named" in body and "<html" not in body


def test_access_control_changes_a_role_and_removes_a_member_without_reload(
    owner, workspace, reader
):
    client = client_for(owner)
    changed = client.post("/w/churn/access/rita/role/", {"role": Role.CONTRIBUTOR}, **HX)
    assert (
        changed.status_code == 200
        and "changed rita from Reader to Contributor" in changed.content.decode()
    )
    removed = client.post("/w/churn/access/rita/remove/", **HX)
    assert removed.status_code == 200 and 'data-user="rita"' not in removed.content.decode()
    assert not Membership.objects.filter(user=reader).exists()


def test_removing_the_last_owner_is_refused_with_the_reason(owner, workspace):
    response = client_for(owner).post("/w/churn/access/alice/remove/", **HX)
    assert response.status_code == 422
    assert "last Owner" in response.content.decode()
    assert Membership.objects.filter(user=owner, role=Role.OWNER).exists()


def test_a_reader_sees_access_control_without_any_enabled_control_that_changes_it(
    workspace, reader
):
    body = client_for(reader).get("/w/churn/access/").content.decode()
    assert "<select" not in body
    assert "hx-post" not in body
    for button in re.findall(r"<button[^>]*>", body):
        if "Sign out" in button or 'type="submit"' in button and "link" in button:
            continue
        assert "disabled" in button, button


def test_a_reader_sees_settings_read_only(workspace, reader):
    body = client_for(reader).get("/w/churn/settings/").content.decode()
    assert "<fieldset disabled" in body
    assert re.search(r'<button class="danger" disabled[^>]*>Delete', body)


def test_a_compute_operator_does_not_see_datastores_in_the_navigation(workspace, compute_operator):
    body = client_for(compute_operator).get("/w/churn/").content.decode()
    assert "/w/churn/datastores/" not in body
    assert "/w/churn/access/" in body


def test_a_forged_post_without_csrf_token_is_refused(owner, workspace):
    UserFactory(username="bob")
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    response = client.post("/w/churn/access/add/", {"user": "bob", "role": Role.OWNER})
    assert response.status_code == 403
    assert not Membership.objects.filter(user__username="bob").exists()


def test_delete_needs_the_name_typed_to_confirm(owner, workspace):
    client = client_for(owner)
    assert client.post("/w/churn/delete/", {"confirm": "nope"}).status_code == 422
    assert Workspace.objects.filter(name="churn").exists()
    assert client.post("/w/churn/delete/", {"confirm": "churn"})["Location"] == "/workspaces/"
    assert not Workspace.objects.filter(name="churn").exists()


def test_tokens_page_shows_a_new_token_once(owner):
    client = client_for(owner)
    created = client.post("/tokens/", {"name": "laptop"}).content.decode()
    raw = re.search(r'<pre id="new-token">(stu_[^<]+)</pre>', created).group(1)
    again = client.get("/tokens/").content.decode()
    assert raw not in again and "laptop" in again


def test_login_uses_argon2_and_lands_on_the_workspaces(settings, db):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    user = UserFactory(username="zed", password="a-long-test-password")
    assert user.password.startswith("argon2")
    response = Client().post("/login/", {"username": "zed", "password": "a-long-test-password"})
    assert response.status_code == 302 and response["Location"] == "/"


def test_login_is_throttled_after_repeated_failures(owner):
    client = Client()
    for _ in range(4):
        assert client.post("/login/", {"username": "alice", "password": "wrong"}).status_code == 200
    assert client.post("/login/", {"username": "alice", "password": "wrong"}).status_code == 429
    locked = client.post("/login/", {"username": "alice", "password": "a-long-test-password"})
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()


def test_pages_need_a_signed_in_user(workspace):
    response = Client().get("/w/churn/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_debug_is_off_unless_asked_for(settings):
    from studio import settings as studio_settings

    assert studio_settings.DEBUG is False or studio_settings.env_bool("DEBUG") is True
