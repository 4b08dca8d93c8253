"""`studio datastore ...`, as `az ml datastore`: create from YAML, list, show, delete; and
upload/download of files, streamed both ways (a file of any size, never read into memory).

`create --file` takes Azure ML's azureBlob YAML unchanged (`type: azure_blob`; `endpoint` may
also be a full account URL, e.g. Azurite's http://127.0.0.1:10000/devstoreaccount1), and the
studio's own `type: s3` (bucket, endpoint_url, region, credentials {access_key_id,
secret_access_key}) and `type: local` (path). See docs/datastores.md. Azure-only fields are
kept as the datastore's `extra` and named in one warning. Credentials are sent once and never
printed back: the studio does not return them.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .common import State, confirm_or_refuse, global_options, note, pass_state, seg, warn
from .errors import ApiError, CliError, UsageFault

if TYPE_CHECKING:
    import requests

    from .client import Client
    from .yamlio import LineMap

COLUMNS = [
    ("Name", "name"),
    ("Type", "type"),
    ("Default", "is_default"),
    ("Description", "description"),
    ("Created", "created_at"),
]
FILE_COLUMNS = [("Path", "path"), ("Size", "size"), ("URI", "uri")]
CHUNK = 2**20  # bytes a read on either side of a transfer
TRANSFER_TIMEOUT = (10, 600)  # seconds to connect, and between two chunks


def _spec() -> dict:
    from . import yamlio

    return {
        "name": yamlio.string,
        "type": yamlio.string,
        "description": yamlio.string,
        "tags": yamlio.string_map,
        "account_name": yamlio.string,
        "container_name": yamlio.string,
        "endpoint": yamlio.string,
        "protocol": yamlio.string,
        "account_url": yamlio.string,
        "bucket": yamlio.string,
        "endpoint_url": yamlio.string,
        "region": yamlio.string,
        "path": yamlio.string,
        "credentials": yamlio.string_map,
    }


def _locator(lines: LineMap):
    """Map the field paths of an API error back to where they came from in the input."""

    def locate(path: str) -> str | None:
        return lines.locate(path.removeprefix("extra."))

    return locate


def _base(state: State) -> str:
    return f"workspaces/{seg(state.workspace_name())}/datastores/"


@click.group()
def datastore() -> None:
    """Datastores of a workspace (-w NAME): create, list, show, delete; upload, download."""


@datastore.command("create")
@click.option("-f", "--file", "file_", metavar="FILE", required=True, help="Datastore YAML.")
@click.option("-n", "--name", help="Datastore name (overrides the file's).")
@click.option(
    "--set", "sets", multiple=True, metavar="KEY.PATH=VALUE", help="Override a field of the file."
)
@global_options
@pass_state
def create(state: State, file_: str, name: str | None, sets: tuple[str, ...]) -> None:
    """Create a datastore; the studio tests the connection first.

    \b
      studio datastore create -w churn --file blob.yml
      studio datastore create -w churn -f blob.yml --set endpoint=http://127.0.0.1:10000/devstoreaccount1
    """
    from . import yamlio

    data, lines = yamlio.load_yaml(file_)
    data = yamlio.require_mapping(data, lines)
    if name is not None:
        data["name"] = name
        lines["name"] = "--name"
    data = yamlio.apply_sets(data, sets, lines)
    known, unknown = yamlio.check_fields(data, _spec(), lines)
    for key in ("name", "type"):
        if key not in known:
            raise yamlio.field_error(lines, key, "required")
    if unknown:
        warn(f"ignoring Azure-only fields: {', '.join(sorted(unknown))}")
    body = {**known, "extra": yamlio.jsonable(unknown)}
    try:
        created = state.client().post(_base(state), body)
    except ApiError as exc:
        raise exc.located(_locator(lines)) from None
    state.emit(created, default="yaml", columns=COLUMNS)


@datastore.command("list")
@global_options
@pass_state
def list_(state: State) -> None:
    """The workspace's datastores."""
    state.emit(state.client().list(_base(state)), default="table", columns=COLUMNS)


@datastore.command("show")
@click.option("-n", "--name", required=True, help="Datastore name.")
@global_options
@pass_state
def show(state: State, name: str) -> None:
    """One datastore (its credentials show only as their kind)."""
    found = state.client().get(f"{_base(state)}{seg(name)}/")
    state.emit(found, default="yaml", columns=COLUMNS)


@datastore.command("delete")
@click.option("-n", "--name", required=True, help="Datastore name.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@global_options
@pass_state
def delete(state: State, name: str, yes: bool) -> None:
    """Forget a datastore. Its files stay where they are; the default one cannot go."""
    client = state.client()
    url = f"{_base(state)}{seg(name)}/"
    if not yes:
        client.get(url)  # a typo should say "not found" before asking
        if not confirm_or_refuse(
            f"Delete datastore '{name}'? (Its files are kept.)",
            refusal=f"not deleting datastore '{name}' without confirmation: "
            "there is no terminal to ask on; pass --yes",
        ):
            note("Not deleted.")
            raise click.exceptions.Exit(1)
    client.delete(url)
    note(f"Deleted datastore '{name}'.")


# Files -------------------------------------------------------------------------------------


class _FileBody:
    """A file to PUT: requests sends its length, then reads it a megabyte at a time."""

    def __init__(self, handle, size: int):
        self.handle = handle
        self.size = size

    def __len__(self) -> int:
        return self.size

    def read(self, _hint: int = -1) -> bytes:
        return self.handle.read(CHUNK)


def _content_url(state: State, client: Client, name: str) -> str:
    from .client import API_PREFIX

    return f"{client.url}{API_PREFIX}/{_base(state)}{seg(name)}/files/content"


def _check(response: requests.Response, *, where: str = "") -> None:
    """An error answer as the CLI's one-line error (ApiError), else nothing. `where` (a URL)
    is named when the answer has no error body of the studio's."""
    if response.ok:
        return
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "message" in body:
        fields = body.get("fields") if isinstance(body.get("fields"), dict) else {}
        raise ApiError(response.status_code, str(body.get("code") or ""), body["message"], fields)
    suffix = f" from {where}" if where else ""
    raise ApiError(response.status_code, "error", f"HTTP {response.status_code}{suffix}")


def _send(call, *args, what: str = "transfer", **kwargs) -> requests.Response:
    """Run a requests call; a network failure as one line saying `what` failed."""
    import requests

    from .client import _reason

    try:
        return call(*args, **kwargs)
    except requests.RequestException as exc:
        raise CliError(f"{what} failed: {_reason(exc)}") from None


@datastore.command("upload")
@click.option("-n", "--name", required=True, help="Datastore name.")
@click.option("--src", required=True, type=click.Path(dir_okay=False), help="Local file.")
@click.option(
    "--dest", default="", help="Path in the datastore; ending in '/' (or empty): a folder."
)
@global_options
@pass_state
def upload(state: State, name: str, src: str, dest: str) -> None:
    """Upload a file, streamed (any size).

    \b
      studio datastore upload -w churn -n workspaceblobstore --src train.csv --dest data/
    """
    source = Path(src)
    try:
        handle = source.open("rb")
    except OSError as exc:
        raise UsageFault(f"--src {src}: {exc.strerror or exc}") from None
    target = f"{dest}{source.name}" if not dest or dest.endswith("/") else dest
    client = state.client()
    with handle:
        size = os.fstat(handle.fileno()).st_size
        response = _send(
            client.session.put,
            _content_url(state, client, name),
            params={"path": target},
            data=_FileBody(handle, size),
            headers={"Content-Type": "application/octet-stream"},
            timeout=TRANSFER_TIMEOUT,
        )
    _check(response)
    state.emit(response.json(), default="yaml", columns=FILE_COLUMNS)


@datastore.command("download")
@click.option("-n", "--name", required=True, help="Datastore name.")
@click.option("--path", "path", required=True, help="Path of the file in the datastore.")
@click.option(
    "--dest", default=".", type=click.Path(), help="Local file, or an existing folder (default .)."
)
@global_options
@pass_state
def download(state: State, name: str, path: str, dest: str) -> None:
    """Download a file, streamed to disk (written under a temporary name, then renamed)."""
    target = Path(dest)
    if target.is_dir():
        target = target / Path(path.rstrip("/")).name
    client = state.client()
    response = _send(
        client.session.get,
        _content_url(state, client, name),
        params={"path": path},
        stream=True,
        timeout=TRANSFER_TIMEOUT,
    )
    with response:
        _check(response)
        written = _save(response, target)
    note(f"Downloaded {path} ({written} bytes) to {target}.")


def _save(response: requests.Response, target: Path) -> int:
    import requests

    from .client import _reason

    expected = response.headers.get("Content-Length")
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    except OSError as exc:
        raise UsageFault(f"--dest {target}: {exc.strerror or exc}") from None
    written = 0
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                for chunk in response.iter_content(CHUNK):
                    out.write(chunk)
                    written += len(chunk)
            except requests.RequestException as exc:
                raise CliError(f"download failed: {_reason(exc)}") from None
        if expected is not None and written != int(expected):
            raise CliError(f"download cut short: {written} of {expected} bytes")
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return written
