"""`studio compute ...`, as `az ml compute`: create (from an `az ml compute create` YAML file
or flags), list, show, update, start, stop, restart, delete, list-nodes and list-sizes.

The YAML goes to the studio as it is (after --set): the studio keeps the Azure-only fields
(location, tier, identity, ...) and says which in one warning line; an error names the field
and the line of the file it came from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from .common import State, confirm_or_refuse, global_options, note, pass_state, seg, warn
from .errors import ApiError, UsageFault

if TYPE_CHECKING:
    from .yamlio import LineMap

COMPUTE_COLUMNS = [
    ("Name", "name"),
    ("Type", "type"),
    ("State", "state"),
    ("Size", "size"),
    ("Busy", "nodes.busy"),
    ("Idle", "nodes.idle"),
    ("Max", "max_instances"),
    ("Created", "created_at"),
]
NODE_COLUMNS = [
    ("Node", "index"),
    ("State", "state"),
    ("Job", "job_id"),
    ("Worker", "worker"),
    ("Since", "state_since"),
]
SIZE_COLUMNS = [
    ("Name", "name"),
    ("Cores", "cores"),
    ("Memory (GiB)", "memory_gb"),
    ("GPUs", "gpus"),
    ("Description", "description"),
]
TYPES = ("amlcompute", "computeinstance", "attached", "local")


def _computes(state: State) -> str:
    return f"workspaces/{seg(state.workspace_name())}/computes/"


def _locator(lines: LineMap):
    """Map the field paths of an API error back to where they came from in the input."""
    return lines.locate


def _tags(items: tuple[str, ...]) -> dict[str, str]:
    tags = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not key.strip():
            raise UsageFault(f"--tags {item}: expected KEY=VALUE")
        tags[key.strip()] = value if sep else ""
    return tags


def _flags(lines: LineMap, data: dict, **given: Any) -> None:
    """Put the flags that were given into the document, remembering where they came from."""
    for key, value in given.items():
        if value is None:
            continue
        data[key] = value
        lines[key] = "--engine-url" if key == "url" else f"--{key.replace('_', '-')}"


def _send(state: State, method: str, path: str, body: dict, lines: LineMap) -> dict:
    try:
        answer = state.client().request(method, path, json=body)
    except ApiError as exc:
        raise exc.located(_locator(lines)) from None
    for warning in answer.pop("warnings", None) or []:
        warn(warning)
    return answer


def _scale_options(f):
    for option in reversed(
        (
            click.option("--size", help="VM size, e.g. Standard_DS3_v2 (see list-sizes)."),
            click.option("--min-instances", type=int, help="Nodes kept even when idle."),
            click.option("--max-instances", type=int, help="Most nodes (jobs at once)."),
            click.option(
                "--idle-time-before-scale-down", type=int, help="Seconds before an idle node goes."
            ),
            click.option("--description", help="Description."),
        )
    ):
        f = option(f)
    return f


@click.group()
def compute() -> None:
    """Compute targets: clusters, instances, attached Docker engines, local processes.

    \b
      studio compute create --file cluster.yml
      studio compute create -n cpu-cluster --type amlcompute --min-instances 0 --max-instances 4
      studio compute list --type amlcompute
    """


@compute.command("create")
@click.option("-f", "--file", "file_", metavar="FILE", help="An `az ml compute create` YAML file.")
@click.option("-n", "--name", help="Compute name (overrides the file's).")
@click.option("-t", "--type", "type_", help=f"Compute type: {', '.join(TYPES)}.")
@_scale_options
@click.option(
    "--engine-url", help="Attached computes: the engine, tcp://host:2376 or ssh://user@host."
)
@click.option("--assigned-user", help="Compute instances: the member whose jobs it runs.")
@click.option("--tags", multiple=True, metavar="KEY=VALUE", help="A tag; repeat for more.")
@click.option(
    "--set", "sets", multiple=True, metavar="KEY.PATH=VALUE", help="Override a field of the file."
)
@global_options
@pass_state
def create(
    state: State,
    file_: str | None,
    name: str | None,
    type_: str | None,
    size: str | None,
    min_instances: int | None,
    max_instances: int | None,
    idle_time_before_scale_down: int | None,
    description: str | None,
    engine_url: str | None,
    assigned_user: str | None,
    tags: tuple[str, ...],
    sets: tuple[str, ...],
) -> None:
    """Create a compute from a YAML file and/or flags.

    \b
      studio compute create --file cluster.yml --set max_instances=8
      studio compute create -n gpu-box --type attached --engine-url tcp://10.0.0.5:2376
    """
    from . import yamlio

    if file_:
        data, lines = yamlio.load_yaml(file_)
        data = yamlio.require_mapping(data, lines)
    else:
        data, lines = {}, yamlio.LineMap("command line")
    _flags(
        lines,
        data,
        name=name,
        type=type_,
        size=size,
        min_instances=min_instances,
        max_instances=max_instances,
        idle_time_before_scale_down=idle_time_before_scale_down,
        description=description,
        url=engine_url,
        assigned_user=assigned_user,
    )
    if tags:
        from_file = data.get("tags")
        data["tags"] = {**(from_file if isinstance(from_file, dict) else {}), **_tags(tags)}
        lines.setdefault("tags", "--tags")
    data = yamlio.apply_sets(data, sets, lines)
    for key in ("name", "type"):
        if data.get(key) in (None, ""):
            where = f"{file_}: " if file_ else ""
            raise UsageFault(f"{where}{key}: required; add it to the file or pass --{key}")
    created = _send(state, "POST", _computes(state), yamlio.jsonable(data), lines)
    state.emit(created, default="yaml", columns=COMPUTE_COLUMNS)


@compute.command("list")
@click.option("-t", "--type", "type_", help=f"Only this type: {', '.join(TYPES)}, serverless.")
@global_options
@pass_state
def list_(state: State, type_: str | None) -> None:
    """The workspace's computes, with their nodes (busy, idle) and limits."""
    params = {"type": type_} if type_ else {}
    rows = state.client().list(_computes(state), **params)
    state.emit(rows, default="table", columns=COMPUTE_COLUMNS)


@compute.command("show")
@click.option("-n", "--name", required=True, help="Compute name.")
@global_options
@pass_state
def show(state: State, name: str) -> None:
    """One compute: its settings, nodes summary and queue."""
    found = state.client().get(f"{_computes(state)}{seg(name)}/")
    state.emit(found, default="yaml", columns=COMPUTE_COLUMNS)


@compute.command("update")
@click.option("-n", "--name", required=True, help="Compute name.")
@_scale_options
@click.option(
    "--set", "sets", multiple=True, metavar="KEY.PATH=VALUE", help="Set a field: tags.team=ml."
)
@global_options
@pass_state
def update(
    state: State,
    name: str,
    size: str | None,
    min_instances: int | None,
    max_instances: int | None,
    idle_time_before_scale_down: int | None,
    description: str | None,
    sets: tuple[str, ...],
) -> None:
    """Change a compute's size, node limits, idle time, description, tags or schedules.

    \b
      studio compute update -n cpu-cluster --max-instances 8
      studio compute update -n serverless --set max_instances=6
    """
    from . import yamlio

    lines = yamlio.LineMap("command line")
    data: dict[str, Any] = {}
    if any(item.startswith("tags") for item in sets):
        current = state.client().get(f"{_computes(state)}{seg(name)}/")
        data["tags"] = dict(current.get("tags") or {})
    _flags(
        lines,
        data,
        size=size,
        min_instances=min_instances,
        max_instances=max_instances,
        idle_time_before_scale_down=idle_time_before_scale_down,
        description=description,
    )
    data = yamlio.apply_sets(data, sets, lines)
    if not data:
        raise UsageFault("nothing to update: give --max-instances, --size, --set, ...")
    path = f"{_computes(state)}{seg(name)}/"
    updated = _send(state, "PATCH", path, yamlio.jsonable(data), lines)
    state.emit(updated, default="yaml", columns=COMPUTE_COLUMNS)


def _operation(verb: str, doc: str):
    @compute.command(verb, help=doc)
    @click.option("-n", "--name", required=True, help="Compute instance name.")
    @global_options
    @pass_state
    def command(state: State, name: str) -> None:
        done = state.client().post(f"{_computes(state)}{seg(name)}/{verb}/", None)
        state.emit(done, default="yaml", columns=COMPUTE_COLUMNS)

    return command


start = _operation("start", "Start a stopped compute instance.")
stop = _operation("stop", "Stop a running compute instance (refused while its jobs run).")
restart = _operation("restart", "Restart a running compute instance.")


@compute.command("delete")
@click.option("-n", "--name", required=True, help="Compute name.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@global_options
@pass_state
def delete(state: State, name: str, yes: bool) -> None:
    """Delete a compute (refused while jobs run on it; the serverless pool stays)."""
    client = state.client()
    path = f"{_computes(state)}{seg(name)}/"
    if not yes:
        client.get(path)  # a typo should say "not found" before asking
        if not confirm_or_refuse(
            f"Delete compute '{name}'?",
            refusal=f"not deleting compute '{name}' without confirmation: "
            "there is no terminal to ask on; pass --yes",
        ):
            note("Not deleted.")
            raise click.exceptions.Exit(1)
    client.delete(path)
    note(f"Deleted compute '{name}'.")


@compute.command("list-nodes")
@click.option("-n", "--name", required=True, help="Compute name.")
@global_options
@pass_state
def list_nodes(state: State, name: str) -> None:
    """The compute's nodes: idle, busy (with the job) or leaving."""
    rows = state.client().list(f"{_computes(state)}{seg(name)}/nodes/")
    state.emit(rows, default="table", columns=NODE_COLUMNS)


@compute.command("list-sizes")
@global_options
@pass_state
def list_sizes(state: State) -> None:
    """The VM sizes a compute can use: each job's container gets its cores and memory."""
    state.emit(state.client().list("vm-sizes/"), default="table", columns=SIZE_COLUMNS)
