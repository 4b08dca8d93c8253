"""`studio data create/download` against a live studio: a local file or folder uploaded file
by file (content-addressed, so a re-upload stores nothing new), datastore URIs sent as they
are, errors at the YAML's lines with nothing left behind, downloads byte for byte."""

from __future__ import annotations

import io
import os

import pytest

from apps.assets.models import DataVersion
from apps.workspaces import storage
from apps.workspaces.models import Datastore
from tests.cli.conftest import error_line

pytestmark = pytest.mark.django_db(transaction=True)

IRIS = b"sepal_length,species\n5.1,setosa\n4.9,setosa\n6.3,virginica\n"


def _stored(workspace) -> set[str]:
    """Every file under LocalUpload of the default datastore (staging files included)."""
    store = storage.open_store(Datastore.objects.get(workspace=workspace, is_default=True))
    if not store.exists("LocalUpload"):
        return set()
    root = store._full("LocalUpload")
    return {
        p[len(root) + 1 :]
        for p in store.fs.find(root)  # find sees hidden staging names too
    }


def _create(studio, user, yml, *extra):
    return studio("data", "create", "-w", "churn", "-f", str(yml), "-o", "json", *extra, user=user)


def test_a_local_file_is_uploaded_and_downloads_byte_for_byte(studio, owner, workspace, tmp_path):
    body = os.urandom(3 * 2**20 + 17)  # more than one streamed chunk
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "blob.bin").write_bytes(body)
    yml = tmp_path / "src" / "data.yml"
    yml.write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/data.schema.json\n"
        "name: raw\ntype: uri_file\npath: ./blob.bin\ndescription: bytes\ntags: {src: rng}\n"
    )
    created = _create(studio, owner, yml)
    assert created.exit_code == 0, created.output
    row = DataVersion.objects.get(name="raw", version="1")
    assert (row.type, row.size_bytes, row.file_count) == ("uri_file", len(body), 1)
    assert row.path.endswith("/blob.bin") and row.tags == {"src": "rng"}
    assert row.description == "bytes"

    out = tmp_path / "dl"
    done = studio("data", "download", "-w", "churn", "-n", "raw", "-p", str(out), user=owner)
    assert done.exit_code == 0, done.output
    assert (out / "blob.bin").read_bytes() == body
    assert sorted(p.name for p in out.iterdir()) == ["blob.bin"]


def test_a_folder_is_uploaded_file_by_file_and_a_second_upload_stores_nothing_new(
    studio, owner, workspace, tmp_path
):
    folder = tmp_path / "train"
    (folder / "parts").mkdir(parents=True)
    files = {
        "iris.csv": IRIS,
        "parts/a.bin": os.urandom(2**20 + 5),
        "parts/empty.txt": b"",
    }
    for rel, data in files.items():
        (folder / rel).write_bytes(data)
    (folder / "scratch.tmp").write_bytes(b"ignored")
    (folder / ".amlignore").write_text("*.tmp\n")
    yml = tmp_path / "data.yml"
    yml.write_text("name: train\npath: train\n")

    first = _create(studio, owner, yml)
    assert first.exit_code == 0, first.output
    row = DataVersion.objects.get(name="train", version="1")
    assert (row.type, row.file_count) == ("uri_folder", 3)
    assert row.size_bytes == sum(len(d) for d in files.values())
    stored = _stored(workspace)
    assert stored == {f"{row.content_hash}/{rel}" for rel in files}

    second = _create(studio, owner, yml, "--version", "7")
    assert second.exit_code == 0, second.output
    again = DataVersion.objects.get(name="train", version="7")
    assert again.path == row.path and again.content_hash == row.content_hash
    assert _stored(workspace) == stored  # nothing new, no staging folder left

    out = tmp_path / "dl"
    done = studio("data", "download", "-w", "churn", "-n", "train", "-p", str(out), user=owner)
    assert done.exit_code == 0, done.output
    got = {
        p.relative_to(out / "train").as_posix(): p.read_bytes()
        for p in (out / "train").rglob("*")
        if p.is_file()
    }
    assert got == files
    assert sorted(p.name for p in out.iterdir()) == ["train"]  # no zip or temp folder left


def test_a_datastore_uri_is_sent_as_it_is(studio, owner, workspace, tmp_path):
    ds = Datastore.objects.get(workspace=workspace, is_default=True)
    storage.open_store(ds).write_stream("shared/iris.csv", io.BytesIO(IRIS))
    created = studio(
        "data",
        "create",
        "-w",
        "churn",
        "--name",
        "iris",
        "--type",
        "uri_file",
        "--path",
        f"azureml://datastores/{ds.name}/paths/shared/iris.csv",
        user=owner,
    )
    assert created.exit_code == 0, created.output
    row = DataVersion.objects.get(name="iris")
    assert row.path == f"azureml://datastores/{ds.name}/paths/shared/iris.csv"
    assert row.content_hash == "" or row.content_hash is None


def test_a_server_error_names_the_yaml_line_and_the_upload_leaves_nothing(
    studio, owner, workspace, tmp_path
):
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "iris.csv").write_bytes(IRIS)
    yml = tmp_path / "data.yml"
    yml.write_text("name: train\ndescription: a folder\ntype: uri_file\npath: ./train\n")
    result = _create(studio, owner, yml)
    assert result.exit_code != 0
    line = error_line(result)
    assert "data.yml:4" in line and "folder" in line, line
    assert not DataVersion.objects.exists()
    assert _stored(workspace) == set()


def test_a_yaml_mistake_is_named_at_its_line_before_anything_is_sent(
    studio, owner, workspace, tmp_path
):
    yml = tmp_path / "data.yml"
    yml.write_text("name: train\npath: ./nowhere\nschema_version: 2\n")
    result = _create(studio, owner, yml)
    assert "data.yml:3" in error_line(result) and "schema_version" in result.stderr
    yml.write_text("name: train\npath: ./nowhere\n")
    result = _create(studio, owner, yml)
    assert "data.yml:2" in error_line(result) and "nowhere" in result.stderr
    yml.write_text("name: bad name!\npath: https://example.org/iris.csv\n")
    result = _create(studio, owner, yml)
    assert "data.yml:1" in error_line(result)
    assert not DataVersion.objects.exists()


def test_a_duplicate_version_after_the_upload_is_refused_and_keeps_no_staged_file(
    studio, owner, workspace, tmp_path
):
    (tmp_path / "a.csv").write_bytes(IRIS)
    (tmp_path / "b.csv").write_bytes(IRIS + b"7.0,versicolor\n")
    (tmp_path / "data.yml").write_text("name: iris\nversion: 1\ntype: uri_file\npath: a.csv\n")
    assert _create(studio, owner, tmp_path / "data.yml").exit_code == 0
    before = _stored(workspace)
    result = _create(studio, owner, tmp_path / "data.yml", "--set", "path=b.csv")
    assert result.exit_code != 0
    assert "data.yml:2" in error_line(result)  # the version line
    assert _stored(workspace) == before
    assert not any(p.startswith(storage.UPLOAD_PREFIX) for p in _stored(workspace))


def test_a_file_refused_mid_upload_gives_the_whole_upload_up(studio, owner, workspace, tmp_path):
    folder = tmp_path / "train"
    folder.mkdir()
    (folder / "a.csv").write_bytes(IRIS)
    (folder / "b\\c.csv").write_bytes(IRIS)  # a backslash: the studio refuses the name
    (tmp_path / "data.yml").write_text("name: train\npath: train\n")
    result = _create(studio, owner, tmp_path / "data.yml")
    assert result.exit_code != 0
    line = error_line(result)
    assert "data.yml:2" in line and "\\" in line, line
    # a.csv had arrived in the staging folder; the CLI's DELETE removed it.
    assert _stored(workspace) == set()
    assert not DataVersion.objects.exists()
