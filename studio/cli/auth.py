"""`studio login`, `studio logout` and `studio configure`: the saved connection settings."""

from __future__ import annotations

import click

from . import config
from .common import State, global_options, note, pass_state
from .errors import ApiError, CliError, UsageFault

DEFAULT_KEYS = ("workspace",)


@click.command()
@global_options
@pass_state
def login(state: State) -> None:
    """Check an API token against a studio and save both for the next commands.

    \b
    Make a token on the studio's Tokens page (or `manage.py create_api_token USER`), then:
      studio login --url http://127.0.0.1:8000 --token stu_...
    The token is kept in ~/.studio/config.json (or $STUDIO_CONFIG), readable only by you.
    Without --token it is read from the terminal. -w NAME also saves a default workspace.
    """
    from .client import Client, normalize_url

    saved = config.load()
    url = config.resolve("url", state.url, saved)
    if not url:
        raise UsageFault("give the studio's address: studio login --url URL --token TOKEN")
    url = normalize_url(url)
    token = config.resolve("token", state.token, {})
    if not token:
        try:
            token = click.prompt("Token", hide_input=True, err=True).strip()
        except (click.Abort, EOFError, OSError, RuntimeError) as exc:
            raise UsageFault(
                "give the token with --token TOKEN (there is no terminal to ask)"
            ) from exc
    try:
        me = Client(url, token).get("me/")
    except ApiError as exc:
        if exc.status in (401, 403):
            raise CliError(f"the studio at {url} refused the token: {exc.message}") from None
        raise
    if not isinstance(me, dict) or "username" not in me:
        raise CliError(f"unexpected answer from {url}/api/v1/me/: is this a studio?")
    new = {"url": url, "token": token}
    if saved.get("url") == url and saved.get("workspace"):
        new["workspace"] = saved["workspace"]  # a default from another studio would mislead
    if state.workspace:
        new["workspace"] = state.workspace
    path = config.save(new)
    if state.output and state.output != "table":
        state.emit(me, default="yaml")
    else:
        click.echo(f"Logged in to {url} as {me['username']} (saved in {path}).")


@click.command()
@global_options
@pass_state
def logout(state: State) -> None:
    """Forget the saved token. The token itself stays valid until you revoke it in the studio."""
    saved = config.load()
    if not saved.get("token"):
        note("Not logged in.")
        return
    saved.pop("token", None)
    path = config.save(saved)
    click.echo(f"Logged out of {saved.get('url', 'the studio')} (token removed from {path}).")


@click.command()
@click.option(
    "--defaults",
    "defaults",
    multiple=True,
    metavar="KEY=VALUE",
    help="Save a default, as `az configure --defaults`: workspace=NAME (empty value clears).",
)
@click.option("--list-defaults", is_flag=True, help="Show the saved defaults.")
@global_options
@pass_state
def configure(state: State, defaults: tuple[str, ...], list_defaults: bool) -> None:
    """Save defaults for later commands (today: the workspace)."""
    saved = config.load()
    changes = dict(_parse_default(item) for item in defaults)
    if state.workspace:
        changes.setdefault("workspace", state.workspace)
    if changes:
        for key, value in changes.items():
            if value:
                saved[key] = value
            else:
                saved.pop(key, None)
        config.save(saved)
    elif not list_defaults:
        raise UsageFault("nothing to do: give --defaults workspace=NAME or --list-defaults")
    shown = {key: saved[key] for key in DEFAULT_KEYS if saved.get(key)}
    if saved.get("url"):
        shown = {"url": saved["url"], **shown}
    state.emit(shown, default="yaml")


def _parse_default(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    key = key.strip()
    if not sep or key not in DEFAULT_KEYS:
        raise UsageFault(f"--defaults {item}: expected one of {', '.join(DEFAULT_KEYS)}=VALUE")
    return key, value.strip()
