"""`studio workspace secret set|list|show|delete|audit`: the workspace vault (Azure's Key
Vault, as `az keyvault secret`).

Values go to the studio and never come back: no command prints one, and the studio never
returns one. `set` reads the value from --value-file, or from stdin (a hidden prompt on a
terminal) when neither --value nor --value-file is given, so it stays out of shell history
and the process list.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .common import State, confirm_or_refuse, global_options, note, pass_state, seg
from .errors import UsageFault

SECRET_COLUMNS = [
    ("Name", "name"),
    ("Description", "description"),
    ("Updated", "updated_at"),
    ("Updated by", "updated_by"),
]
AUDIT_COLUMNS = [
    ("When", "created_at"),
    ("Who", "actor"),
    ("What", "kind"),
    ("Secret", "secret"),
    ("Purpose", "purpose"),
]


def _secrets(state: State) -> str:
    return f"workspaces/{seg(state.workspace_name())}/secrets/"


def _chomp(text: str) -> str:
    """Drop the one newline that `echo` and editors put at the end of a file."""
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text


def _read_value(value: str | None, value_file: str | None, name: str) -> str:
    if value is not None and value_file is not None:
        raise UsageFault("give the value once: --value or --value-file, not both")
    if value is not None:
        read, source = value, "--value"
    elif value_file is not None:
        path = Path(value_file)
        try:
            read = _chomp(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageFault(f"--value-file {value_file}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "not UTF-8 text"
            raise UsageFault(f"--value-file {value_file}: cannot read it: {reason}") from None
        source = f"--value-file {value_file}"
    elif sys.stdin is not None and sys.stdin.isatty():
        read = click.prompt(f"Value of secret '{name}'", hide_input=True, err=True)
        source = "the prompt"
    else:
        read = _chomp(sys.stdin.read() if sys.stdin is not None else "")
        source = "stdin"
    if read == "":
        raise UsageFault(f"value: {source} gave an empty value; a secret needs one")
    return read


@click.group("secret")
def secret() -> None:
    """The workspace's secrets (its vault), for jobs and deployments that ask by name.

    \b
    A job's YAML asks for secrets as environment variables:
      secrets:
        DB_PASSWORD: db-password
    Values are write-only: no command, page or API answer shows one.
    """


@secret.command("set")
@click.option("-n", "--name", required=True, help="Secret name: letters, digits, '-' or '_'.")
@click.option(
    "--value",
    metavar="VALUE",
    help="The value. Prefer --value-file or stdin: a command line is seen by other processes.",
)
@click.option(
    "--value-file",
    metavar="FILE",
    help="Read the value from FILE (one trailing newline is dropped).",
)
@click.option("--description", help="What the secret is for (kept when left out).")
@global_options
@pass_state
def set_(
    state: State, name: str, value: str | None, value_file: str | None, description: str | None
) -> None:
    """Create a secret or replace its value. Without --value or --value-file the value is
    read from stdin (one trailing newline dropped), or asked for on a terminal.

    \b
      studio workspace secret set -w churn --name db-password --value-file pw.txt
      printf %s "$DB_PASSWORD" | studio workspace secret set -w churn --name db-password
    """
    body = {"name": name, "value": _read_value(value, value_file, name)}
    if description is not None:
        body["description"] = description
    saved = state.client().post(_secrets(state), body)
    state.emit(saved, default="yaml", columns=SECRET_COLUMNS)


@secret.command("list")
@global_options
@pass_state
def list_(state: State) -> None:
    """The workspace's secrets: names and who changed them when (never values)."""
    state.emit(state.client().list(_secrets(state)), default="table", columns=SECRET_COLUMNS)


@secret.command("show")
@click.option("-n", "--name", required=True, help="Secret name.")
@global_options
@pass_state
def show(state: State, name: str) -> None:
    """One secret's metadata (never its value)."""
    found = state.client().get(f"{_secrets(state)}{seg(name)}/")
    state.emit(found, default="yaml", columns=SECRET_COLUMNS)


@secret.command("delete")
@click.option("-n", "--name", required=True, help="Secret name.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@global_options
@pass_state
def delete(state: State, name: str, yes: bool) -> None:
    """Delete a secret. Jobs that ask for it are refused from then on."""
    ws = state.workspace_name()
    client = state.client()
    path = f"{_secrets(state)}{seg(name)}/"
    if not yes:
        client.get(path)  # a typo should say "not found" before asking
        if not confirm_or_refuse(
            f"Delete secret '{name}' of workspace '{ws}'?",
            refusal=f"not deleting secret '{name}' without confirmation: "
            "there is no terminal to ask on; pass --yes",
        ):
            note("Not deleted.")
            raise click.exceptions.Exit(1)
    client.delete(path)
    note(f"Deleted secret '{name}' of workspace '{ws}'.")


@secret.command("audit")
@click.option("-n", "--name", help="Only this secret's entries.")
@global_options
@pass_state
def audit(state: State, name: str | None) -> None:
    """The vault's audit trail, newest first: who set or deleted a secret, and which job
    or deployment read which value."""
    path = f"workspaces/{seg(state.workspace_name())}/secret-audit/"
    params = {"secret": name} if name else {}
    state.emit(state.client().list(path, **params), default="table", columns=AUDIT_COLUMNS)
