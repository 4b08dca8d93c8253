"""`studio user create|list|show|update|reset-password|audit` against a live studio."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model

from tests.cli.conftest import error_line
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()


@pytest.fixture
def admin(db):
    return UserFactory(username="admin", is_staff=True)


def test_create_generates_a_password_and_prints_it_once(studio, admin):
    result = studio(
        "user",
        "create",
        "--name",
        "dana",
        "--email",
        "dana@x.org",
        "--full-name",
        "Dana Scott",
        "-o",
        "json",
        user=admin,
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["username"] == "dana" and body["full_name"] == "Dana Scott"
    assert User.objects.get(username="dana").check_password(body["password"])
    assert "shown this once" in result.stderr
    shown = studio("user", "show", "--name", "dana", user=admin)
    assert "password" not in shown.stdout and "email: dana@x.org" in shown.stdout


def test_create_reads_the_password_from_stdin(studio, admin):
    result = studio(
        "user",
        "create",
        "--name",
        "omar",
        "--password-stdin",
        input="a-long-and-unusual-passphrase\n",
        user=admin,
    )
    assert result.exit_code == 0, result.output
    assert "password" not in result.stdout
    assert User.objects.get(username="omar").check_password("a-long-and-unusual-passphrase")


def test_a_weak_password_is_one_error_line_naming_the_field(studio, admin):
    result = studio("user", "create", "-n", "rita", "--password-stdin", input="123\n", user=admin)
    assert result.exit_code == 2
    assert "password" in error_line(result) and "too short" in error_line(result)


def test_list_update_and_reset_password(studio, admin):
    UserFactory(username="dana")
    listed = studio("user", "list", user=admin)
    assert [line.split()[0] for line in listed.stdout.splitlines()[2:]] == ["admin", "dana"]

    updated = studio(
        "user",
        "update",
        "-n",
        "dana",
        "--set",
        "is_active=false",
        "--set",
        "is_staff=true",
        "-o",
        "json",
        user=admin,
    )
    assert updated.exit_code == 0, updated.output
    assert (json.loads(updated.stdout)["is_active"], json.loads(updated.stdout)["is_staff"]) == (
        False,
        True,
    )

    reset = studio("user", "reset-password", "-n", "dana", user=admin)
    assert reset.exit_code == 0, reset.output
    password = reset.stdout.split("password:")[1].split()[0]
    assert User.objects.get(username="dana").check_password(password)


def test_removing_your_own_staff_flag_is_refused_with_the_reason(studio, admin):
    result = studio("user", "update", "-n", "admin", "--set", "is_staff=false", user=admin)
    assert result.exit_code != 0
    assert "own staff flag" in error_line(result)


def test_a_bad_set_is_a_usage_error(studio, admin):
    result = studio("user", "update", "-n", "admin", "--set", "is_active=maybe", user=admin)
    assert result.exit_code == 2 and "is_active must be true or false" in error_line(result)


def test_non_staff_are_told_not_found(studio, owner):
    result = studio("user", "list", user=owner)
    assert result.exit_code != 0 and "not found" in error_line(result).lower()


def test_audit_lists_who_changed_the_account_newest_first(studio, admin):
    UserFactory(username="dana")
    studio(
        "user",
        "update",
        "-n",
        "dana",
        "--set",
        "is_staff=true",
        "--set",
        "email=d@x.org",
        user=admin,
    )
    reset = studio("user", "reset-password", "-n", "dana", user=admin)
    password = reset.stdout.split("password:")[1].split()[0]
    result = studio("user", "audit", "-n", "dana", user=admin)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["When", "Who", "What", "Fields"]
    assert [line.split()[3] for line in lines[2:]] == ["password_reset", "updated", "staff_granted"]
    assert "email" in lines[3] and password not in result.stdout
    as_json = json.loads(studio("user", "audit", "-n", "dana", "-o", "json", user=admin).stdout)
    assert as_json[1] == {**as_json[1], "actor": "admin", "action": "updated", "fields": ["email"]}


def test_audit_of_an_unknown_user_or_by_non_staff_is_not_found(studio, admin, owner):
    assert "not found" in error_line(studio("user", "audit", "-n", "ghost", user=admin)).lower()
    assert "not found" in error_line(studio("user", "audit", "-n", "admin", user=owner)).lower()
