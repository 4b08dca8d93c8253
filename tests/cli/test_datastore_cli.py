"""`studio datastore create/list/show/delete/upload/download` against a live studio, with
Azurite and an S3 server behind it."""

from __future__ import annotations

import hashlib
import json
import os
import textwrap

import pytest
import yaml

from apps.workspaces.models import Datastore
from tests.cli.conftest import error_line
from tests.storage_servers import (  # noqa: F401 - fixtures
    azure_container,
    azurite,
    moto_s3,
    s3_bucket,
)

pytestmark = pytest.mark.django_db(transaction=True)

# An `az ml datastore create` file as Azure's docs give it (the key is Azurite's).
AZURE_BLOB_YAML = """\
$schema: https://azuremlschemas.azureedge.net/latest/azureBlob.schema.json
name: blob_example
type: azure_blob
description: Datastore pointing to a blob container.
account_name: {account}
container_name: {container}
credentials:
  account_key: {key}
tags:
  team: ml
"""


def servers(request, *names: str) -> list:
    """The storage server fixtures (imported above) by name."""
    return [request.getfixturevalue(name) for name in names]


def write(tmp_path, text: str, name: str = "ds.yml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_create_from_azure_blob_yaml_with_the_endpoint_set_for_azurite(
    request, studio, owner, workspace, tmp_path
):
    az, container = servers(request, "azurite", "azure_container")
    path = write(
        tmp_path,
        AZURE_BLOB_YAML.format(account=az.account_name, container=container, key=az.account_key),
    )

    result = studio(
        "datastore", "create", "-w", "churn", "--file", path,
        "--set", f"endpoint={az.account_url}", user=owner,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    shown = yaml.safe_load(result.stdout)
    assert shown["name"] == "blob_example"
    assert shown["credential_kind"] == "account_key"
    assert az.account_key not in result.output
    assert Datastore.objects.get(name="blob_example").tags == {"team": "ml"}


def test_create_an_s3_datastore_from_our_yaml(request, studio, owner, workspace, tmp_path):
    s3, bucket = servers(request, "moto_s3", "s3_bucket")
    path = write(
        tmp_path,
        f"""\
        name: s3_example
        type: s3
        bucket: {bucket}
        endpoint_url: {s3.endpoint_url}
        region: us-east-1
        credentials:
          access_key_id: {s3.access_key_id}
          secret_access_key: {s3.secret_access_key}
        """,
    )

    result = studio("datastore", "create", "-w", "churn", "-f", path, "-o", "json", user=owner)

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["bucket"] == bucket
    assert s3.secret_access_key not in result.output


def test_a_wrong_key_names_the_credentials_line_of_the_file(
    request, studio, owner, workspace, tmp_path
):
    az, container = servers(request, "azurite", "azure_container")
    path = write(
        tmp_path,
        AZURE_BLOB_YAML.format(account=az.account_name, container=container, key="K" * 86 + "=="),
    )

    result = studio(
        "datastore", "create", "-w", "churn", "-f", path,
        "--set", f"endpoint={az.account_url}", user=owner,
    )  # fmt: skip

    assert result.exit_code == 2
    assert error_line(result) == (
        f"error: {path}:7: credentials: cannot reach container {container}: "
        "403 AuthorizationFailure"
    )
    assert not Datastore.objects.filter(name="blob_example").exists()


def test_a_bad_name_names_its_line(studio, owner, workspace, tmp_path):
    path = write(tmp_path, "type: local\nname: 2bad\npath: x\n")
    result = studio("datastore", "create", "-w", "churn", "-f", path, user=owner)
    assert result.exit_code == 2
    assert error_line(result).startswith(f"error: {path}:2: name: ")


def test_azure_only_fields_are_kept_with_a_warning(studio, owner, workspace, tmp_path):
    path = write(tmp_path, "name: scratch\ntype: local\npath: scratch\nsubscription_id: abc\n")
    result = studio("datastore", "create", "-w", "churn", "-f", path, user=owner)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == ["warning: ignoring Azure-only fields: subscription_id"]
    assert Datastore.objects.get(name="scratch").extra == {"subscription_id": "abc"}


def test_list_and_show(studio, owner, workspace):
    listed = studio("datastore", "list", "-w", "churn", user=owner)
    shown = studio("datastore", "show", "-w", "churn", "-n", "workspaceblobstore", user=owner)

    assert listed.exit_code == 0, listed.output
    assert listed.stdout.splitlines()[0].split() == [
        "Name",
        "Type",
        "Default",
        "Description",
        "Created",
    ]
    rows = [line.split()[:3] for line in listed.stdout.splitlines()[2:]]
    assert ["workspaceblobstore", "local", "yes"] in rows
    assert yaml.safe_load(shown.stdout)["is_default"] is True


def test_delete_asks_and_refuses_the_default(studio, owner, workspace):
    refused = studio(
        "datastore", "delete", "-w", "churn", "-n", "workspaceblobstore", "--yes", user=owner
    )
    assert refused.exit_code == 1
    assert "make another one the default first" in error_line(refused)

    Datastore.objects.create(workspace=workspace, name="old", type="local", config={})
    kept = studio("datastore", "delete", "-w", "churn", "-n", "old", user=owner, input="n\n")
    assert kept.exit_code == 1
    gone = studio("datastore", "delete", "-w", "churn", "-n", "old", user=owner, input="y\n")
    assert gone.exit_code == 0, gone.output
    assert not Datastore.objects.filter(name="old").exists()


@pytest.mark.parametrize("kind", ["local", "azure_blob", "s3"])
def test_upload_and_download_round_trip_byte_exactly(
    request, studio, owner, workspace, tmp_path, kind
):
    from apps.workspaces.services import datastores as services
    from tests.storage_servers import azure_fields, make_bucket, make_container, s3_fields

    name = "workspaceblobstore"
    if kind == "azure_blob":
        server = request.getfixturevalue("azurite")
        fields = azure_fields(server, make_container(server))
        name = services.datastore_create(
            actor=owner, workspace=workspace, name="blob", **fields
        ).name
    elif kind == "s3":
        server = request.getfixturevalue("moto_s3")
        fields = s3_fields(server, make_bucket(server))
        name = services.datastore_create(actor=owner, workspace=workspace, name="s3", **fields).name
    src = tmp_path / "train.bin"
    data = os.urandom(3 * 2**20 + 5)
    src.write_bytes(data)

    up = studio(
        "datastore", "upload", "-w", "churn", "-n", name, "--src", str(src), "--dest", "data/",
        "-o", "json", user=owner,
    )  # fmt: skip
    out = tmp_path / "out"
    out.mkdir()
    down = studio(
        "datastore", "download", "-w", "churn", "-n", name, "--path", "data/train.bin",
        "--dest", str(out), user=owner,
    )  # fmt: skip

    assert up.exit_code == 0, up.output
    assert json.loads(up.stdout)["path"] == "data/train.bin"
    assert down.exit_code == 0, down.output
    got = (out / "train.bin").read_bytes()
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    assert [p.name for p in out.iterdir()] == ["train.bin"]  # no temporary file left


def test_downloading_a_missing_file_is_one_error_line_and_writes_nothing(
    studio, owner, workspace, tmp_path
):
    out = tmp_path / "out"
    out.mkdir()
    result = studio(
        "datastore", "download", "-w", "churn", "-n", "workspaceblobstore",
        "--path", "nope.csv", "--dest", str(out), user=owner,
    )  # fmt: skip
    assert result.exit_code == 1
    assert "nope.csv" in error_line(result)
    assert list(out.iterdir()) == []


def test_a_reader_cannot_upload(studio, reader, workspace, tmp_path):
    src = tmp_path / "x.txt"
    src.write_text("x")
    result = studio(
        "datastore", "upload", "-w", "churn", "-n", "workspaceblobstore", "--src", str(src),
        user=reader,
    )  # fmt: skip
    assert result.exit_code == 1
    assert error_line(result).startswith("error: not allowed:")
