"""`studio workspace secret set/list/show/delete/audit` against a live studio: values go
in from a file or stdin and are never printed."""

from __future__ import annotations

import json

import pytest

from apps.workspaces.models import Secret, SecretAccess
from apps.workspaces.services import secrets as secret_services
from tests.cli.conftest import error_line

pytestmark = pytest.mark.django_db(transaction=True)
WS = ("-w", "churn")


def secret(studio, *args: str, **kwargs):
    return studio("workspace", "secret", *args, **kwargs)


def value_of(name: str) -> str:
    from apps.workspaces.models import Workspace

    workspace = Workspace.objects.get(name="churn")
    return secret_services.secret_values_for(workspace=workspace, names=[name], purpose="test")[
        name
    ]


def test_set_from_a_value_file_stores_it_without_printing_it(studio, owner, workspace, tmp_path):
    path = tmp_path / "pw.txt"
    path.write_text("file-canary-3e4f\n")

    result = secret(
        studio, "set", *WS, "--name", "db-password", "--value-file", str(path),
        "--description", "Warehouse", user=owner,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "name: db-password" in result.stdout and "description: Warehouse" in result.stdout
    assert "file-canary-3e4f" not in result.output
    assert value_of("db-password") == "file-canary-3e4f"  # the trailing newline is dropped


def test_set_reads_the_value_from_stdin_when_no_option_gives_it(studio, owner, workspace):
    result = secret(
        studio, "set", *WS, "-n", "api_key", "-o", "json", user=owner, input="stdin-canary-5g6h\n"
    )

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["name"] == "api_key"
    assert "stdin-canary-5g6h" not in result.output
    assert value_of("api_key") == "stdin-canary-5g6h"


def test_set_replaces_the_value_and_keeps_the_description(studio, owner, workspace):
    secret(studio, "set", *WS, "-n", "db", "--value", "one-1111", "--description", "d", user=owner)
    result = secret(studio, "set", *WS, "-n", "db", "-o", "json", user=owner, input="two-2222")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["description"] == "d"
    assert value_of("db") == "two-2222"
    assert "two-2222" not in result.output


def test_list_show_audit_and_delete_never_print_a_value(studio, owner, workspace):
    for name, value in (("db-password", "canary-aaaa-1"), ("api_key", "canary-bbbb-2")):
        secret_services.secret_set(actor=owner, workspace=workspace, name=name, value=value)
    value_of("db-password")  # a system read, for the audit

    outputs = [
        secret(studio, "list", *WS, user=owner),
        secret(studio, "list", *WS, "-o", "json", user=owner),
        secret(studio, "list", *WS, "-o", "tsv", user=owner),
        secret(studio, "show", *WS, "-n", "db-password", user=owner),
        secret(studio, "show", *WS, "-n", "db-password", "-o", "json", user=owner),
        secret(studio, "audit", *WS, user=owner),
        secret(studio, "audit", *WS, "-n", "db-password", "-o", "json", user=owner),
        secret(studio, "delete", *WS, "-n", "db-password", "--yes", user=owner),
    ]

    assert all(r.exit_code == 0 for r in outputs), [r.output for r in outputs]
    listed = outputs[0].stdout.splitlines()
    assert listed[0].split()[:2] == ["Name", "Description"]
    assert [line.split()[0] for line in listed[2:]] == ["api_key", "db-password"]
    assert [s["name"] for s in json.loads(outputs[1].stdout)] == ["api_key", "db-password"]
    assert "name: db-password" in outputs[3].stdout
    audit = json.loads(outputs[6].stdout)
    assert [(e["kind"], e["actor"]) for e in audit] == [("read", "system"), ("set", "alice")]
    assert "Deleted secret 'db-password'" in outputs[7].stderr
    assert list(Secret.objects.values_list("name", flat=True)) == ["api_key"]
    for result in outputs:
        assert "canary-" not in result.output


def test_delete_asks_first_and_keeps_the_secret_on_no(studio, owner, workspace):
    secret_services.secret_set(actor=owner, workspace=workspace, name="db", value="vvvv")

    kept = secret(studio, "delete", *WS, "-n", "db", user=owner, input="n\n")
    deleted = secret(studio, "delete", *WS, "-n", "db", user=owner, input="y\n")

    assert kept.exit_code == 1 and "Not deleted." in kept.stderr
    assert deleted.exit_code == 0
    assert not Secret.objects.exists()
    assert SecretAccess.objects.filter(kind="delete").count() == 1


def test_delete_of_a_missing_secret_says_not_found(studio, owner, workspace):
    result = secret(studio, "delete", *WS, "-n", "ghost", "--yes", user=owner)

    assert result.exit_code == 1
    assert "not found" in error_line(result)


def test_an_empty_stdin_is_refused_before_calling_the_studio(studio, owner, workspace):
    result = secret(studio, "set", *WS, "-n", "db", user=owner, input="")

    assert result.exit_code == 2
    assert error_line(result) == "error: value: stdin gave an empty value; a secret needs one"
    assert not Secret.objects.exists()


def test_value_and_value_file_together_are_a_usage_error(studio, owner, workspace, tmp_path):
    path = tmp_path / "pw.txt"
    path.write_text("x")
    result = secret(
        studio, "set", *WS, "-n", "db", "--value", "abcd", "--value-file", str(path), user=owner
    )

    assert result.exit_code == 2
    assert "--value or --value-file" in error_line(result)


def test_a_missing_value_file_is_named(studio, owner, workspace, tmp_path):
    result = secret(
        studio, "set", *WS, "-n", "db", "--value-file", str(tmp_path / "nope"), user=owner
    )

    assert result.exit_code == 2
    assert "no such file" in error_line(result)


def test_a_bad_name_names_the_field_without_echoing_the_value(studio, owner, workspace):
    result = secret(studio, "set", *WS, "-n", "bad name", user=owner, input="bad-canary-1z")

    assert result.exit_code == 2
    assert error_line(result).startswith("error: name: ")
    assert "bad-canary-1z" not in result.output


def test_a_reader_cannot_set_but_can_list(studio, reader, owner, workspace):
    secret_services.secret_set(actor=owner, workspace=workspace, name="db", value="vvvv")

    refused = secret(studio, "set", *WS, "-n", "x", user=reader, input="vvvv")
    listed = secret(studio, "list", *WS, "-o", "json", user=reader)

    assert refused.exit_code == 1
    assert error_line(refused).startswith("error: not allowed: ")
    assert [s["name"] for s in json.loads(listed.stdout)] == ["db"]
