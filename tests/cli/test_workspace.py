"""`studio workspace create/list/show/update/delete` against a live studio."""

from __future__ import annotations

import json
import textwrap

import pytest
import yaml

from apps.workspaces.models import Workspace
from tests.cli.conftest import error_line
from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db(transaction=True)

AZURE_WORKSPACE_YAML = textwrap.dedent(
    """\
    $schema: https://azuremlschemas.azureedge.net/latest/workspace.schema.json
    name: mlw-basic-prod
    location: eastus
    display_name: Basic workspace-example
    description: This example shows a YML configuration for a basic workspace.
    hbi_workspace: false
    tags:
      purpose: demonstration
    resource_group: my-rg
    managed_network:
      isolation_mode: allow_internet_outbound
    """
)


@pytest.fixture
def azure_yaml(tmp_path):
    path = tmp_path / "ws.yml"
    path.write_text(AZURE_WORKSPACE_YAML)
    return path


def write(tmp_path, text: str, name: str = "ws.yml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_create_from_azure_yaml_warns_about_azure_only_fields(studio, owner, azure_yaml):
    result = studio("workspace", "create", "--file", str(azure_yaml), user=owner)

    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "warning: ignoring Azure-only fields: "
        "hbi_workspace, location, managed_network, resource_group"
    ]
    shown = yaml.safe_load(result.stdout)
    assert shown["name"] == "mlw-basic-prod"
    assert shown["role"] == "Owner"
    workspace = Workspace.objects.get(name="mlw-basic-prod")
    assert workspace.display_name == "Basic workspace-example"
    assert workspace.tags == {"purpose": "demonstration"}
    assert workspace.extra == {
        "location": "eastus",
        "hbi_workspace": False,
        "resource_group": "my-rg",
        "managed_network": {"isolation_mode": "allow_internet_outbound"},
    }


def test_set_overrides_the_name_and_adds_a_tag(studio, owner, azure_yaml):
    result = studio(
        "workspace", "create", "-f", str(azure_yaml),
        "--set", "name=churn-dev", "--set", "tags.team=ml", "--set", "tags.priority=1",
        "-o", "json", user=owner,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert created["name"] == "churn-dev"
    assert created["tags"] == {"purpose": "demonstration", "team": "ml", "priority": "1"}
    assert not Workspace.objects.filter(name="mlw-basic-prod").exists()


def test_create_from_options_needs_no_file_and_warns_about_nothing(studio, owner):
    result = studio(
        "workspace", "create", "--name", "churn", "--display-name", "Churn",
        "--tags", "team=ml", "-o", "json", user=owner,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert json.loads(result.stdout)["tags"] == {"team": "ml"}
    assert Workspace.objects.get(name="churn").extra == {}


def test_malformed_yaml_names_the_line(studio, owner, tmp_path):
    path = write(tmp_path, "name: churn\ndescription: a\n  tags: b: c\n")

    result = studio("workspace", "create", "--file", path, user=owner)

    assert result.exit_code == 2
    assert error_line(result).startswith(f"error: {path}:3: ")
    assert not Workspace.objects.exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: churn\ndescription: x\ntags:\n  - a\n", ":3: tags: must be a mapping"),
        ("name: 123\n", ":1: name: must be a string"),
        ("name: churn\ntags:\n  team: [a, b]\n", ":3: tags.team: must be a plain value"),
    ],
)
def test_a_field_of_the_wrong_type_is_named_with_its_line(studio, owner, tmp_path, text, expected):
    path = write(tmp_path, text)

    result = studio("workspace", "create", "--file", path, user=owner)

    assert result.exit_code == 2
    assert error_line(result).startswith(f"error: {path}{expected}")


def test_a_name_the_studio_refuses_points_at_its_yaml_line(studio, owner, tmp_path):
    path = write(tmp_path, "description: too short a name\nname: x\n")

    result = studio("workspace", "create", "--file", path, user=owner)

    assert result.exit_code == 2
    assert error_line(result).startswith(f"error: {path}:2: name: ")


def test_a_yaml_without_a_name_says_it_is_required(studio, owner, tmp_path):
    path = write(tmp_path, "display_name: No name\n")

    result = studio("workspace", "create", "--file", path, user=owner)

    assert result.exit_code == 2
    assert "name: required" in error_line(result)


def test_list_prints_a_table_by_default_and_the_api_json_with_o_json(studio, owner, workspace):
    table = studio("workspace", "list", user=owner)
    as_json = studio("workspace", "list", "-o", "json", user=owner)
    as_yaml = studio("workspace", "list", "-o", "yaml", user=owner)

    header, rule, row = table.stdout.splitlines()
    assert header.split()[:3] == ["Name", "Display", "name"]
    assert set(rule) == {"-", " "}
    assert row.startswith("churn ") and "Owner" in row
    api = api_client_for(owner).get("/api/v1/workspaces/").json()["results"]
    assert json.loads(as_json.stdout) == api
    assert yaml.safe_load(as_yaml.stdout) == api


def test_show_json_is_exactly_the_api_object_and_yaml_is_the_default(studio, owner, workspace):
    as_json = studio("workspace", "show", "-w", "churn", "-o", "json", user=owner)
    default = studio("workspace", "show", "--name", "churn", user=owner)

    api = api_client_for(owner).get("/api/v1/workspaces/churn/").json()
    assert json.loads(as_json.stdout) == api
    assert yaml.safe_load(default.stdout) == api


def test_show_takes_the_workspace_from_studio_workspace(studio, owner, workspace):
    result = studio(
        "workspace", "show", "-o", "table", user=owner, env={"STUDIO_WORKSPACE": "churn"}
    )

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[2].startswith("churn ")


def test_show_without_any_workspace_is_a_usage_error(studio, owner):
    result = studio("workspace", "show", user=owner)

    assert result.exit_code == 2
    assert "no workspace given" in error_line(result)


def test_an_outsider_is_told_the_workspace_is_not_found(studio, outsider, workspace):
    result = studio("workspace", "show", "-w", "churn", user=outsider)

    assert result.exit_code == 1
    assert "not found" in error_line(result)


def test_update_changes_the_description_and_merges_tags(studio, owner, workspace):
    workspace.tags = {"team": "ml", "old": "x"}
    workspace.save()

    result = studio(
        "workspace", "update", "-w", "churn", "--description", "Churn models",
        "--set", "tags.stage=prod", "--remove", "tags.old", "-o", "json", user=owner,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tags"] == {"team": "ml", "stage": "prod"}
    workspace.refresh_from_db()
    assert workspace.description == "Churn models"
    assert workspace.tags == {"team": "ml", "stage": "prod"}


def test_update_refuses_a_field_that_cannot_change(studio, owner, workspace):
    result = studio("workspace", "update", "-w", "churn", "--set", "name=other", user=owner)

    assert result.exit_code == 2
    assert error_line(result).startswith("error: --set name=other: name: cannot be changed")


def test_a_reader_cannot_update_the_workspace(studio, reader, workspace):
    result = studio("workspace", "update", "-w", "churn", "--description", "mine", user=reader)

    assert result.exit_code == 1
    assert "not allowed" in error_line(result)


def test_delete_with_yes_deletes_the_workspace(studio, owner, workspace):
    result = studio("workspace", "delete", "-w", "churn", "--yes", user=owner)

    assert result.exit_code == 0, result.output
    assert not Workspace.objects.filter(name="churn").exists()


def test_delete_without_yes_and_nothing_on_stdin_refuses(studio, owner, workspace):
    result = studio("workspace", "delete", "-w", "churn", user=owner, input="")

    assert result.exit_code == 2
    assert "pass --yes" in error_line(result)
    assert Workspace.objects.filter(name="churn").exists()


@pytest.mark.parametrize(("answer", "deleted", "code"), [("y\n", True, 0), ("n\n", False, 1)])
def test_delete_asks_first_and_follows_the_answer(studio, owner, workspace, answer, deleted, code):
    result = studio("workspace", "delete", "-w", "churn", user=owner, input=answer)

    assert result.exit_code == code
    assert "Delete workspace 'churn'" in result.stderr
    assert Workspace.objects.filter(name="churn").exists() is not deleted


def test_list_follows_next_to_the_last_page(live_server, owner, token_of):
    from studio.cli.client import Client
    from tests.factories import make_workspace

    for i in range(5):
        make_workspace(owner=owner, name=f"ws-{i}")

    found = Client(live_server.url, token_of(owner), page_size=2).list("workspaces/")

    assert [w["name"] for w in found] == [f"ws-{i}" for i in range(5)]
