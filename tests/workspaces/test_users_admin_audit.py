"""Account changes made in Django's own /admin/ pages land in the user's History too, as the
Users page records them: creation, profile edits, the active and staff flags, and a password
change (never its value)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from apps.workspaces.models import UserAuditEntry
from tests.conftest import client_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()
PASSWORD = "a long passphrase 7"


def _history(username: str) -> list[tuple[str, str, list]]:
    return list(
        UserAuditEntry.objects.filter(subject_username=username)
        .order_by("id")
        .values_list("actor_username", "action", "fields")
    )


def test_admin_pages_record_creation_edits_flags_and_password_changes():
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = client_for(root)
    added = client.post(
        "/admin/auth/user/add/",
        {"username": "dana", "password1": PASSWORD, "password2": PASSWORD,
         "usable_password": "true"},
    )  # fmt: skip
    assert added.status_code == 302, added.content.decode()[:3000]
    dana = User.objects.get(username="dana")
    assert _history("dana") == [("root", "created", [])]

    change = {
        "username": "dana", "first_name": "Dana", "last_name": "", "email": "dana@example.org",
        "is_active": "on", "is_staff": "on", "date_joined_0": "2026-01-01",
        "date_joined_1": "10:00:00", "initial-date_joined_0": "2026-01-01",
        "initial-date_joined_1": "10:00:00",
    }  # fmt: skip
    User.objects.filter(pk=dana.pk).update(date_joined="2026-01-01T10:00:00Z")
    changed = client.post(f"/admin/auth/user/{dana.pk}/change/", change)
    assert changed.status_code == 302, changed.content.decode()[:3000]
    assert _history("dana")[1:] == [
        ("root", "staff_granted", []),
        ("root", "updated", ["first_name", "email"]),
    ]
    without_active = {k: v for k, v in change.items() if k != "is_active"}
    assert client.post(f"/admin/auth/user/{dana.pk}/change/", without_active).status_code == 302
    assert _history("dana")[-1] == ("root", "deactivated", [])

    new = "another passphrase 9"
    reset = client.post(
        f"/admin/auth/user/{dana.pk}/password/",
        {"password1": new, "password2": new, "usable_password": "true"},
    )
    assert reset.status_code == 302, reset.content.decode()[:3000]
    assert _history("dana")[-1] == ("root", "password_reset", [])
    assert User.objects.get(pk=dana.pk).check_password(new)
    assert new not in str(_history("dana"))


def test_a_refused_admin_edit_records_nothing():
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    dana = UserFactory(username="dana")
    before = _history("dana")
    refused = client_for(root).post(
        f"/admin/auth/user/{dana.pk}/password/", {"password1": "x", "password2": "y"}
    )
    assert refused.status_code == 200  # the form again, with its error
    assert _history("dana") == before
