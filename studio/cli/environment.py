"""`studio environment ...`, as `az ml environment`: the shared verbs from assets.py, create
and build.

    studio environment create -w churn --file env.yml [--name N] [--version V] [--set k=v]
    studio environment create -w churn --name tiny --image studio-base:... --conda-file env.yml
    studio environment build -w churn -n tiny [-v 1] [--force] [--no-wait | --timeout SECONDS]
    studio environment list -w churn [--kind custom|curated|anonymous] [--search S] [--archived]

`conda_file` and `pip_requirements` (a studio extension: a requirements.txt) are paths next to
the YAML, sent as their text; `build.path` is a local folder with a Dockerfile, zipped with
studio/codezip.py (honouring .amlignore/.gitignore) and uploaded as a code snapshot.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from .assets import COLUMNS, VERSION_COLUMNS, asset_group, base_url, version_url
from .common import State, global_options, note, pass_state, seg, warn
from .errors import ApiError, CliError, UsageFault

environment = asset_group(
    "environment",
    "environments",
    "Environments (an image, an image plus conda or pip, a Docker build context): create, list, show, update, archive, restore, build.",
)

TERMINAL = {"Succeeded", "Failed"}
KINDS = ("custom", "curated", "anonymous")

# The shared `list`, with Azure's kinds of environment as a filter.
environment.commands.pop("list")


@environment.command("list")
@click.option("-n", "--name", help="List the versions of this name instead of the names.")
@click.option("--archived", "include_archived", is_flag=True, help="Include archived ones.")
@click.option("--search", default="", help="Part of the name or description.")
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    help="Only custom, curated or anonymous (inline in a job or component) ones; default: all.",
)
@global_options
@pass_state
def list_(
    state: State, name: str | None, include_archived: bool, search: str, kind: str | None
) -> None:
    """The names (latest version each), or one name's versions."""
    client = state.client()
    if name:
        if kind:
            raise UsageFault("--kind filters the names; give it without --name")
        rows = client.list(f"{base_url(state, 'environments')}{seg(name)}/versions/")
        if not include_archived:
            rows = [r for r in rows if not r.get("archived")]
        state.emit(rows, default="table", columns=VERSION_COLUMNS)
        return
    params = {"search": search} if search else {}
    if include_archived:
        params["archived"] = "true"
    if kind:
        params["kind"] = kind
    rows = client.list(base_url(state, "environments"), **params)
    state.emit(rows, default="table", columns=COLUMNS)


def _spec() -> dict:
    from . import yamlio

    def passthrough(value, key, lines):
        return value

    return {
        "name": yamlio.string,
        "version": yamlio.version,
        "description": yamlio.string,
        "tags": yamlio.string_map,
        "image": yamlio.string,
        "conda_file": passthrough,
        "pip_requirements": passthrough,
        "build": yamlio.mapping,
        "os_type": yamlio.string,
        "inference_config": yamlio.mapping,
        "datastore": yamlio.string,
    }


def _read_text(base: Path, value, key: str, lines) -> tuple[str, Path]:
    from . import yamlio

    if not isinstance(value, str) or not value.strip():
        raise yamlio.field_error(lines, key, "must be the path of a file")
    path = Path(value)
    if not path.is_absolute():
        path = base / path
    try:
        return path.read_text(), path
    except FileNotFoundError:
        raise yamlio.field_error(lines, key, f"no file '{value}' (looked at {path})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise yamlio.field_error(lines, key, f"cannot read '{value}': {exc}") from None


def _body(state: State, data: dict, lines, base: Path) -> tuple[dict, object]:
    """The API body of a create: files read, the build context uploaded. Also the LineMap of
    the conda file when one was read, to place errors inside it."""
    from . import yamlio
    from .code import upload_code

    known, unknown = yamlio.check_fields(data, _spec(), lines)
    if "name" not in known:
        raise yamlio.field_error(lines, "name", "required")
    if unknown:
        top = sorted(unknown)
        if {"channels", "dependencies"} & set(unknown):
            raise yamlio.field_error(
                lines,
                "dependencies" if "dependencies" in unknown else "channels",
                "this is a conda file, not an environment YAML: write an environment YAML with "
                "'image:' and 'conda_file: <this file>', or pass --image and --conda-file",
            )
        warn(f"ignoring fields an environment does not have: {', '.join(top)}")
    known.pop("datastore", None)
    conda_lines = None
    conda = known.get("conda_file")
    if isinstance(conda, str):
        text, path = _read_text(base, conda, "conda_file", lines)
        try:
            _, conda_lines = yamlio.loads(text, str(path))
        except yamlio.YamlError as exc:
            raise CliError(str(exc)) from None
        known["conda_file"] = text
    elif conda is not None and not isinstance(conda, dict):
        raise yamlio.field_error(lines, "conda_file", "must be a path or a mapping")
    reqs = known.get("pip_requirements")
    if isinstance(reqs, str):
        known["pip_requirements"], _ = _read_text(base, reqs, "pip_requirements", lines)
    elif isinstance(reqs, list):
        known["pip_requirements"] = "\n".join(str(r) for r in reqs)
    elif reqs is not None:
        raise yamlio.field_error(lines, "pip_requirements", "must be a path or a list")
    build = known.get("build")
    if build is not None:
        folder = build.get("path")
        if not isinstance(folder, str) or not folder.strip():
            raise yamlio.field_error(lines, "build.path", "required: the folder with a Dockerfile")
        if "://" in folder:
            raise yamlio.field_error(
                lines, "build.path", "only a local folder can be a build context here"
            )
        path = Path(folder) if Path(folder).is_absolute() else base / folder
        dockerfile = build.get("dockerfile_path") or "Dockerfile"
        if path.is_dir() and not (path / dockerfile).is_file():
            raise yamlio.field_error(lines, "build.dockerfile_path", f"no '{dockerfile}' in {path}")
        snapshot = upload_code(state, path, label=f"{lines.where('build.path')}: build.path")
        known["build"] = {"snapshot": snapshot["id"], "dockerfile_path": dockerfile}
    return yamlio.jsonable(known), conda_lines


def _locator(lines, conda_lines):
    def locate(path: str) -> str | None:
        if conda_lines is not None and path.startswith("conda_file."):
            return conda_lines.where(path[len("conda_file.") :])
        return lines.locate(path)

    return locate


@environment.command("create")
@click.option("-f", "--file", "file_", metavar="FILE", help="Environment YAML.")
@click.option("-n", "--name", help="Name (overrides the file's).")
@click.option("-v", "--version", help="Version (overrides the file's).")
@click.option("-i", "--image", help="Docker image (without --file).")
@click.option("-c", "--conda-file", help="Conda file (without --file; needs --image).")
@click.option("-b", "--build-context", help="Folder with a Dockerfile (without --file).")
@click.option("-d", "--dockerfile-path", help="Dockerfile inside the build context.")
@click.option("--description", help="Description.")
@click.option(
    "--set", "sets", multiple=True, metavar="KEY.PATH=VALUE", help="Override a field of the file."
)
@global_options
@pass_state
def create(
    state: State,
    file_: str | None,
    name: str | None,
    version: str | None,
    image: str | None,
    conda_file: str | None,
    build_context: str | None,
    dockerfile_path: str | None,
    description: str | None,
    sets: tuple[str, ...],
) -> None:
    """Create an environment version (its image is built on first use, or with `build`).

    \b
      studio environment create -w churn --file env.yml
      studio environment create -w churn -n tiny --image studio-base:bookworm-py311-r2 \\
          --conda-file conda.yml
      studio environment create -w churn -n ctx --build-context ./docker
    """
    from . import yamlio

    if file_:
        data, lines = yamlio.load_yaml(file_)
        data = yamlio.require_mapping(data, lines)
        base = Path(file_).resolve().parent
    else:
        data, lines, base = {}, yamlio.LineMap("<options>"), Path.cwd()
    for key, value, flag in (
        ("name", name, "--name"),
        ("version", version, "--version"),
        ("image", image, "--image"),
        ("conda_file", conda_file, "--conda-file"),
        ("description", description, "--description"),
    ):
        if value is not None:
            data[key] = value
            lines[key] = flag
    if build_context is not None or dockerfile_path is not None:
        build = dict(data.get("build") or {})
        if build_context is not None:
            build["path"] = build_context
            lines["build.path"] = "--build-context"
        if dockerfile_path is not None:
            build["dockerfile_path"] = dockerfile_path
            lines["build.dockerfile_path"] = "--dockerfile-path"
        data["build"] = build
    if not data:
        raise UsageFault("give --file, or --name with --image / --conda-file / --build-context")
    data = yamlio.apply_sets(data, sets, lines)
    body, conda_lines = _body(state, data, lines, base)
    try:
        created = state.client().post(
            f"workspaces/{seg(state.workspace_name())}/environments/", body
        )
    except ApiError as exc:
        raise exc.located(_locator(lines, conda_lines)) from None
    state.emit(created, default="yaml")


def _build_addresses(state: State, client, name: str, version: str | None) -> tuple[str, str]:
    """The build's page (the version's page, with its build section and log) and its API
    address, at the version the build is of (`latest` resolved)."""
    if not version:
        version = str(client.get(version_url(state, "environments", name, None, None))["version"])
    api = f"{version_url(state, 'environments', name, version, None)}build/"
    page = (
        f"{client.url}/w/{seg(state.workspace_name())}/environments/{seg(name)}"
        f"/versions/{seg(version)}/"
    )
    return page, client._full(api)


@environment.command("build")
@click.option("-n", "--name", required=True, help="Name of the environment.")
@click.option("-v", "--version", help="Version (default: the latest).")
@click.option("--force", is_flag=True, help="Rebuild even when the image exists.")
@click.option(
    "--no-wait", "--no-follow", "no_wait", is_flag=True, help="Queue the build and return."
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Stop following after this long (exit 1; the build goes on on the worker). "
    "Default: follow until the build ends.",
)
@global_options
@pass_state
def build(
    state: State,
    name: str,
    version: str | None,
    force: bool,
    no_wait: bool,
    timeout: float | None,
) -> None:
    """Build the environment's image on a worker and follow its log.

    \b
      studio environment build -w churn -n tiny
      studio environment build -w churn -n tiny -v 2 --force
      studio environment build -w churn -n tiny --timeout 600
      studio environment build -w churn -n tiny --no-wait
    """
    if no_wait and timeout is not None:
        raise UsageFault("give --timeout or --no-wait, not both")
    client = state.client()
    url = f"{version_url(state, 'environments', name, version, None)}build/"
    started = client.post(url, {"force": force})
    note(f"Build {started['id']} queued for {started['image_tag']}.")
    if no_wait:
        state.emit(started, default="yaml")
        return
    after = 0
    waited, hinted = time.monotonic(), False
    deadline = None if timeout is None else waited + timeout
    while True:
        current = client.get(url, after=after)
        if current["id"] != started["id"]:  # a newer build of the same version: follow it
            started = current
        for line in current.get("lines", []):
            click.echo(line["text"])
            after = line["seq"]
        if current["status"] in TERMINAL and not current.get("lines"):
            break
        if current["status"] == "Queued" and not hinted and time.monotonic() - waited > 30:
            note("Still queued after 30 s: is a worker running (celery -A studio worker)?")
            hinted = True
        if current["status"] not in TERMINAL:
            if deadline is not None and time.monotonic() >= deadline:
                _stop_following(state, client, name, version, current, timeout)
            pause = 1.0 if deadline is None else max(0.0, min(1.0, deadline - time.monotonic()))
            time.sleep(pause)
    if current["status"] == "Failed":
        step = f" at {current['failed_step']}" if current.get("failed_step") else ""
        raise CliError(f"the build failed{step}: {current.get('error', '')}".rstrip(": "))
    note(f"Built {current['image_tag']}.")


def _stop_following(state: State, client, name, version, current: dict, timeout: float) -> None:
    """--timeout ran out: say where the build stands and where to look, then exit 1."""
    page, api = _build_addresses(state, client, name, version)
    note(f"Build {current['id']} of {current['image_tag']}: {current['status']}.")
    note(f"  page: {page}")
    note(f"  API:  {api}")
    raise CliError(
        f"stopped following the build after {timeout:g} s (--timeout); it is {current['status']} "
        "and goes on on the worker"
    )
