"""`studio job list | show | stream | download | cancel | archive | restore`, as `az ml job`.

    studio job list -w churn [--experiment E] [--status Running] [--search S] [--type pipeline]
                             [--order-by -duration] [--max-results N]
    studio job show -w churn -n NAME
    studio job stream -w churn -n NAME          follow the log until the job ends
    studio job download -w churn -n NAME [--download-path DIR] [--output-name O | --all]
    studio job cancel -w churn -n NAME
    studio job archive | restore -w churn -n NAME

`download` writes what `az ml job download` writes: `artifacts/` (the job's files:
outputs/, user_logs/std_log.txt, logged artifacts) and `named-outputs/<name>/`.
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import quote

import click

from .common import State, global_options, note, pass_state, seg
from .errors import ApiError, Unreachable, UsageFault

COLUMNS = [
    ("Name", "name"),
    ("Display name", "display_name"),
    ("Status", "status"),
    ("Experiment", "experiment_name"),
    ("Type", "type"),
    ("Created", "created_at"),
]
# The API's `order_by` keys (apps/jobs/selectors.JOB_SORTS), each also with a leading '-'.
ORDER_KEYS = ("created", "name", "status", "experiment", "duration")
POLL_SECONDS = 1.0
RECONNECT_SECONDS = 120  # how long a streamed log waits for a studio that stopped answering
ENDED_BADLY = ("Failed", "Canceled")


def job_url(state: State, name: str) -> str:
    return f"workspaces/{seg(state.workspace_name())}/jobs/{seg(name)}/"


def _name_option(f):
    return click.option("-n", "--name", required=True, help="Name of the job.")(f)


@click.command("list")
@click.option("--experiment", default="", help="Only this experiment's jobs.")
@click.option("--status", default="", help="Only jobs in this status (comma list).")
@click.option("--search", default="", help="Part of the name, display name or experiment.")
@click.option(
    "-t",
    "--type",
    "type_",
    default="",
    help="Only jobs of this type: command, sweep, pipeline, run.",
)
@click.option(
    "--order-by",
    default="",
    metavar="KEY",
    help=f"Sort by {', '.join(ORDER_KEYS)}; a leading '-' for descending "
    "(e.g. -duration). Default: -created (newest first).",
)
@click.option("--archived", "include_archived", is_flag=True, help="Archived jobs instead.")
@click.option("--max-results", type=int, default=50, show_default=True, help="At most this many.")
@global_options
@pass_state
def list_(
    state: State,
    experiment: str,
    status: str,
    search: str,
    type_: str,
    order_by: str,
    include_archived: bool,
    max_results: int,
) -> None:
    """The workspace's jobs, newest first or in --order-by (`--type pipeline`: its pipeline
    jobs). The studio checks --order-by: another key is an error naming `order_by`."""
    params = {
        "experiment": experiment,
        "status": status,
        "search": search,
        "type": type_,
        "order_by": order_by,
    }
    params = {k: v for k, v in params.items() if v}
    if include_archived:
        params["archived"] = "true"
    rows = []
    for row in state.client().pages(f"workspaces/{seg(state.workspace_name())}/jobs/", **params):
        rows.append(row)
        if len(rows) >= max_results:
            break
    state.emit(rows, default="table", columns=COLUMNS)


@click.command("show")
@_name_option
@global_options
@pass_state
def show(state: State, name: str) -> None:
    """One job in full: status, timeline, command, inputs, outputs, params, metrics."""
    state.emit(state.client().get(job_url(state, name)), default="yaml")


def stream_log(state: State, name: str) -> dict:
    """Print the job's log lines as they come, without gaps or repeats (following the
    server's cursor), until the job has ended and every line was printed. Returns the last
    answer (its status). A studio that stops answering for a while (a restart) is waited
    for, up to RECONNECT_SECONDS, from the same cursor: nothing is lost or printed twice."""
    client = state.client()
    url = f"{job_url(state, name)}logs/"
    cursor = 0
    lost_since: float | None = None
    while True:
        try:
            page = client.get(url, after=cursor)
        except (Unreachable, ApiError) as exc:
            if isinstance(exc, ApiError) and exc.status not in (502, 503, 504):
                raise
            now = time.monotonic()
            if lost_since is None:
                lost_since = now
                note(f"{exc.message}; trying again for up to {RECONNECT_SECONDS} s.")
            elif now - lost_since > RECONNECT_SECONDS:
                raise
            time.sleep(POLL_SECONDS)
            continue
        if lost_since is not None:
            note("The studio answers again: following the log from where it stopped.")
            lost_since = None
        for line in page["lines"]:
            click.echo(line["text"], err=line["stream"] == "stderr")
        cursor = page["cursor"]
        if page["done"]:
            return page
        if not page["lines"]:
            time.sleep(POLL_SECONDS)


@click.command("stream")
@_name_option
@global_options
@pass_state
def stream(state: State, name: str) -> None:
    """Follow the job's log until it ends (exit status 1 if it failed or was canceled)."""
    last = stream_log(state, name)
    note(f"Job '{name}' ended: {last['status']}.")
    if last["status"] in ENDED_BADLY:
        raise SystemExit(1)


def _save(client, url: str, params: dict, dest: Path) -> None:
    """Stream one file from the API to `dest` (the datastore download's streaming: a
    temporary file beside it, checked against Content-Length, then renamed)."""
    from .datastore import TRANSFER_TIMEOUT, _check, _send
    from .datastore import _save as save_stream

    dest.parent.mkdir(parents=True, exist_ok=True)
    full = client._full(url)
    response = _send(
        client.session.get, full, params=params, stream=True, timeout=TRANSFER_TIMEOUT,
        what="download",
    )  # fmt: skip
    with response:
        _check(response, where=full)
        save_stream(response, dest)


def _download_artifacts(state: State, name: str, root: Path) -> int:
    client = state.client()
    listing = client.request(
        "GET", f"{job_url(state, name)}files/", params={"path": "", "recursive": "true"}
    )
    count = 0
    for entry in listing["files"]:
        _save(
            client,
            f"{job_url(state, name)}files/content",
            {"path": entry["path"]},
            root / "artifacts" / entry["path"],
        )
        count += 1
    std_log = root / "artifacts" / "user_logs" / "std_log.txt"
    if not std_log.exists():
        _save(client, f"{job_url(state, name)}logs/download", {}, std_log)
        count += 1
    return count


def _datastore_path(uri: str) -> tuple[str, str] | None:
    prefix = "azureml://datastores/"
    if not uri.startswith(prefix) or "/paths/" not in uri:
        return None
    store, _, path = uri[len(prefix) :].partition("/paths/")
    return store, path.strip("/")


def _download_output(state: State, output: dict, root: Path) -> int:
    """A named output written to a datastore: every file below its path."""
    where = _datastore_path(output.get("path") or "")
    if where is None:
        note(f"Output '{output['name']}' has no datastore path yet; skipped.")
        return 0
    store, base = where
    client = state.client()
    ds = f"workspaces/{seg(state.workspace_name())}/datastores/{seg(store)}/files/"
    dest = root / "named-outputs" / output["name"]
    count, todo = 0, [base]
    while todo:
        folder = todo.pop()
        for entry in client.pages(f"{ds}?path={quote(folder)}"):  # `path` names pages' own argument
            if entry["is_dir"]:
                todo.append(entry["path"])
                continue
            rel = entry["path"][len(base) :].lstrip("/") if base else entry["path"]
            _save(client, f"{ds}content", {"path": entry["path"]}, dest / (rel or entry["name"]))
            count += 1
    return count


@click.command("download")
@_name_option
@click.option(
    "--download-path",
    type=click.Path(file_okay=False),
    default=".",
    help="Folder to write into (default: the current folder).",
)
@click.option("--output-name", help="Only this named output.")
@click.option("--all", "all_", is_flag=True, help="The artifacts and every named output.")
@global_options
@pass_state
def download(
    state: State, name: str, download_path: str, output_name: str | None, all_: bool
) -> None:
    """Download a job's files: artifacts/ (outputs, logs) and named-outputs/<name>/."""
    if output_name and all_:
        raise UsageFault("give --output-name or --all, not both")
    root = Path(download_path)
    job = state.client().get(job_url(state, name))
    count = 0
    if not output_name:
        count += _download_artifacts(state, name, root)
    if output_name or all_:
        outputs = [o for o in job.get("outputs", []) if all_ or o["name"] == output_name]
        if output_name and not outputs:
            raise UsageFault(f"job '{name}' has no output named '{output_name}'")
        for output in outputs:
            count += _download_output(state, output, root)
    note(f"Downloaded {count} file{'s' if count != 1 else ''} to {root}.")


@click.command("cancel")
@_name_option
@global_options
@pass_state
def cancel(state: State, name: str) -> None:
    """Cancel a job that has not ended."""
    answer = state.client().post(f"{job_url(state, name)}cancel/", {})
    state.emit(answer, default="yaml")


def _archive(verb: str) -> click.Command:
    @click.command(
        verb,
        help="Hide the job from lists (it keeps everything)."
        if verb == "archive"
        else "Bring back an archived job.",
    )
    @_name_option
    @global_options
    @pass_state
    def command(state: State, name: str) -> None:
        state.client().post(f"{job_url(state, name)}{verb}/", {})
        note(f"{verb.capitalize()}d job '{name}'.")

    return command


COMMANDS: list = [list_, show, stream, download, cancel, _archive("archive"), _archive("restore")]
