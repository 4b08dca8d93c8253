"""`studio data ...`, as `az ml data`: the shared verbs from assets.py, create and download.

    studio data create -w churn --file data.yml [--set version=3] [--name n] [--version v]
    studio data create -w churn --name iris --type uri_file --path ./iris.csv
    studio data create -w churn --name raw --path azureml://datastores/blobs/paths/raw/
    studio data download -w churn -n iris [-v 1] [--download-path ./data]

A local `path` (relative to the YAML file's folder; `file:` prefix allowed) is uploaded file
by file, each streamed from disk with its own PUT (never read into memory), to the default
datastore or the YAML's `datastore`; a folder honours `.amlignore`/`.gitignore`. The studio
stores the bytes content-addressed, so uploading the same files again stores nothing new.
`azureml://...` paths and http(s) URLs are sent as they are. When anything fails after the
upload started, the upload is given up (its staged files deleted).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile
from pathlib import Path
from urllib.parse import unquote

import click

from .assets import asset_group, version_url
from .common import State, global_options, note, pass_state, seg
from .datastore import TRANSFER_TIMEOUT, _check, _FileBody, _save, _send
from .errors import ApiError, CliError, UsageFault

data = asset_group(
    "data",
    "data",
    "Data assets (uri_file, uri_folder, mltable): create, list, show, update, archive, "
    "restore, download.",
)

URI_SCHEMES = (
    "azureml:",
    "http://",
    "https://",
    "wasbs://",
    "abfss://",
    "adl://",
    "s3://",
    "gs://",
)
COLUMNS = [("Name", "name"), ("Version", "version"), ("Type", "type"), ("Path", "path")]


def _spec() -> dict:
    from . import yamlio

    return {
        "name": yamlio.string,
        "version": yamlio.version,
        "type": yamlio.string,
        "path": yamlio.string,
        "description": yamlio.string,
        "tags": yamlio.string_map,
        "datastore": yamlio.string,
    }


def _locator(lines):
    def locate(path: str) -> str | None:
        upload = path.split(".")[0].split("[")[0] == "upload"
        return lines.locate("path" if upload else path)

    return locate


def _base(state: State) -> str:
    return f"workspaces/{seg(state.workspace_name())}/data/"


def _local_files(local: Path) -> list[tuple[str, Path]]:
    """(path inside the upload, file on disk): the file itself, or a folder's files."""
    from studio.codezip import iter_files

    if local.is_file():
        return [(local.name, local)]
    return [(rel, local / rel) for rel in iter_files(local)]


def _put(state: State, url: str, rel: str, source: Path, folder: bool) -> None:
    client = state.client()
    try:
        handle = source.open("rb")
    except OSError as exc:
        raise UsageFault(f"{source}: {exc.strerror or exc}") from None
    params = {"path": rel}
    if folder:
        params["folder"] = "1"
    with handle:
        size = os.fstat(handle.fileno()).st_size
        response = _send(
            client.session.put,
            url,
            params=params,
            data=_FileBody(handle, size),
            headers={"Content-Type": "application/octet-stream"},
            timeout=TRANSFER_TIMEOUT,
        )
    with response:
        _check(response)


def _upload(state: State, body: dict, local: Path) -> dict:
    """Start an upload, PUT each file streamed, then create the version from the upload.
    Anything failing after the start gives the upload up (DELETE), so nothing is left."""
    from .client import API_PREFIX

    client = state.client()
    files = _local_files(local)
    if not files:
        raise UsageFault(f"{local}: nothing to upload (the folder has no files)")
    params = {"datastore": body["datastore"]} if body.get("datastore") else None
    started = client.request("POST", f"{_base(state)}-/uploads/", params=params)
    token = started["upload"]
    token_path = f"{_base(state)}-/uploads/{seg(token)}/"
    url = f"{client.url}{API_PREFIX}/{token_path}"
    try:
        for rel, source in files:
            _put(state, url, rel, source, local.is_dir())
        spec = {k: v for k, v in body.items() if k not in ("path", "datastore")}
        return client.post(_base(state), {**spec, "upload": token})
    except BaseException:
        with contextlib.suppress(CliError, ApiError):
            client.delete(token_path)
        raise


@data.command("create")
@click.option("-f", "--file", "file_", metavar="FILE", help="Data YAML.")
@click.option("-n", "--name", help="Data asset name (overrides the file's).")
@click.option("-v", "--version", help="Version (overrides the file's; default: the next).")
@click.option("-p", "--path", "path_", help="Local file or folder, azureml:// path or URL.")
@click.option("-t", "--type", "type_", help="uri_file, uri_folder (default) or mltable.")
@click.option("-d", "--description", help="Description (overrides the file's).")
@click.option("--datastore", help="Datastore a local path is uploaded to (default: the default).")
@click.option(
    "--set", "sets", multiple=True, metavar="KEY.PATH=VALUE", help="Override a field of the file."
)
@global_options
@pass_state
def create(state: State, file_, name, version, path_, type_, description, datastore, sets):
    """Create a data version from local files (uploaded), a datastore path or a URL.

    \b
      studio data create -w churn -f data.yml
      studio data create -w churn -n iris -t uri_file -p ./iris.csv
    """
    from . import yamlio

    if file_:
        loaded, lines = yamlio.load_yaml(file_)
        spec = yamlio.require_mapping(loaded, lines)
        base = Path(file_).resolve().parent
    else:
        spec, lines, base = {}, yamlio.LineMap("<options>"), Path.cwd()
    overrides = (
        ("name", name),
        ("version", version),
        ("path", path_),
        ("type", type_),
        ("description", description),
        ("datastore", datastore),
    )
    for key, value in overrides:
        if value is not None:
            spec[key] = value
            lines[key] = f"--{key}"
    spec = yamlio.apply_sets(spec, sets, lines)
    known, unknown = yamlio.check_fields(spec, _spec(), lines)
    for key in ("name", "path"):
        if key not in known:
            raise yamlio.field_error(lines, key, "required")
    if unknown:
        raise yamlio.field_error(lines, sorted(unknown)[0], "is not a key of a data asset")
    body = yamlio.jsonable(known)
    where = body["path"]
    try:
        if where.lower().startswith(URI_SCHEMES):
            body.pop("datastore", None)  # only where an upload goes
            created = state.client().post(_base(state), body)
        else:
            local = (base / where.removeprefix("file:")).resolve()
            if not local.exists():
                raise yamlio.field_error(lines, "path", f"no file or folder at {local}")
            created = _upload(state, body, local)
    except ApiError as exc:
        raise exc.located(_locator(lines)) from None
    state.emit(created, default="yaml", columns=COLUMNS)


def _safe_extract(archive: Path, dest: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        for member in zf.infolist():
            parts = Path(member.filename).parts
            if member.filename.startswith("/") or ".." in parts:
                raise UsageFault(f"refusing unsafe path in the zip: {member.filename}")
        zf.extractall(dest)


@data.command("download")
@click.option("-n", "--name", required=True, help="Data asset name.")
@click.option("-v", "--version", help="Version (default: the latest).")
@click.option(
    "-p", "--download-path", default=".", type=click.Path(), help="Folder to download into."
)
@global_options
@pass_state
def download(state: State, name: str, version, download_path: str) -> None:
    """Download a version's data: a uri_file as <download-path>/<its file name>, a folder
    (uri_folder, mltable) as <download-path>/<name>/ (streamed as a zip, then unpacked)."""
    from .client import API_PREFIX

    client = state.client()
    row = client.get(version_url(state, "data", name, version, None))
    which = row["version"]
    url = f"{client.url}{API_PREFIX}/{version_url(state, 'data', name, which, None)}download/"
    folder = Path(download_path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageFault(f"--download-path {folder}: {exc.strerror or exc}") from None
    response = _send(client.session.get, url, stream=True, timeout=TRANSFER_TIMEOUT)
    with response:
        _check(response)
        if row.get("type") == "uri_file":
            file_name = Path(str(row.get("path") or name).rstrip("/")).name or name
            target = folder / unquote(file_name)
            written = _save(response, target)
            note(f"Downloaded {name}:{which} ({written} bytes) to {target}.")
            return
        with tempfile.TemporaryDirectory(dir=folder, prefix=".studio-download-") as tmp:
            archive = Path(tmp) / f"{name}-{which}.zip"
            _save(response, archive)
            dest = folder / name
            _safe_extract(archive, dest)
    note(f"Downloaded {name}:{which} to {dest}.")
