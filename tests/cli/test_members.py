"""`studio workspace member add/list/show/update/remove` against a live studio."""

from __future__ import annotations

import json

import pytest

from apps.workspaces.models import Membership, Role
from tests.cli.conftest import error_line
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def bob(db):
    return UserFactory(username="bob")


def member(studio, *args: str, **kwargs):
    return studio("workspace", "member", *args, **kwargs)


def role_of(username: str) -> str | None:
    row = Membership.objects.filter(workspace__name="churn", user__username=username).first()
    return row.role if row else None


def test_member_add_list_update_and_remove(studio, owner, workspace, bob):
    ws = ("-w", "churn")

    added = member(studio, "add", *ws, "--user", "bob", "--role", "data-scientist", user=owner)
    listed = member(studio, "list", *ws, user=owner)
    as_json = member(studio, "list", *ws, "-o", "json", user=owner)

    assert added.exit_code == 0, added.output
    assert "role: AzureML Data Scientist" in added.stdout
    assert [line.split()[0] for line in listed.stdout.splitlines()[2:]] == ["alice", "bob"]
    assert [(m["user"], m["role"]) for m in json.loads(as_json.stdout)] == [
        ("alice", "Owner"),
        ("bob", "AzureML Data Scientist"),
    ]

    updated = member(studio, "update", *ws, "-u", "bob", "-r", "Reader", "-o", "json", user=owner)
    assert json.loads(updated.stdout)["role"] == "Reader"
    assert role_of("bob") == Role.READER

    removed = member(studio, "remove", *ws, "--user", "bob", user=owner)
    assert removed.exit_code == 0, removed.output
    assert role_of("bob") is None


def test_member_commands_take_the_workspace_from_the_environment(studio, owner, workspace, bob):
    env = {"STUDIO_WORKSPACE": "churn"}

    result = member(studio, "add", "-u", "bob", "-r", "reader", user=owner, env=env)

    assert result.exit_code == 0, result.output
    assert role_of("bob") == Role.READER


def test_the_last_owner_cannot_be_removed(studio, owner, workspace):
    result = member(studio, "remove", "-w", "churn", "--user", "alice", user=owner)

    assert result.exit_code == 1
    assert "last Owner" in error_line(result)
    assert role_of("alice") == Role.OWNER


def test_the_last_owner_cannot_be_demoted(studio, owner, workspace):
    result = member(studio, "update", "-w", "churn", "-u", "alice", "-r", "reader", user=owner)

    assert result.exit_code == 1
    assert "last Owner" in error_line(result)


def test_a_reader_trying_member_add_is_told_it_is_not_allowed(studio, reader, workspace, bob):
    result = member(studio, "add", "-w", "churn", "-u", "bob", "-r", "reader", user=reader)

    assert result.exit_code == 1
    assert error_line(result).startswith("error: not allowed: ")
    assert role_of("bob") is None


def test_an_unknown_role_names_the_field(studio, owner, workspace, bob):
    result = member(studio, "add", "-w", "churn", "-u", "bob", "-r", "boss", user=owner)

    assert result.exit_code == 2
    assert error_line(result).startswith("error: role: Unknown role 'boss'")


def test_adding_someone_who_does_not_exist_names_the_user_field(studio, owner, workspace):
    result = member(studio, "add", "-w", "churn", "-u", "ghost", "-r", "reader", user=owner)

    assert result.exit_code == 2
    assert error_line(result).startswith("error: user: ")


def test_an_outsider_cannot_see_the_members(studio, outsider, workspace):
    result = member(studio, "list", "-w", "churn", user=outsider)

    assert result.exit_code == 1
    assert "not found" in error_line(result)
