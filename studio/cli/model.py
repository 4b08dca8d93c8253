"""`studio model ...`, as `az ml model`: the shared verbs from assets.py, create and download.

    studio model create -w churn --file model.yml [--set version=3] [--name n] [--version v]
    studio model create -w churn --name clf --path ./outputs/model --type mlflow_model
    studio model create -w churn --name clf --path azureml://jobs/<job>/outputs/artifacts/paths/model
    studio model download -w churn -n clf -v 1 [--download-path ./models]

A local `path` (relative to the YAML file's folder) is uploaded, streamed: a file as it is,
a folder zipped first (`.amlignore`/`.gitignore` honoured); URIs (azureml://datastores/...,
azureml://jobs/..., runs:/..., models:/...) are sent as they are.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

import click

from .assets import asset_group, version_url
from .common import State, global_options, note, pass_state, seg
from .datastore import TRANSFER_TIMEOUT, _check, _FileBody, _save, _send
from .errors import ApiError, UsageFault

model = asset_group(
    "model",
    "models",
    "Models (custom_model, mlflow_model, triton_model): create, list, show, update, "
    "archive, restore, download.",
)

URI_PREFIXES = ("azureml:", "runs:/", "models:/", "mlflow-artifacts:", "http://", "https://")
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
        "properties": yamlio.string_map,
        "stage": yamlio.string,
    }


def _locator(lines):
    return lines.locate


def _upload(state: State, body: dict, local: Path) -> dict:
    """POST the file (or the zipped folder) as the raw body, streamed from disk."""
    from studio.codezip import zip_folder

    from .client import API_PREFIX

    client = state.client()
    url = f"{client.url}{API_PREFIX}/workspaces/{seg(state.workspace_name())}/models/"
    spec = {k: v for k, v in body.items() if k != "path"}
    with tempfile.TemporaryDirectory() as tmp:
        if local.is_dir():
            target = Path(tmp) / f"{local.name}.zip"
            with target.open("wb") as out:
                zip_folder(local, out)
            params = {"spec": json.dumps(spec), "filename": local.name, "folder": "true"}
            content_type = "application/zip"
        else:
            target = local
            params = {"spec": json.dumps(spec), "filename": local.name}
            content_type = "application/octet-stream"
        with target.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            response = _send(
                client.session.post,
                url,
                params=params,
                data=_FileBody(handle, size),
                headers={"Content-Type": content_type},
                timeout=TRANSFER_TIMEOUT,
            )
    _check(response)
    return response.json()


@model.command("create")
@click.option("-f", "--file", "file_", metavar="FILE", help="Model YAML.")
@click.option("-n", "--name", help="Model name (overrides the file's).")
@click.option("-v", "--version", help="Version (overrides the file's; default: the next).")
@click.option("-p", "--path", "path_", help="Local file or folder, or a URI.")
@click.option("-t", "--type", "type_", help="custom_model, mlflow_model or triton_model.")
@click.option(
    "--set", "sets", multiple=True, metavar="KEY.PATH=VALUE", help="Override a field of the file."
)
@global_options
@pass_state
def create(state: State, file_, name, version, path_, type_, sets) -> None:
    """Register a model version from local files, a datastore path, a job's output or a run."""
    from . import yamlio

    if file_:
        data, lines = yamlio.load_yaml(file_)
        data = yamlio.require_mapping(data, lines)
        base = Path(file_).resolve().parent
    else:
        data, lines, base = {}, yamlio.LineMap("<options>"), Path.cwd()
    for key, value in (("name", name), ("version", version), ("path", path_), ("type", type_)):
        if value is not None:
            data[key] = value
            lines[key] = f"--{key}"
    data = yamlio.apply_sets(data, sets, lines)
    known, unknown = yamlio.check_fields(data, _spec(), lines)
    for key in ("name", "path"):
        if key not in known:
            raise yamlio.field_error(lines, key, "required")
    if unknown:
        raise yamlio.field_error(lines, sorted(unknown)[0], "is not a key of a model")
    body = yamlio.jsonable(known)
    try:
        if body["path"].startswith(URI_PREFIXES):
            created = state.client().post(f"workspaces/{seg(state.workspace_name())}/models/", body)
        else:
            local = (base / body["path"]).resolve()
            if not local.exists():
                raise yamlio.field_error(lines, "path", f"no file or folder at {local}")
            created = _upload(state, body, local)
    except ApiError as exc:
        raise exc.located(_locator(lines)) from None
    state.emit(created, default="yaml", columns=COLUMNS)


@model.command("download")
@click.option("-n", "--name", required=True, help="Model name.")
@click.option("-v", "--version", help="Version (default: the latest).")
@click.option(
    "-p", "--download-path", default=".", type=click.Path(), help="Folder to download into."
)
@click.option("--zip", "keep_zip", is_flag=True, help="Keep the zip instead of unpacking it.")
@global_options
@pass_state
def download(state: State, name: str, version, download_path: str, keep_zip: bool) -> None:
    """Download a version's files (streamed as a zip) into <download-path>/<name>/."""
    from .client import API_PREFIX

    client = state.client()
    which = version or client.get(version_url(state, "models", name, None, None))["version"]
    url = f"{client.url}{API_PREFIX}/{version_url(state, 'models', name, which, None)}download/"
    folder = Path(download_path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageFault(f"--download-path {folder}: {exc.strerror or exc}") from None
    target = folder / f"{name}-{which}.zip"
    response = _send(client.session.get, url, stream=True, timeout=TRANSFER_TIMEOUT)
    with response:
        _check(response)
        written = _save(response, target)
    if keep_zip:
        note(f"Downloaded {name}:{which} ({written} bytes) to {target}.")
        return
    dest = folder / name
    with zipfile.ZipFile(target) as zf:
        for member in zf.infolist():
            parts = Path(member.filename).parts
            if member.filename.startswith("/") or ".." in parts:
                raise UsageFault(f"refusing unsafe path in the zip: {member.filename}")
        zf.extractall(dest)
    target.unlink()
    note(f"Downloaded {name}:{which} to {dest}.")
