"""`studio job create --file job.yml [--set k=v] [--name N] [--stream]`, as `az ml job create`.

Reads Azure ML's commandJob YAML with line numbers, applies `--name` and `--set`, and
resolves every relative path (`code`, local input `path`s) against the YAML file's folder.
Then, in this order, so that a wrong file uploads nothing:

1. the studio checks the document (`POST .../jobs/?dry_run=true`); its field errors are
   mapped back to the YAML's lines (`job.yml:12: inputs.data.path: ...`);
2. the code folder is zipped (`.amlignore`, else `.gitignore`, honoured) and uploaded as a
   snapshot (stored once per content), and local input files or folders are uploaded to the
   default datastore under `LocalUpload/<sha256>/`, becoming `azureml://datastores/...` URIs;
3. the job is created (`POST .../jobs/`) and queued.

`experiment_name` defaults to the code folder's name (as Azure's CLI), else "Default".
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .common import State, global_options, note, pass_state, seg
from .errors import ApiError, UsageFault

if TYPE_CHECKING:
    from .yamlio import LineMap

COLUMNS = [
    ("Name", "name"),
    ("Display name", "display_name"),
    ("Status", "status"),
    ("Experiment", "experiment_name"),
    ("Compute", "compute"),
    ("Studio URL", "studio_url"),
]
UPLOAD_PREFIX = "LocalUpload"


def _is_local(text: str) -> bool:
    return not (text.startswith("azureml:") or "://" in text or text.startswith(("git+", "runs:/")))


def _local_path(base: Path, text: str, key: str, lines: LineMap) -> Path:
    from . import yamlio

    path = (base / text.removeprefix("file:")).resolve()
    if not path.exists():
        raise yamlio.field_error(lines, key, f"'{text}' does not exist (looked for {path})")
    return path


def _locator(lines: LineMap):
    def locate(path: str) -> str | None:
        top = path.split(".")[0].split("[")[0]
        return lines.where(path) if (not path or top in lines) else None

    return locate


def _local_inputs(doc: dict, base: Path, lines: LineMap) -> dict[str, Path]:
    """Inputs whose `path` is a file or folder on this machine, checked to exist."""
    found: dict[str, Path] = {}
    inputs = doc.get("inputs")
    if not isinstance(inputs, dict):
        return found
    for name, spec in inputs.items():
        if isinstance(spec, dict) and isinstance(spec.get("path"), str):
            text = spec["path"].strip()
            if text and _is_local(text):
                found[name] = _local_path(base, text, f"inputs.{name}.path", lines)
    return found


def _files_of(path: Path) -> list[tuple[str, Path]]:
    if path.is_file():
        return [(path.name, path)]
    out = []
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            full = Path(root) / name
            if full.is_file() and not full.is_symlink():
                out.append((f"{path.name}/{full.relative_to(path).as_posix()}", full))
    return out


def _digest(files: list[tuple[str, Path]]) -> str:
    """SHA-256 over the files' relative paths and contents: the same data, the same folder."""
    total = hashlib.sha256()
    for rel, full in files:
        one = hashlib.sha256()
        with full.open("rb") as fh:
            while chunk := fh.read(2**20):
                one.update(chunk)
        total.update(f"{rel}\0{one.hexdigest()}\n".encode())
    return total.hexdigest()


def _upload_input(state: State, datastore: str, path: Path, key: str) -> str:
    """Upload a local file or folder to the datastore once per content; its URI."""
    from .client import API_PREFIX
    from .datastore import TRANSFER_TIMEOUT, _check, _FileBody, _send

    files = _files_of(path)
    if not files:
        raise UsageFault(f"{key}: '{path}' holds no files")
    prefix = f"{UPLOAD_PREFIX}/{_digest(files)}"
    client = state.client()
    url = (
        f"{client.url}{API_PREFIX}/workspaces/{seg(state.workspace_name())}/datastores/"
        f"{seg(datastore)}/files/content"
    )
    for rel, full in files:
        with full.open("rb") as handle:
            response = _send(
                client.session.put,
                url,
                params={"path": f"{prefix}/{rel}"},
                data=_FileBody(handle, os.fstat(handle.fileno()).st_size),
                headers={"Content-Type": "application/octet-stream"},
                timeout=TRANSFER_TIMEOUT,
            )
        _check(response)
    tail = path.name if path.is_file() else f"{path.name}/"
    return f"azureml://datastores/{datastore}/paths/{prefix}/{tail}"


def _post(state: State, doc: dict, lines: LineMap, *, dry_run: bool) -> Any:
    base = f"workspaces/{seg(state.workspace_name())}/jobs/"
    try:
        if dry_run:
            return state.client().request("POST", base, json=doc, params={"dry_run": "true"})
        return state.client().post(base, doc)
    except ApiError as exc:
        raise exc.located(_locator(lines)) from None


def _prepare(file_: str, name: str | None, sets: tuple[str, ...]):
    from . import yamlio

    data, lines = yamlio.load_yaml(file_)
    data = yamlio.require_mapping(data, lines)
    if name is not None:
        data["name"] = name
        lines["name"] = "--name"
    data = yamlio.apply_sets(data, sets, lines)
    return yamlio.jsonable(data), lines


@click.command("create")
@click.option("-f", "--file", "file_", metavar="FILE", required=True, help="Command job YAML.")
@click.option("-n", "--name", help="Job name (overrides the file's; must be unused).")
@click.option(
    "--set", "sets", multiple=True, metavar="KEY.PATH=VALUE", help="Override a field of the file."
)
@click.option("--stream", is_flag=True, help="Follow the job's log until it ends.")
@global_options
@pass_state
def create(state: State, file_: str, name: str | None, sets: tuple[str, ...], stream: bool) -> None:
    """Submit a command job from its YAML (Azure ML's commandJob schema).

    \b
      studio job create -w churn --file job.yml
      studio job create -w churn -f job.yml --set inputs.epochs=20 --set compute=cpu-cluster
    """
    doc, lines = _prepare(file_, name, sets)
    base = Path(file_).resolve().parent
    if doc.get("type") == "pipeline":  # steps, component files: studio/cli/job_pipeline.py
        from .job_pipeline import create_pipeline

        job = create_pipeline(state, doc, lines, base)
        state.emit(job, default="yaml", columns=COLUMNS)
        if stream:
            _stream(state, job)
        return
    code = doc.get("code")
    code_dir = None
    if isinstance(code, str) and code.strip() and _is_local(code.strip()):
        code_dir = _local_path(base, code.strip(), "code", lines)
        if not code_dir.is_dir():
            from . import yamlio

            raise yamlio.field_error(lines, "code", f"'{code}' is not a folder")
        if not doc.get("experiment_name"):
            doc["experiment_name"] = code_dir.name
    local_inputs = _local_inputs(doc, base, lines)
    checked = _post(state, doc, lines, dry_run=True)
    if code_dir is not None:
        from .code import upload_code

        snapshot = upload_code(state, code_dir, label=f"{lines.where('code')}: code")
        doc["code"] = snapshot["id"]
    for input_name, path in local_inputs.items():
        uri = _upload_input(state, checked["default_datastore"], path, f"inputs.{input_name}.path")
        doc["inputs"][input_name]["path"] = uri
    job = _post(state, doc, lines, dry_run=False)
    state.emit(job, default="yaml", columns=COLUMNS)
    if stream:
        _stream(state, job)


def _stream(state: State, job: dict) -> None:
    """Follow the job's log until it ends (`studio job stream`'s loop); exit 1 when it did
    not complete, as `az ml job create --stream` fails with the job."""
    from .job_runs import stream_log

    note(f"Streaming the log of {job['name']} (Ctrl-C stops following; the job goes on).")
    status = stream_log(state, job["name"]).get("status", "")
    note(f"Job {job['name']} ended: {status}.")
    if status != "Completed":
        raise click.exceptions.Exit(1)


COMMANDS = [create]
