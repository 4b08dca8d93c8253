"""`studio component ...`, as `az ml component`: the shared verbs from assets.py, and create.

    studio component create -w churn --file train.yml [--set version=2] [--name N] [--version V]

`create` reads Azure ML's commandComponent YAML with line numbers and resolves relative paths
against the YAML's folder: `code` (zipped, `.amlignore`/`.gitignore` honoured, and uploaded
as a snapshot), `additional_includes` (files or folders copied into the snapshot next to the
code), an inline environment's `conda_file` (read) and `build.path` (uploaded). The studio
checks the document first (`?dry_run=true`), so a wrong file uploads nothing; its field
errors come back at the YAML's lines (`train.yml:9: inputs.epochs.default: ...`), and a
placeholder error inside a multi-line command at the command's own line.

A `type: pipeline` component (pipelineComponent) is read as `studio job create` reads a
pipeline job (job_pipeline.py): each step's `component: ./x.yml` relative to the file that
names it, each component's `code` relative to its own file, uploaded once the studio has
checked the whole document.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .assets import asset_group
from .common import State, global_options, pass_state, seg, warn
from .errors import ApiError

if TYPE_CHECKING:
    from .yamlio import LineMap

component = asset_group(
    "component",
    "components",
    "Components (command, pipeline): create, list, show, update, archive, restore.",
    columns=[
        ("Name", "name"),
        ("Type", "type"),
        ("Latest", "latest_version"),
        ("Versions", "version_count"),
        ("Description", "description"),
        ("Updated", "updated_at"),
    ],
)

COLUMNS = [
    ("Name", "name"),
    ("Version", "version"),
    ("Type", "type"),
    ("Environment", "environment"),
    ("Created", "created_at"),
]
# The commandComponent fields the studio reads (azureml-yaml.md §2.4); others are dropped
# with a warning. `environment_variables` is sent so that the studio can refuse it by name.
KNOWN = {
    "name", "version", "type", "display_name", "description", "tags", "properties",
    "is_deterministic", "command", "code", "environment", "inputs", "outputs", "resources",
    "distribution", "additional_includes", "environment_variables", "jobs",
}  # fmt: skip


def _is_local(text: str) -> bool:
    return not (text.startswith("azureml:") or "://" in text or text.startswith(("git+", "runs:/")))


def _local(base: Path, text: str, key: str, lines: LineMap) -> Path:
    from . import yamlio

    path = (base / text.removeprefix("file:")).resolve()
    if not path.exists():
        raise yamlio.field_error(lines, key, f"'{text}' does not exist (looked for {path})")
    return path


def command_line(text: str, lines: LineMap) -> int | None:
    """The file line where the command's text starts: the key's line, or the next one for a
    block scalar (`command: >-` or `|`). None when a --set gave the command."""
    line = lines.get("command")
    if not isinstance(line, int):
        return None
    source = text.splitlines()
    if line - 1 < len(source):
        after = source[line - 1].split("command:", 1)[-1].strip()
        if after[:1] in (">", "|"):
            return line + 1
    return line


def _locator(lines: LineMap, error: ApiError):
    """Field paths to YAML lines; a command error that names its line (`(line 9)`) goes
    there rather than to the `command:` key."""
    found = re.search(r"\(line (\d+)\)", " ".join(error.fields.get("command", [])))

    def locate(path: str) -> str | None:
        if path == "command" and found and isinstance(lines.get("command"), int):
            return f"{lines.source}:{found[1]}"
        top = path.split(".")[0].split("[")[0]
        return lines.where(path) if (not path or top in lines) else None

    return locate


def _post(state: State, doc: dict, lines: LineMap, *, dry_run: bool) -> Any:
    base = f"workspaces/{seg(state.workspace_name())}/components/"
    try:
        if dry_run:
            return state.client().request("POST", base, json=doc, params={"dry_run": "true"})
        return state.client().post(base, doc)
    except ApiError as exc:
        raise exc.located(_locator(lines, exc)) from None


def _includes(doc: dict, base: Path, lines: LineMap) -> list[Path]:
    from . import yamlio

    found = []
    for i, item in enumerate(doc.get("additional_includes") or []):
        if not isinstance(item, str) or not item.strip():
            raise yamlio.field_error(lines, f"additional_includes[{i}]", "must be a path")
        found.append(_local(base, item.strip(), f"additional_includes[{i}]", lines))
    return found


def _code_folder(doc: dict, base: Path, lines: LineMap) -> Path | None:
    from . import yamlio

    code = doc.get("code")
    if not isinstance(code, str) or not code.strip():
        return None
    if not _is_local(code.strip()):
        return None  # the studio says what it thinks of a URL
    folder = _local(base, code.strip(), "code", lines)
    if not folder.is_dir():
        raise yamlio.field_error(lines, "code", f"'{code}' is not a folder")
    return folder


def _inline_environment(state: State, doc: dict, base: Path, lines: LineMap) -> None:
    """An inline environment's local files: `conda_file` read, `build.path` uploaded."""
    from . import yamlio

    env = doc.get("environment")
    if not isinstance(env, dict):
        return
    conda = env.get("conda_file")
    if isinstance(conda, str) and "\n" not in conda and _is_local(conda):
        path = _local(base, conda, "environment.conda_file", lines)
        try:
            env["conda_file"] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise yamlio.field_error(
                lines, "environment.conda_file", f"cannot read: {exc}"
            ) from None
    build = env.get("build")
    if isinstance(build, dict) and isinstance(build.get("path"), str) and _is_local(build["path"]):
        from .code import upload_code

        folder = _local(base, build["path"], "environment.build.path", lines)
        label = f"{lines.where('environment.build.path')}: environment.build.path"
        build["path"] = upload_code(state, folder, label=label)["id"]


def _upload(state: State, code: Path | None, includes: list[Path], lines: LineMap) -> str:
    """Upload the code folder, with the additional includes copied in next to it."""
    from .code import upload_code

    label = f"{lines.where('code')}: code"
    if not includes:
        assert code is not None
        return upload_code(state, code, label=label)["id"]
    with tempfile.TemporaryDirectory(prefix="studio-component-") as tmp:
        staging = Path(tmp) / "code"
        if code is not None:
            shutil.copytree(code, staging, symlinks=False)
        staging.mkdir(exist_ok=True)
        for path in includes:
            target = staging / path.name
            if path.is_dir():
                shutil.copytree(path, target, dirs_exist_ok=True)
            else:
                shutil.copy2(path, target)
        return upload_code(state, staging, label=label)["id"]


def _create_pipeline(state: State, doc: dict, lines: LineMap, base: Path) -> Any:
    """A pipeline component: each step's `component: ./x.yml` is read relative to the file
    that names it and sent inline (nested pipeline components too), each code folder
    relative to its component's file, as `studio job create` does for a pipeline job; the
    studio checks the whole document before any code is uploaded."""
    from . import yamlio
    from .code import upload_code
    from .job_pipeline import Uploads, _jobs

    uploads = Uploads()
    _jobs(doc.get("jobs"), "jobs", base, lines, uploads, 0)
    if uploads.data:
        _, _, key = uploads.data[0]
        raise yamlio.field_error(
            lines,
            key,
            "a pipeline component's step takes no local data: declare an input and give the "
            "data in the pipeline job that uses the component",
        )
    _post(state, doc, lines, dry_run=True)
    snapshots: dict[Path, str] = {}
    for holder, folder, label in uploads.code:
        if folder not in snapshots:
            snapshots[folder] = upload_code(state, folder, label=label)["id"]
        holder["code"] = snapshots[folder]
    return _post(state, doc, lines, dry_run=False)


@component.command("create")
@click.option("-f", "--file", "file_", metavar="FILE", required=True, help="Component YAML.")
@click.option("-n", "--name", help="Component name (overrides the file's).")
@click.option("-v", "--version", help="Version (overrides the file's).")
@click.option(
    "--set", "sets", multiple=True, metavar="KEY.PATH=VALUE", help="Override a field of the file."
)
@global_options
@pass_state
def create(
    state: State, file_: str, name: str | None, version: str | None, sets: tuple[str, ...]
) -> None:
    """Create a component from its YAML (Azure ML's commandComponent or pipelineComponent).

    \b
      studio component create -w churn --file train.yml
      studio component create -w churn -f train.yml --set version=2
    """
    from . import yamlio

    data, lines = yamlio.load_yaml(file_)
    data = yamlio.require_mapping(data, lines)
    for key, value, flag in (("name", name, "--name"), ("version", version, "--version")):
        if value is not None:
            data[key] = value
            lines[key] = flag
    data = yamlio.apply_sets(data, sets, lines)
    doc = yamlio.jsonable(data)
    doc.pop("$schema", None)
    unknown = sorted(k for k in doc if k not in KNOWN)
    if unknown:
        warn(f"ignoring fields a component does not have: {', '.join(unknown)}")
        for key in unknown:
            doc.pop(key)
    text = Path(file_).read_text(encoding="utf-8")
    start = command_line(text, lines)
    if start is not None:
        doc["command_line"] = start
    base = Path(file_).resolve().parent
    if doc.get("type") == "pipeline":
        created = _create_pipeline(state, doc, lines, base)
        state.emit(created, default="yaml", columns=COLUMNS)
        return
    code = _code_folder(doc, base, lines)
    includes = _includes(doc, base, lines)
    if code is not None:
        doc.pop("code")
    _inline_environment(state, doc, base, lines)
    _post(state, doc, lines, dry_run=True)
    if code is not None or includes:
        doc["code"] = _upload(state, code, includes, lines)
    created = _post(state, doc, lines, dry_run=False)
    state.emit(created, default="yaml", columns=COLUMNS)
