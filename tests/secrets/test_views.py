"""Manage > Secrets: the page, its HTMX fragment, the set form and delete."""

from __future__ import annotations

import re

import pytest

from apps.workspaces.models import Secret
from apps.workspaces.services import secrets as secret_services
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}
PAGE = "/w/churn/secrets/"
SET = "/w/churn/secrets/set/"


@pytest.fixture
def db_password(owner, workspace):
    return secret_services.secret_set(
        actor=owner,
        workspace=workspace,
        name="db-password",
        value="page-canary-0a1b",
        description="Warehouse",
    )


def test_the_page_lists_names_and_the_audit_but_no_value(owner, workspace, db_password):
    response = client_for(owner).get(PAGE)
    body = response.content.decode()
    assert response.status_code == 200 and "<html" in body
    assert 'data-secret="db-password"' in body and "Warehouse" in body
    assert 'id="secret-audit"' in body and "created" in body
    assert "page-canary-0a1b" not in body
    assert 'class="active">Secrets</a>' in body  # the Manage nav entry


def test_with_hx_request_the_page_answers_with_the_fragment(owner, workspace, db_password):
    client = client_for(owner)
    page, fragment = client.get(PAGE), client.get(PAGE, **HX)
    assert b"<html" in page.content
    assert b"<html" not in fragment.content and b'id="vault"' in fragment.content
    assert "HX-Request" in page["Vary"] and "HX-Request" in fragment["Vary"]


def test_the_page_lists_secrets_with_a_fixed_number_of_queries(
    owner, workspace, django_assert_max_num_queries
):
    for i in range(10):
        secret_services.secret_set(actor=owner, workspace=workspace, name=f"s{i}", value="vvvv")
    client = client_for(owner)
    client.get(PAGE)
    with django_assert_max_num_queries(12):
        body = client.get(PAGE).content.decode()
    assert body.count("data-secret=") == 10


def test_setting_a_secret_with_htmx_answers_the_fragment_with_an_empty_form(owner, workspace):
    response = client_for(owner).post(
        SET, {"name": "api_key", "value": "form-canary-9z8y", "description": "HF token"}, **HX
    )
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert "Secret 'api_key' saved." in body
    assert 'data-secret="api_key"' in body
    assert 'id="secret-audit" hx-swap-oob="true"' in body
    assert "form-canary-9z8y" not in body
    assert re.search(r'<input type="password" name="value"[^>]*>', body)
    assert 'name="name" value=' not in body  # the form starts over, empty
    assert Secret.objects.get(name="api_key").description == "HF token"


def test_setting_a_secret_without_htmx_redirects_to_the_page(owner, workspace):
    response = client_for(owner).post(SET, {"name": "api_key", "value": "vvvv"})
    assert response.status_code == 302 and response["Location"] == PAGE
    assert Secret.objects.filter(name="api_key").exists()


def test_a_bad_name_is_422_with_the_error_next_to_the_field_and_the_value_not_sent_back(
    owner, workspace
):
    for headers in (HX, {}):
        response = client_for(owner).post(
            SET, {"name": "bad name", "value": "bad-canary-7q7q"}, **headers
        )
        body = response.content.decode()
        assert response.status_code == 422
        assert re.search(
            r'has-error">\s*<label for="id_name">.*?<div class="error" role="alert">A secret name',
            body,
            re.S,
        )
        assert 'value="bad name"' in body  # the name comes back for correction...
        assert "bad-canary-7q7q" not in body  # ...the value never does
        assert 'id="secret-form" open' in body  # the form stays open
        assert ("<html" in body) is (headers == {})
    assert not Secret.objects.exists()


def test_a_missing_value_is_422_naming_the_value_field(owner, workspace):
    response = client_for(owner).post(SET, {"name": "ok"}, **HX)
    assert response.status_code == 422
    assert re.search(r'has-error">\s*<label for="id_value">', response.content.decode())


def test_replace_value_opens_the_form_with_the_name_and_description_filled_in(
    owner, workspace, db_password
):
    response = client_for(owner).get(f"{PAGE}?name=db-password", **HX)
    body = response.content.decode()
    assert 'id="secret-form" open' in body
    assert 'name="name" value="db-password"' in body
    assert 'name="description" value="Warehouse"' in body
    assert "page-canary-0a1b" not in body


def test_deleting_with_htmx_answers_the_fragment_without_the_secret(owner, workspace, db_password):
    response = client_for(owner).post("/w/churn/secrets/db-password/delete/", **HX)
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert 'data-secret="db-password"' not in body and "No secrets yet." in body
    assert not Secret.objects.exists()


def test_deleting_without_htmx_redirects_and_a_missing_secret_is_404(owner, workspace, db_password):
    client = client_for(owner)
    response = client.post("/w/churn/secrets/db-password/delete/")
    assert response.status_code == 302 and response["Location"] == PAGE
    assert client.post("/w/churn/secrets/db-password/delete/").status_code == 404


def test_a_reader_sees_disabled_controls_with_a_tooltip(reader, workspace, db_password):
    body = client_for(reader).get(PAGE).content.decode()
    assert 'data-secret="db-password"' in body
    assert re.search(r'<button class="primary" disabled title="Your role \(Reader\)[^"]*">', body)
    assert "hx-post" not in body.split('id="vault"')[1]
    assert client_for(reader).post(SET, {"name": "x", "value": "vvvv"}).status_code == 403


def test_a_compute_operator_has_no_secrets_page_nor_nav_entry(compute_operator, workspace):
    client = client_for(compute_operator)
    assert client.get(PAGE).status_code == 403
    assert "/w/churn/secrets/" not in client.get("/w/churn/").content.decode()


def test_a_non_member_gets_404(outsider, workspace, db_password):
    client = client_for(outsider)
    assert client.get(PAGE).status_code == 404
    assert client.post("/w/churn/secrets/db-password/delete/").status_code == 404
    assert Secret.objects.exists()
