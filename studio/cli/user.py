"""`studio user create|list|show|update|reset-password|audit`: the studio's accounts, for staff
(as `az ad user`; anyone else is told the command's target does not exist, as the API
answers 404).

A password is never taken on the command line, where other processes see it: `create`
reads it from stdin with --password-stdin (as `docker login`), or else generates one. A
generated password is printed once, in the command's output, and cannot be shown again.
"""

from __future__ import annotations

import sys

import click

from .common import State, global_options, note, pass_state, seg
from .errors import UsageFault

USER_COLUMNS = [
    ("User", "username"),
    ("Full name", "full_name"),
    ("Email", "email"),
    ("Active", "is_active"),
    ("Staff", "is_staff"),
    ("Last login", "last_login"),
    ("Joined", "date_joined"),
    ("Workspaces", "workspace_count"),
]
AUDIT_COLUMNS = [
    ("When", "created_at"),
    ("Who", "actor"),
    ("What", "action"),
    ("Fields", "fields"),
]
PASSWORD_COLUMNS = [("User", "username"), ("Password", "password")]
UPDATABLE = ("is_active", "is_staff", "email", "full_name")
BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def _read_password_stdin() -> str:
    text = sys.stdin.read() if sys.stdin is not None else ""
    password = text.removesuffix("\n").removesuffix("\r")
    if password == "":
        raise UsageFault("password: --password-stdin read an empty password")
    return password


def _emit_with_password(state: State, result: dict) -> None:
    """The account, with the password it was given when the studio generated one: in a
    table only the name and the password, which matter now."""
    columns = PASSWORD_COLUMNS if result.get("password") else USER_COLUMNS
    if not result.get("password"):
        result = {k: v for k, v in result.items() if k != "password"}
    state.emit(result, default="yaml", columns=columns)
    if not result.get("password"):
        return
    if (state.output or "").lower() == "none":
        note("-o none hid the generated password; run `studio user reset-password` for a new one.")
    else:
        note("The password is shown this once; pass it on now.")


@click.group()
def user() -> None:
    """User accounts (staff only): create, list, show, update, reset-password, audit.

    \b
      studio user create --name dana --email dana@example.com --full-name "Dana Scott"
      printf %s "$PW" | studio user create --name omar --password-stdin
      studio user update --name dana --set is_active=false
      studio user reset-password --name dana
      studio user audit --name dana
    """


@user.command("create")
@click.option("-n", "--name", required=True, help="User name (used to sign in).")
@click.option("--email", default="", help="Email address.")
@click.option("--full-name", default="", help="Full name, as shown in the studio.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from stdin (one trailing newline dropped).",
)
@click.option(
    "--generate-password",
    is_flag=True,
    help="Generate a password and print it once (the default without --password-stdin).",
)
@click.option("--staff", is_flag=True, help="Make the user staff (they manage accounts too).")
@global_options
@pass_state
def create(
    state: State,
    name: str,
    email: str,
    full_name: str,
    password_stdin: bool,
    generate_password: bool,
    staff: bool,
) -> None:
    """Create an account. Without --password-stdin a password is generated and printed once."""
    if password_stdin and generate_password:
        raise UsageFault("give --password-stdin or --generate-password, not both")
    body: dict = {"username": name, "email": email, "full_name": full_name, "is_staff": staff}
    if password_stdin:
        body["password"] = _read_password_stdin()
    else:
        body["generate_password"] = True
    _emit_with_password(state, state.client().post("users/", body))


@user.command("list")
@click.option("--search", default="", help="Only users whose name, full name or email has this.")
@global_options
@pass_state
def list_(state: State, search: str) -> None:
    """Every account, by user name."""
    params = {"search": search} if search else {}
    state.emit(state.client().list("users/", **params), default="table", columns=USER_COLUMNS)


@user.command("show")
@click.option("-n", "--name", required=True, help="User name.")
@global_options
@pass_state
def show(state: State, name: str) -> None:
    """One account."""
    found = state.client().get(f"users/{seg(name)}/")
    state.emit(found, default="yaml", columns=USER_COLUMNS)


def _parse_sets(sets: tuple[str, ...]) -> dict:
    changes: dict = {}
    for item in sets:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in UPDATABLE:
            raise UsageFault(f"--set {item}: expected one of {', '.join(UPDATABLE)}=VALUE")
        if key in ("is_active", "is_staff"):
            if value.strip().lower() not in BOOLEANS:
                raise UsageFault(f"--set {item}: {key} must be true or false")
            changes[key] = BOOLEANS[value.strip().lower()]
        else:
            changes[key] = value
    return changes


@user.command("update")
@click.option("-n", "--name", required=True, help="User name.")
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="FIELD=VALUE",
    help="is_active, is_staff (true/false), email or full_name; repeat for more.",
)
@global_options
@pass_state
def update(state: State, name: str, sets: tuple[str, ...]) -> None:
    """Deactivate or reactivate, make or unmake staff, change email or full name. You
    cannot deactivate yourself or remove your own staff flag.

    \b
      studio user update --name dana --set is_active=false
      studio user update --name omar --set is_staff=true --set "full_name=Omar Haddad"
    """
    if not sets:
        raise UsageFault("nothing to update: give --set FIELD=VALUE")
    changed = state.client().patch(f"users/{seg(name)}/", _parse_sets(sets))
    state.emit(changed, default="yaml", columns=USER_COLUMNS)


@user.command("reset-password")
@click.option("-n", "--name", required=True, help="User name.")
@global_options
@pass_state
def reset_password(state: State, name: str) -> None:
    """Give the account a new generated password, printed once; the old one stops working."""
    _emit_with_password(state, state.client().post(f"users/{seg(name)}/reset-password/", None))


@user.command("audit")
@click.option("-n", "--name", required=True, help="User name.")
@global_options
@pass_state
def audit(state: State, name: str) -> None:
    """The account's history, newest first: who created, deactivated, reactivated, made or
    unmade staff, reset the password of, or changed it (which fields; never a value)."""
    entries = state.client().list(f"users/{seg(name)}/audit/")
    state.emit(entries, default="table", columns=AUDIT_COLUMNS)
