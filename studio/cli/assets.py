"""What every asset noun shares (`studio data|environment|model|component ...`), as
`az ml <noun>` has it: list, show, update, archive, restore. Each noun's module calls
`asset_group()` and adds its own `create` (and `download` where files exist).

    studio data list -w churn [--archived] [--search iris]
    studio data show -w churn -n iris [-v 3 | -l latest]
    studio data update -w churn -n iris -v 3 --set description="..." --set tags.stage=prod
    studio data archive -w churn -n iris [-v 3]      (no -v: every version)
    studio data restore -w churn -n iris [-v 3]
"""

from __future__ import annotations

import click

from .common import State, global_options, note, pass_state, seg
from .errors import UsageFault

COLUMNS = [
    ("Name", "name"),
    ("Latest", "latest_version"),
    ("Versions", "version_count"),
    ("Description", "description"),
    ("Updated", "updated_at"),
]
VERSION_COLUMNS = [
    ("Name", "name"),
    ("Version", "version"),
    ("Archived", "archived"),
    ("Created", "created_at"),
    ("Created by", "created_by"),
]


def base_url(state: State, segment: str) -> str:
    return f"workspaces/{seg(state.workspace_name())}/{segment}/"


def version_url(state: State, segment: str, name: str, version: str | None, label: str | None):
    if version and label:
        raise UsageFault("give --version or --label, not both")
    which = version or label or "latest"
    if label and label != "latest":
        raise UsageFault("only the label 'latest' can be shown by label here")
    return f"{base_url(state, segment)}{seg(name)}/versions/{seg(which)}/"


def asset_group(noun: str, segment: str, help_text: str, *, columns=None) -> click.Group:
    """A click group for one asset noun with the shared verbs."""
    label = noun if noun != "data" else "data asset"

    @click.group(name=noun, help=help_text)
    def group() -> None:
        pass

    @group.command("list")
    @click.option("-n", "--name", help="List the versions of this name instead of the names.")
    @click.option("--archived", "include_archived", is_flag=True, help="Include archived ones.")
    @click.option("--search", default="", help="Part of the name or description.")
    @global_options
    @pass_state
    def list_(state: State, name: str | None, include_archived: bool, search: str) -> None:
        """The names (latest version each), or one name's versions."""
        client = state.client()
        if name:
            rows = client.list(f"{base_url(state, segment)}{seg(name)}/versions/")
            if not include_archived:
                rows = [r for r in rows if not r.get("archived")]
            state.emit(rows, default="table", columns=VERSION_COLUMNS)
            return
        params = {"search": search} if search else {}
        if include_archived:
            params["archived"] = "true"
        rows = client.list(base_url(state, segment), **params)
        state.emit(rows, default="table", columns=columns or COLUMNS)

    @group.command("show")
    @click.option("-n", "--name", required=True, help=f"Name of the {label}.")
    @click.option("-v", "--version", help="Version (default: the latest).")
    @click.option("-l", "--label", help="Label: 'latest'.")
    @global_options
    @pass_state
    def show(state: State, name: str, version: str | None, label: str | None) -> None:
        """One version, in full."""
        state.emit(
            state.client().get(version_url(state, segment, name, version, label)), default="yaml"
        )

    @group.command("update")
    @click.option("-n", "--name", required=True, help=f"Name of the {label}.")
    @click.option("-v", "--version", help="Version (none: the name itself).")
    @click.option(
        "--set",
        "sets",
        multiple=True,
        metavar="KEY=VALUE",
        help="description=..., tags.KEY=VALUE (only these change: versions are immutable).",
    )
    @global_options
    @pass_state
    def update(state: State, name: str, version: str | None, sets: tuple[str, ...]) -> None:
        """Change the description or tags of a version (or of the name)."""
        from . import yamlio

        client = state.client()
        url = (
            version_url(state, segment, name, version, None)
            if version
            else f"{base_url(state, segment)}{seg(name)}/"
        )
        current = client.get(url)
        data = {"description": current.get("description", ""), "tags": current.get("tags", {})}
        data = yamlio.apply_sets(data, sets)
        unknown = set(data) - {"description", "tags"}
        if unknown:
            raise UsageFault(
                f"only description and tags can change, not {', '.join(sorted(unknown))}"
            )
        state.emit(client.patch(url, data), default="yaml")

    def _archive(verb: str):
        @group.command(
            verb,
            help="Hide from lists and from @latest (still usable by exact version)."
            if verb == "archive"
            else "Bring back what was archived.",
        )
        @click.option("-n", "--name", required=True, help=f"Name of the {label}.")
        @click.option("-v", "--version", help="Version (none: every version).")
        @global_options
        @pass_state
        def command(state: State, name: str, version: str | None) -> None:
            url = (
                version_url(state, segment, name, version, None)
                if version
                else f"{base_url(state, segment)}{seg(name)}/"
            )
            state.client().post(f"{url}{verb}/", {})
            what = f"'{name}' version {version}" if version else f"every version of '{name}'"
            note(f"{verb.capitalize()}d {what}.")

        return command

    _archive("archive")
    _archive("restore")
    return group
