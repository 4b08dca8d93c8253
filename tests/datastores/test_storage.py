"""The storage layer (apps/workspaces/storage.py) against real servers: a local folder,
Azurite and an S3 server."""

from __future__ import annotations

import hashlib
import io
import os

import pytest

from apps.workspaces import storage
from studio import downloads
from studio.errors import NotFound, ValidationError
from tests.datastores.conftest import KINDS

pytestmark = pytest.mark.django_db


@pytest.fixture(params=KINDS)
def store(request, make_datastore) -> storage.Store:
    return storage.open_store(make_datastore(request.param))


def test_a_file_round_trips_byte_exactly_with_list_and_stat(store):
    data = os.urandom(3 * 2**20 + 17)

    entry = store.write_stream("raw/2024/data.bin", io.BytesIO(data), chunk_size=2**20)

    assert entry.path == "raw/2024/data.bin"
    assert entry.size == len(data)
    assert store.stat("raw/2024/data.bin").size == len(data)
    assert store.exists("raw/2024/data.bin")
    assert b"".join(store.iter_bytes("raw/2024/data.bin")) == data
    top, _ = store.ls("")
    assert [(e.name, e.is_dir) for e in top] == [("raw", True)]
    inner, cursor = store.ls("raw/2024")
    assert [(e.name, e.size, e.is_dir) for e in inner] == [("data.bin", len(data), False)]
    assert inner[0].modified is not None
    assert cursor is None


def test_a_read_knows_its_size_and_keeps_its_stream(store):
    """A download asks a handle its size (studio/downloads.py). S3's handle is one streamed
    GET: it carries the stat's size, as fsspec's files do, so asking never turns it into a
    ranged read from byte 0."""
    data = os.urandom(2**20 + 5)
    store.write_stream("s.bin", io.BytesIO(data))
    with store.open_read("s.bin") as handle:
        if isinstance(handle, storage._SyncStreamedRead):
            assert handle.size == len(data)
        assert downloads._size_of(handle) == len(data)
        assert b"".join(iter(lambda: handle.read(2**19), b"")) == data


def test_listing_pages_by_cursor_folders_first(store):
    for name in ("b.txt", "a.txt", "c.txt", "sub/x.txt", "dir2/y.txt"):
        store.write_stream(f"f/{name}", io.BytesIO(name.encode()))

    first, cursor = store.ls("f", limit=2)
    second, cursor2 = store.ls("f", cursor=cursor, limit=2)
    third, cursor3 = store.ls("f", cursor=cursor2, limit=2)

    assert [e.name for e in first] == ["dir2", "sub"]
    assert [e.name for e in second] == ["a.txt", "b.txt"]
    assert [e.name for e in third] == ["c.txt"]
    assert cursor3 is None


def test_writing_again_replaces_the_file(store):
    store.write_stream("same.txt", io.BytesIO(b"first version"))
    store.write_stream("same.txt", io.BytesIO(b"second"))

    assert store.read_head("same.txt", 100) == b"second"


def test_a_failed_upload_leaves_nothing_behind(store):
    class Broken(io.RawIOBase):
        def __init__(self):
            self.calls = 0

        def read(self, size=-1):
            self.calls += 1
            if self.calls > 2:
                raise ConnectionResetError("client went away")
            return b"x" * (9 * 2**20)  # more than a block, so a part is already sent

    with pytest.raises(ConnectionResetError):
        store.write_stream("broken.bin", Broken())

    assert not store.exists("broken.bin")
    names = [e.name for e in store.ls("")[0]]
    assert names == []  # no temporary file shows either


def test_a_missing_file_is_not_found(store):
    with pytest.raises(NotFound, match="nope.txt"):
        store.stat("nope.txt")
    with pytest.raises(NotFound):
        store.open_read("nope.txt")


def test_delete_removes_a_file(store):
    store.write_stream("gone.txt", io.BytesIO(b"bye"))
    store.delete("gone.txt")
    assert not store.exists("gone.txt")


def test_paths_that_leave_the_datastore_are_refused_naming_path(store):
    for bad in ("../escape.txt", "a/../../b", "ok/..", "a\\b", "x\x00y"):
        with pytest.raises(ValidationError) as exc:
            store.write_stream(bad, io.BytesIO(b"x"))
        assert "path" in exc.value.fields
        with pytest.raises(ValidationError):
            store.ls(bad)
        with pytest.raises(ValidationError):
            store.open_read(bad)


def test_a_leading_slash_means_the_datastores_root(store):
    store.write_stream("/top.txt", io.BytesIO(b"t"))
    assert store.stat("top.txt").size == 1


def test_the_local_root_folder_is_made_on_first_write(make_datastore, settings):
    datastore = make_datastore("local")
    folder = settings.STUDIO_HOME / datastore.config["path"]
    if folder.exists():
        folder.rmdir()
    store = storage.open_store(datastore)

    assert store.ls("") == ([], None)
    store.write_stream("a.txt", io.BytesIO(b"a"))
    assert (folder / "a.txt").read_bytes() == b"a"


def test_a_symbolic_link_out_of_a_local_datastore_is_refused(make_datastore, settings, tmp_path):
    store = storage.open_store(make_datastore("local"))
    store.write_stream("seed.txt", io.BytesIO(b"s"))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not yours")
    os.symlink(outside, store.root_path / "link")

    with pytest.raises(ValidationError, match="leads out"):
        store.open_read("link/secret.txt")
    with pytest.raises(ValidationError, match="leads out"):
        store.write_stream("link/new.txt", io.BytesIO(b"x"))


def test_local_datastores_stay_out_of_the_studios_own_files(workspace, settings, monkeypatch):
    with pytest.raises(ValidationError, match="own data folder"):
        storage.local_root(workspace, {"path": str(settings.STUDIO_HOME)})
    with pytest.raises(ValidationError, match="outside this workspace"):
        storage.local_root(workspace, {"path": "workspaces/other", "relative_to": "STUDIO_HOME"})
    monkeypatch.delenv(storage.LOCAL_ROOTS_ENV, raising=False)
    with pytest.raises(ValidationError, match="STUDIO_LOCAL_DATASTORE_ROOTS"):
        storage.local_root(workspace, {"path": "/srv/data"})


def test_an_operator_allowed_root_can_hold_local_datastores(workspace, tmp_path, monkeypatch):
    monkeypatch.setenv(storage.LOCAL_ROOTS_ENV, f"{tmp_path}/shared, /nonexistent")

    assert storage.local_root(workspace, {"path": f"{tmp_path}/shared/team"}) == (
        tmp_path / "shared" / "team"
    )


def test_uris_resolve_to_the_datastore_and_path(workspace):
    short = storage.uri("workspaceblobstore", "raw/my file.csv")
    assert short == "azureml://datastores/workspaceblobstore/paths/raw/my%20file.csv"

    datastore, path = storage.resolve_datastore_uri(workspace, short)
    assert (datastore.name, path) == ("workspaceblobstore", "raw/my file.csv")

    long = (
        "azureml://subscriptions/s/resourcegroups/rg/workspaces/churn/"
        "datastores/workspacefilestore/paths/code/main.py"
    )
    datastore, path = storage.resolve_datastore_uri(workspace, long)
    assert (datastore.name, path) == ("workspacefilestore", "code/main.py")


@pytest.mark.parametrize(
    "value,message",
    [
        ("azureml://datastores/nope/paths/x", "No datastore 'nope'"),
        ("https://example.com/x", "not an azureml://"),
        ("azureml://datastores/workspaceblobstore/paths/../x", "'..'"),
        (
            "azureml://subscriptions/s/resourcegroups/rg/workspaces/other/datastores/d/paths/x",
            "workspace 'other'",
        ),
    ],
)
def test_bad_uris_are_refused_naming_the_field(workspace, value, message):
    with pytest.raises(ValidationError, match=message) as exc:
        storage.resolve_datastore_uri(workspace, value, field="inputs.data.path")
    assert "inputs.data.path" in exc.value.fields


def test_credentials_are_encrypted_at_rest(make_datastore, azurite):
    datastore = make_datastore("azure_blob")
    raw = bytes(datastore.credentials)

    assert azurite.account_key.encode() not in raw
    assert storage.decrypt_credentials(datastore) == {"account_key": azurite.account_key}


def test_sha256_of_reads_in_chunks():
    data = os.urandom(100_000)
    assert storage.sha256_of(io.BytesIO(data), chunk_size=1000) == hashlib.sha256(data).hexdigest()
