"""User management pages (staff only): list with filter and paging (HTMX fragment), create
with a password shown once, the account's actions as HTMX fragments, 404 for non-staff."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from tests.conftest import client_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}
User = get_user_model()


@pytest.fixture
def admin(db):
    return UserFactory(username="admin", is_staff=True, first_name="Ada", last_name="Min")


@pytest.fixture
def staff(admin):
    return client_for(admin)


def test_the_user_menu_links_staff_to_the_users_page_and_hides_it_from_others(admin, owner):
    assert 'href="/users/"' in client_for(admin).get("/workspaces/").content.decode()
    assert 'href="/users/"' not in client_for(owner).get("/workspaces/").content.decode()
    assert "/admin/auth/user/" not in client_for(admin).get("/workspaces/").content.decode()


def test_non_staff_get_404_on_every_user_page(owner):
    UserFactory(username="bob")
    client = client_for(owner)
    for path in ("/users/", "/users/-/new/", "/users/bob/"):
        assert client.get(path).status_code == 404
    for path in ("/users/-/new/", "/users/bob/update/", "/users/bob/reset-password/"):
        assert client.post(path, {"is_active": "false"}).status_code == 404
    assert User.objects.get(username="bob").is_active


def test_the_list_shows_every_column_and_filters_as_a_fragment(staff, owner, workspace):
    UserFactory(username="dana", first_name="Dana", last_name="Scott", email="dana@x.org")
    page = staff.get("/users/")
    fragment = staff.get("/users/?q=scott", **HX)

    body = page.content.decode()
    assert "<html" in body and "HX-Request" in page["Vary"]
    for heading in (
        "User name",
        "Full name",
        "Email",
        "Active",
        "Staff",
        "Last sign-in",
        "Joined",
        "Workspaces",
    ):
        assert f"<th>{heading}</th>" in body or f'"num">{heading}</th>' in body
    alice = re.search(r'<tr data-user="alice">.*?</tr>', body, re.S).group(0)
    assert '<td class="num">1</td>' in alice  # alice owns churn
    frag = fragment.content.decode()
    assert "<html" not in frag and 'data-user="dana"' in frag and 'data-user="alice"' not in frag
    assert "Dana Scott" in frag and "dana@x.org" in frag


def test_the_list_pages_by_fifty(staff, django_assert_max_num_queries):
    for i in range(55):
        UserFactory(username=f"u{i:02d}")
    first = staff.get("/users/").content.decode()
    with django_assert_max_num_queries(6):
        second = staff.get("/users/?page=2", **HX).content.decode()
    assert first.count("<tr data-user=") == 50 and "page=2" in first
    assert second.count("<tr data-user=") == 6 and "Page 2 of 2" in second


def test_create_with_a_generated_password_shows_it_once(staff):
    response = staff.post(
        "/users/-/new/",
        {
            "username": "dana",
            "full_name": "Dana Scott",
            "email": "d@x.org",
            "generate_password": "on",
        },
    )
    assert response.status_code == 201
    password = re.search(r'<pre id="new-password">([^<]+)</pre>', response.content.decode())[1]
    assert User.objects.get(username="dana").check_password(password)
    assert password not in staff.get("/users/dana/").content.decode()


def test_create_with_a_given_password_opens_the_account(staff):
    response = staff.post(
        "/users/-/new/", {"username": "omar", "password": "a-long-and-unusual-passphrase"}
    )
    assert response.status_code == 302 and response["Location"] == "/users/omar/"
    assert User.objects.get(username="omar").check_password("a-long-and-unusual-passphrase")


def test_a_weak_password_is_shown_next_to_the_password_field_with_422(staff):
    response = staff.post("/users/-/new/", {"username": "rita", "password": "12345"})
    body = response.content.decode()
    assert response.status_code == 422
    assert re.search(r'has-error">\s*<label for="id_password"', body) and "too short" in body
    assert not User.objects.filter(username="rita").exists()


def test_a_taken_name_is_shown_next_to_the_user_name(staff):
    UserFactory(username="rita")
    response = staff.post("/users/-/new/", {"username": "RITA", "generate_password": "on"})
    assert response.status_code == 422
    assert re.search(r'has-error">\s*<label for="id_username"', response.content.decode())


def test_deactivate_and_reactivate_swap_the_account_fragment(staff):
    UserFactory(username="dana")
    off = staff.post("/users/dana/update/", {"is_active": "false"}, **HX)
    assert off.status_code == 200 and "<html" not in off.content.decode()
    assert "Reactivate" in off.content.decode() and not User.objects.get(username="dana").is_active
    on = staff.post("/users/dana/update/", {"is_active": "true"}, **HX)
    assert "Deactivate" in on.content.decode() and User.objects.get(username="dana").is_active


def test_make_and_unmake_staff_without_htmx_redirects_back(staff):
    UserFactory(username="omar")
    response = staff.post("/users/omar/update/", {"is_staff": "true"})
    assert response.status_code == 302 and response["Location"] == "/users/omar/"
    assert User.objects.get(username="omar").is_staff


def test_removing_your_own_staff_flag_is_409_with_the_reason(staff, admin):
    page = staff.post("/users/admin/update/", {"is_staff": "false"})
    fragment = staff.post("/users/admin/update/", {"is_active": "false"}, **HX)
    assert page.status_code == 409 and "cannot remove your own staff flag" in page.content.decode()
    assert fragment.status_code == 422  # htmx swaps 422 (static/js/app.js)
    assert "cannot deactivate your own account" in fragment.content.decode()
    admin.refresh_from_db()
    assert admin.is_staff and admin.is_active


def test_own_account_page_greys_out_deactivate_and_remove_staff(staff):
    body = staff.get("/users/admin/").content.decode()
    assert 'disabled title="You cannot deactivate yourself"' in body
    assert 'disabled title="You cannot remove your own staff flag"' in body


def test_a_bad_email_is_shown_next_to_the_email_field(staff):
    UserFactory(username="dana")
    response = staff.post("/users/dana/update/", {"email": "nope", "full_name": "D"}, **HX)
    assert response.status_code == 422
    assert re.search(r'has-error">\s*<label for="id_email"', response.content.decode())


def test_email_and_full_name_are_saved(staff):
    UserFactory(username="dana")
    staff.post("/users/dana/update/", {"email": "d@x.org", "full_name": "Dana  Scott"}, **HX)
    dana = User.objects.get(username="dana")
    assert (dana.email, dana.get_full_name()) == ("d@x.org", "Dana Scott")


def test_reset_password_shows_the_new_one_once_in_the_fragment(staff):
    UserFactory(username="dana")
    response = staff.post("/users/dana/reset-password/", **HX)
    body = response.content.decode()
    password = re.search(r'<pre id="new-password">([^<]+)</pre>', body)[1]
    assert "<html" not in body and User.objects.get(username="dana").check_password(password)


def test_resetting_your_own_password_keeps_you_signed_in(staff):
    staff.post("/users/admin/reset-password/")
    assert staff.get("/users/").status_code == 200


def test_the_account_page_lists_its_workspaces(staff, owner, workspace):
    body = staff.get("/users/alice/").content.decode()
    assert "churn" in body and "Owner" in body


def test_an_unknown_account_is_404(staff):
    assert staff.get("/users/ghost/").status_code == 404
    assert staff.post("/users/ghost/reset-password/").status_code == 404


def test_the_account_page_shows_its_history_newest_first_with_exact_times(staff):
    staff.post("/users/-/new/", {"username": "dana", "generate_password": "on"})
    staff.post("/users/dana/update/", {"is_staff": "true"})
    body = staff.get("/users/dana/").content.decode()
    history = body.split('<section id="history"')[1]
    assert "<h2>History</h2>" in history
    assert history.index("made them staff") < history.index("created the account")
    assert history.count("<td>admin</td>") == 2
    assert re.search(
        r'<time datetime="[^"]+" title="\d{4}-\d\d-\d\d [^"]+">just now</time>', history
    )


def test_an_htmx_action_refreshes_the_history_out_of_band_without_the_password(staff):
    UserFactory(username="dana")
    fragment = staff.post("/users/dana/reset-password/", **HX).content.decode()
    password = re.search(r'<pre id="new-password">([^<]+)</pre>', fragment).group(1)
    history = fragment.split('<section id="history" hx-swap-oob="true">')[1]
    assert "reset the password" in history and password not in history
    assert "No changes recorded yet." in staff.get("/users/admin/").content.decode()


def test_a_refused_action_adds_nothing_to_the_history(staff):
    fragment = staff.post("/users/admin/update/", {"is_active": "false"}, **HX)
    assert fragment.status_code == 422
    assert "No changes recorded yet." in fragment.content.decode()
