"""`studio workspace ...` and `studio workspace member ...`, as `az ml workspace`.

`create --file` takes `az ml workspace create` YAML: name, display_name, description and tags
map to the studio; the Azure-only fields (location, resource_group, storage_account, ...)
are kept in the workspace's `extra` and named in one warning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from .common import State, confirm_or_refuse, global_options, note, pass_state, seg, warn
from .errors import ApiError, UsageFault
from .secret import secret

if TYPE_CHECKING:
    from .yamlio import LineMap

WORKSPACE_COLUMNS = [
    ("Name", "name"),
    ("Display name", "display_name"),
    ("Role", "role"),
    ("Description", "description"),
    ("Created", "created_at"),
]
MEMBER_COLUMNS = [("User", "user"), ("Role", "role"), ("Added", "created_at")]
EDITABLE = ("display_name", "description", "tags")


def _spec() -> dict:
    from . import yamlio

    return {
        "name": yamlio.string,
        "display_name": yamlio.string,
        "description": yamlio.string,
        "tags": yamlio.string_map,
    }


def _tags(items: tuple[str, ...]) -> dict[str, str]:
    tags = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not key.strip():
            raise UsageFault(f"--tags {item}: expected KEY=VALUE")
        tags[key.strip()] = value if sep else ""
    return tags


def _locator(lines: LineMap):
    """Map the field paths of an API error back to where they came from in the input."""

    def locate(path: str) -> str | None:
        return lines.locate(path.removeprefix("extra."))

    return locate


@click.group()
def workspace() -> None:
    """Workspaces: create, list, show, update, delete; and their members."""


@workspace.command("create")
@click.option("-f", "--file", "file_", metavar="FILE", help="An `az ml workspace` YAML file.")
@click.option("-n", "--name", help="Workspace name (overrides the file's).")
@click.option("--display-name", help="Friendly name.")
@click.option("--description", help="Description.")
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
    display_name: str | None,
    description: str | None,
    tags: tuple[str, ...],
    sets: tuple[str, ...],
) -> None:
    """Create a workspace from a YAML file and/or options; you become its Owner.

    \b
      studio workspace create --file workspace.yml --set name=churn --set tags.team=ml
      studio workspace create --name churn --display-name "Churn" --tags team=ml
    """
    from . import yamlio

    if file_:
        data, lines = yamlio.load_yaml(file_)
        data = yamlio.require_mapping(data, lines)
    else:
        data, lines = {}, yamlio.LineMap("command line")
    given = {"name": name, "display_name": display_name, "description": description}
    for key, value in given.items():
        if value is not None:
            data[key] = value
            lines[key] = f"--{key.replace('_', '-')}"
    if tags:
        from_file = data.get("tags")
        data["tags"] = {**(from_file if isinstance(from_file, dict) else {}), **_tags(tags)}
        lines.setdefault("tags", "--tags")
    data = yamlio.apply_sets(data, sets, lines)
    known, unknown = yamlio.check_fields(data, _spec(), lines)
    if "name" not in known:
        if file_:
            raise UsageFault(f"{file_}: name: required; add it to the file or pass --name NAME")
        raise UsageFault("name: required; pass --name NAME or --file FILE")
    if unknown:
        warn(f"ignoring Azure-only fields: {', '.join(sorted(unknown))}")
    body = {**known, "extra": yamlio.jsonable(unknown)}
    try:
        created = state.client().post("workspaces/", body)
    except ApiError as exc:
        raise exc.located(_locator(lines)) from None
    state.emit(created, default="yaml", columns=WORKSPACE_COLUMNS)


@workspace.command("list")
@global_options
@pass_state
def list_(state: State) -> None:
    """The workspaces where you have a role."""
    state.emit(state.client().list("workspaces/"), default="table", columns=WORKSPACE_COLUMNS)


@workspace.command("show")
@click.option("-n", "--name", help="Workspace name (same as -w).")
@global_options
@pass_state
def show(state: State, name: str | None) -> None:
    """Show one workspace."""
    ws = state.workspace_name(name)
    found = state.client().get(f"workspaces/{seg(ws)}/")
    state.emit(found, default="yaml", columns=WORKSPACE_COLUMNS)


@workspace.command("update")
@click.option("-n", "--name", help="Workspace name (same as -w).")
@click.option("--display-name", help="New friendly name.")
@click.option("--description", help="New description.")
@click.option(
    "--set", "sets", multiple=True, metavar="KEY.PATH=VALUE", help="Set a field: tags.team=ml."
)
@click.option("--remove", "removes", multiple=True, metavar="KEY.PATH", help="Remove: tags.team.")
@global_options
@pass_state
def update(
    state: State,
    name: str | None,
    display_name: str | None,
    description: str | None,
    sets: tuple[str, ...],
    removes: tuple[str, ...],
) -> None:
    """Change a workspace's display name, description or tags (its name is permanent).

    \b
      studio workspace update -w churn --description "Churn models" --set tags.stage=prod
    """
    from . import yamlio

    if display_name is None and description is None and not sets and not removes:
        raise UsageFault("nothing to update: give --display-name, --description, --set or --remove")
    ws = state.workspace_name(name)
    client = state.client()
    current = client.get(f"workspaces/{seg(ws)}/")
    data: dict[str, Any] = {key: current.get(key) for key in EDITABLE}
    data["tags"] = dict(data.get("tags") or {})
    lines = yamlio.LineMap("command line")
    if display_name is not None:
        data["display_name"] = display_name
    if description is not None:
        data["description"] = description
    data = yamlio.apply_sets(data, sets, lines)
    yamlio.remove_paths(data, removes)
    for key in EDITABLE:
        if key not in data:  # `--remove description` clears it
            data[key] = {} if key == "tags" else ""
    for key in data:
        if key not in EDITABLE:
            raise yamlio.field_error(lines, key, f"cannot be changed; only {', '.join(EDITABLE)}")
    changes = {k: v for k, v in data.items() if v != current.get(k)}
    known, _ = yamlio.check_fields(changes, _spec(), lines)
    for key in EDITABLE:
        if key in changes and changes[key] is None:  # `--set description=null` clears it
            known[key] = {} if key == "tags" else ""
    if not known:
        state.emit(current, default="yaml", columns=WORKSPACE_COLUMNS)
        return
    try:
        updated = client.patch(f"workspaces/{seg(ws)}/", known)
    except ApiError as exc:
        raise exc.located(_locator(lines)) from None
    state.emit(updated, default="yaml", columns=WORKSPACE_COLUMNS)


@workspace.command("delete")
@click.option("-n", "--name", help="Workspace name (same as -w).")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@global_options
@pass_state
def delete(state: State, name: str | None, yes: bool) -> None:
    """Delete a workspace and everything in it (its files go to the studio's trash)."""
    ws = state.workspace_name(name)
    client = state.client()
    if not yes:
        client.get(f"workspaces/{seg(ws)}/")  # a typo should say "not found" before asking
        if not confirm_or_refuse(
            f"Delete workspace '{ws}' and everything in it?",
            refusal=f"not deleting workspace '{ws}' without confirmation: "
            "there is no terminal to ask on; pass --yes",
        ):
            note("Not deleted.")
            raise click.exceptions.Exit(1)
    client.delete(f"workspaces/{seg(ws)}/")
    note(f"Deleted workspace '{ws}'.")


workspace.add_command(secret)  # studio workspace secret ... (studio/cli/secret.py)


# Members ---------------------------------------------------------------------------------


@workspace.group("member")
def member() -> None:
    """Who has which role in a workspace (-w NAME, $STUDIO_WORKSPACE or the default).

    \b
    Roles: Owner, Contributor, Reader, "AzureML Data Scientist", "AzureML Compute Operator"
    (or owner, contributor, reader, data-scientist, compute-operator).
    """


def _members(state: State) -> str:
    return f"workspaces/{seg(state.workspace_name())}/members/"


@member.command("add")
@click.option("-u", "--user", required=True, help="Username to add.")
@click.option("-r", "--role", required=True, help="Role to give (see `member --help`).")
@global_options
@pass_state
def member_add(state: State, user: str, role: str) -> None:
    """Give a user a role in the workspace."""
    added = state.client().post(_members(state), {"user": user, "role": role})
    state.emit(added, default="yaml", columns=MEMBER_COLUMNS)


@member.command("list")
@global_options
@pass_state
def member_list(state: State) -> None:
    """The workspace's members and their roles."""
    state.emit(state.client().list(_members(state)), default="table", columns=MEMBER_COLUMNS)


@member.command("show")
@click.option("-u", "--user", required=True, help="Username.")
@global_options
@pass_state
def member_show(state: State, user: str) -> None:
    """One member's role."""
    found = state.client().get(f"{_members(state)}{seg(user)}/")
    state.emit(found, default="yaml", columns=MEMBER_COLUMNS)


@member.command("update")
@click.option("-u", "--user", required=True, help="Username.")
@click.option("-r", "--role", required=True, help="New role (see `member --help`).")
@global_options
@pass_state
def member_update(state: State, user: str, role: str) -> None:
    """Change a member's role. A workspace always keeps at least one Owner."""
    changed = state.client().patch(f"{_members(state)}{seg(user)}/", {"role": role})
    state.emit(changed, default="yaml", columns=MEMBER_COLUMNS)


@member.command("remove")
@click.option("-u", "--user", required=True, help="Username.")
@global_options
@pass_state
def member_remove(state: State, user: str) -> None:
    """Take a user's role away. The last Owner cannot be removed."""
    ws = state.workspace_name()
    state.client().delete(f"workspaces/{seg(ws)}/members/{seg(user)}/")
    note(f"Removed '{user}' from workspace '{ws}'.")
