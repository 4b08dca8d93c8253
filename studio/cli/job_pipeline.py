"""`studio job create --file pipeline.yml` for `type: pipeline` (job_submit.create hands it
here). A pure HTTP client, like the rest of the CLI.

Every step's `component: ./x.yml` (or `file:./x.yml`) is read and sent inline, its `code`
and nested pipeline components resolved relative to THAT file's folder; inline steps' `code`
and local input paths resolve relative to the file that holds them. Then, as for a command
job, so that a wrong file uploads nothing:

1. the studio checks the whole pipeline (`POST .../jobs/?dry_run=true`); errors come back at
   the line of the file they are in (the pipeline's, or a component file's);
2. each code folder is uploaded once (a snapshot per content) and local data is uploaded to
   the default datastore under `LocalUpload/<sha256>/`;
3. the pipeline is created.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import job_submit, yamlio
from .common import State

MAX_DEPTH = 10  # nested pipeline components


class Uploads:
    """What to upload once the pipeline is known to be valid."""

    def __init__(self) -> None:
        self.code: list[tuple[dict, Path, str]] = []  # (holder, folder, label)
        self.data: list[tuple[dict, Path, str]] = []  # (input spec, path, label)


def _merge_lines(lines: yamlio.LineMap, sub: yamlio.LineMap, prefix: str) -> None:
    for key, value in sub.items():
        where = f"{sub.source}:{value}" if isinstance(value, int) else value
        lines[f"{prefix}.{key}" if key else prefix] = where


def _code(holder: dict, where: str, base: Path, lines, uploads: Uploads) -> None:
    code = holder.get("code")
    if isinstance(code, str) and code.strip() and job_submit._is_local(code.strip()):
        folder = job_submit._local_path(base, code.strip(), f"{where}.code", lines)
        if not folder.is_dir():
            raise yamlio.field_error(lines, f"{where}.code", f"'{code}' is not a folder")
        uploads.code.append((holder, folder, f"{lines.where(f'{where}.code')}: code"))


def _data(holder: dict, where: str, base: Path, lines, uploads: Uploads) -> None:
    inputs = holder.get("inputs")
    if not isinstance(inputs, dict):
        return
    for name, spec in inputs.items():
        if isinstance(spec, dict) and isinstance(spec.get("path"), str):
            text = spec["path"].strip()
            if text and "${{" not in text and job_submit._is_local(text):
                key = f"{where}.inputs.{name}.path" if where else f"inputs.{name}.path"
                uploads.data.append((spec, job_submit._local_path(base, text, key, lines), key))


def _jobs(jobs: Any, where: str, base: Path, lines, uploads: Uploads, depth: int) -> None:
    if not isinstance(jobs, dict):
        return
    if depth > MAX_DEPTH:
        raise yamlio.field_error(lines, where, "pipeline components nest too deep")
    for step, node in jobs.items():
        if not isinstance(node, dict):
            continue
        here = f"{where}.{step}"
        comp, comp_base = node.get("component"), base
        if isinstance(comp, str) and comp.strip() and job_submit._is_local(comp.strip()):
            path = job_submit._local_path(base, comp.strip(), f"{here}.component", lines)
            data, sub = yamlio.load_yaml(path)
            data = yamlio.jsonable(yamlio.require_mapping(data, sub))
            _merge_lines(lines, sub, f"{here}.component")
            node["component"] = comp = data
            comp_base = path.parent
        if isinstance(comp, dict):
            _code(comp, f"{here}.component", comp_base, lines, uploads)
            if comp.get("type") == "pipeline":
                _jobs(
                    comp.get("jobs"), f"{here}.component.jobs", comp_base, lines, uploads, depth + 1
                )
        _code(node, here, base, lines, uploads)
        _data(node, here, base, lines, uploads)


def create_pipeline(state: State, doc: dict, lines, base: Path) -> dict:
    """Inline component files, check, upload code and data, create. The created job."""
    from .code import upload_code

    uploads = Uploads()
    _jobs(doc.get("jobs"), "jobs", base, lines, uploads, 0)
    _data(doc, "", base, lines, uploads)
    checked = job_submit._post(state, doc, lines, dry_run=True)
    snapshots: dict[Path, str] = {}
    for holder, folder, label in uploads.code:
        if folder not in snapshots:
            snapshots[folder] = upload_code(state, folder, label=label)["id"]
        holder["code"] = snapshots[folder]
    for spec, path, key in uploads.data:
        spec["path"] = job_submit._upload_input(state, checked["default_datastore"], path, key)
    return job_submit._post(state, doc, lines, dry_run=False)
