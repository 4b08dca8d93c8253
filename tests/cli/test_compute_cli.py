"""`studio compute ...` against a live studio, with Azure ML's own amlCompute and
computeInstance YAML files."""

from __future__ import annotations

import json
import textwrap

import pytest
import yaml

from apps.workspaces.models import Compute
from tests.cli.conftest import error_line
from tests.compute.sizes import seed_vm_sizes

pytestmark = pytest.mark.django_db(transaction=True)

AZURE_CLUSTER_YAML = """\
$schema: https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json
name: cpu-cluster
type: amlcompute
size: Standard_DS3_v2
min_instances: 0
max_instances: 4
idle_time_before_scale_down: 120
location: westus
tier: dedicated
"""

AZURE_INSTANCE_YAML = """\
$schema: https://azuremlschemas.azureedge.net/latest/computeInstance.schema.json
name: dana-box
type: computeinstance
size: STANDARD_DS3_V2
schedules:
  compute_start_stop:
    - action: stop
      trigger:
        type: cron
        start_time: "2021-03-10T21:21:07"
        time_zone: Pacific Standard Time
        expression: 0 18 * * *
"""


def write(tmp_path, text: str, name: str = "compute.yml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


@pytest.fixture(autouse=True)
def _vm_sizes(transactional_db):
    """The seeded VM sizes, before the workspace is made (a transactional test starts from
    a flushed database, which keeps no data migration's rows)."""
    seed_vm_sizes()


@pytest.fixture
def cli(studio, workspace):
    """The CLI in workspace churn."""

    def run(*args, user, **kw):
        return studio(*args, user=user, env={"STUDIO_WORKSPACE": "churn"}, **kw)

    return run


def test_create_from_azure_amlcompute_yaml(cli, owner, tmp_path):
    result = cli("compute", "create", "--file", write(tmp_path, AZURE_CLUSTER_YAML), user=owner)

    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == ["warning: ignoring Azure-only fields: location, tier"]
    shown = yaml.safe_load(result.stdout)
    assert shown["name"] == "cpu-cluster" and shown["queue_name"] == "churn.cpu-cluster"
    assert shown["size_details"]["cores"] == 4.0 and shown["size_details"]["memory_gb"] == 14.0
    compute = Compute.objects.get(name="cpu-cluster")
    assert (compute.min_instances, compute.max_instances) == (0, 4)
    assert compute.idle_time_before_scale_down == 120


def test_create_from_azure_computeinstance_yaml_with_a_schedule(cli, owner, tmp_path):
    path = write(tmp_path, AZURE_INSTANCE_YAML)
    result = cli("compute", "create", "-f", path, "-o", "json", user=owner)

    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "warning: ignoring Azure-only fields: schedules.compute_start_stop[0].trigger.start_time"
    ]
    body = json.loads(result.stdout)
    assert body["state"] == "Running" and body["assigned_user"] == "alice"
    assert body["schedules"]["compute_start_stop"][0]["trigger"] == {
        "type": "cron",
        "expression": "0 18 * * *",
        "time_zone": "Pacific Standard Time",
    }


def test_a_bad_size_names_the_field_and_its_line(cli, owner, tmp_path):
    path = write(tmp_path, AZURE_CLUSTER_YAML.replace("Standard_DS3_v2", "Standard_Huge_v9"))
    result = cli("compute", "create", "-f", path, user=owner)
    assert result.exit_code == 2
    line = error_line(result)
    assert line.startswith(f"error: {path}:4: size: Unknown size 'Standard_Huge_v9'")
    assert not Compute.objects.filter(name="cpu-cluster").exists()


def test_a_bad_cron_names_the_line_of_the_expression(cli, owner, tmp_path):
    path = write(tmp_path, AZURE_INSTANCE_YAML.replace("0 18 * * *", "at six"))
    result = cli("compute", "create", "-f", path, user=owner)
    assert result.exit_code == 2
    assert error_line(result).startswith(
        f"error: {path}:12: schedules.compute_start_stop[0].trigger.expression: 'at six' is not"
    )


def test_min_above_max_from_a_set_names_the_set(cli, owner, tmp_path):
    path = write(tmp_path, AZURE_CLUSTER_YAML)
    result = cli("compute", "create", "-f", path, "--set", "min_instances=9", user=owner)
    assert result.exit_code == 2
    assert error_line(result).startswith("error: --set min_instances=9: min_instances: Must not")


def test_yaml_that_does_not_parse_names_the_line(cli, owner, tmp_path):
    path = write(tmp_path, "name: x\ntype: [amlcompute\nsize: a\n")
    result = cli("compute", "create", "-f", path, user=owner)
    assert result.exit_code == 2
    assert error_line(result).startswith(f"error: {path}:")


def test_create_with_az_flags(cli, owner):
    result = cli(
        "compute", "create", "-n", "batch-cluster", "--type", "amlcompute",
        "--min-instances", "0", "--max-instances", "5", "--size", "Standard_DS2_v2",
        "-o", "json", user=owner,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert (body["max_instances"], body["size"]) == (5, "Standard_DS2_v2")


def test_create_without_a_type_is_a_usage_error(cli, owner):
    result = cli("compute", "create", "-n", "x1", user=owner)
    assert result.exit_code == 2
    assert "type: required" in error_line(result)


def test_an_unknown_type_is_refused(cli, owner):
    result = cli("compute", "create", "-n", "k8s", "--type", "kubernetes", user=owner)
    assert result.exit_code == 2
    assert "type: Unknown compute type 'kubernetes'" in error_line(result)


def test_list_show_update_and_sizes(cli, owner, tmp_path):
    cli("compute", "create", "-f", write(tmp_path, AZURE_CLUSTER_YAML), user=owner)

    listed = cli("compute", "list", "--type", "amlcompute", user=owner)
    assert listed.exit_code == 0
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["Name", "Type", "State", "Size", "Busy", "Idle", "Max", "Created"]
    assert lines[2].split()[:7] == [
        "cpu-cluster", "amlcompute", "Succeeded", "Standard_DS3_v2", "0", "0", "4",
    ]  # fmt: skip

    updated = cli(
        "compute", "update", "-n", "cpu-cluster", "--max-instances", "8",
        "--set", "tags.team=ml", "-o", "json", user=owner,
    )  # fmt: skip
    assert updated.exit_code == 0, updated.output
    assert json.loads(updated.stdout)["max_instances"] == 8
    assert json.loads(updated.stdout)["tags"] == {"team": "ml"}

    shown = cli("compute", "show", "-n", "cpu-cluster", "-o", "json", user=owner)
    assert json.loads(shown.stdout)["max_instances"] == 8

    sizes = cli("compute", "list-sizes", "-o", "tsv", user=owner)
    assert any(line.startswith("Standard_DS3_v2\t4.0\t14.0") for line in sizes.stdout.splitlines())

    nodes = cli("compute", "list-nodes", "-n", "cpu-cluster", user=owner)
    assert nodes.exit_code == 0 and nodes.stdout == ""


def test_serverless_settings_are_updated_like_a_compute(cli, owner):
    result = cli("compute", "update", "-n", "serverless", "--max-instances", "6", "-o", "json",
                 user=owner)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["max_instances"] == 6


def test_stop_and_start_an_instance_and_no_stop_for_a_cluster(cli, owner, tmp_path):
    cli("compute", "create", "-f", write(tmp_path, AZURE_INSTANCE_YAML), user=owner)
    stopped = cli("compute", "stop", "-n", "dana-box", "-o", "json", user=owner)
    assert json.loads(stopped.stdout)["state"] == "Stopped"
    started = cli("compute", "start", "-n", "dana-box", "-o", "json", user=owner)
    assert json.loads(started.stdout)["state"] == "Running"

    cli("compute", "create", "-n", "cpu-cluster", "--type", "amlcompute", user=owner)
    result = cli("compute", "stop", "-n", "cpu-cluster", user=owner)
    assert result.exit_code == 2
    assert "Only a compute instance can stop" in error_line(result)


def test_data_scientist_may_not_create_compute(cli, data_scientist, tmp_path):
    result = cli("compute", "create", "-f", write(tmp_path, AZURE_CLUSTER_YAML),
                 user=data_scientist)  # fmt: skip
    assert result.exit_code == 1
    assert error_line(result).startswith("error: not allowed:")


def test_delete_asks_and_refuses_without_a_terminal(cli, owner):
    cli("compute", "create", "-n", "cpu-cluster", "--type", "amlcompute", user=owner)
    refused = cli("compute", "delete", "-n", "cpu-cluster", user=owner, input="")
    assert refused.exit_code == 2 and "pass --yes" in error_line(refused)
    deleted = cli("compute", "delete", "-n", "cpu-cluster", "--yes", user=owner)
    assert deleted.exit_code == 0 and "Deleted compute 'cpu-cluster'." in deleted.stderr
    assert not Compute.objects.filter(name="cpu-cluster").exists()


def test_the_serverless_compute_cannot_be_deleted(cli, owner):
    result = cli("compute", "delete", "-n", "serverless", "--yes", user=owner)
    assert result.exit_code == 1
    assert "cannot be deleted" in error_line(result)
