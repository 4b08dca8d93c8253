"""Where the CLI keeps its login: `~/.studio/config.json` (or the file named by
$STUDIO_CONFIG), readable by its owner only, since it holds a personal API token.

Settings are resolved as: command-line option, then environment ($STUDIO_URL, $STUDIO_TOKEN,
$STUDIO_WORKSPACE), then this file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .errors import CliError

KEYS = ("url", "token", "workspace")
ENV = {"url": "STUDIO_URL", "token": "STUDIO_TOKEN", "workspace": "STUDIO_WORKSPACE"}


def config_path() -> Path:
    named = os.environ.get("STUDIO_CONFIG")
    if named:
        return Path(named).expanduser()
    # expanduser() reads $HOME first, so HOME=/somewhere moves the file as expected.
    return Path(os.path.expanduser("~")) / ".studio" / "config.json"


def load() -> dict[str, Any]:
    """The saved settings, or {} when there is no file yet."""
    path = config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise CliError(
            f"{path}:{exc.lineno}: not valid JSON ({exc.msg}); fix it or delete it and log in again"
        ) from None
    if not isinstance(data, dict):
        raise CliError(f"{path}: expected a JSON object; delete it and log in again")
    return data


def save(data: dict[str, Any]) -> Path:
    """Write the settings with mode 0600, replacing the file in one step so a crash never
    leaves half a token behind (and a file once made too readable is fixed on the way)."""
    path = config_path()
    clean = {k: v for k, v in data.items() if v not in (None, "")}
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(clean, fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def resolve(key: str, option: str | None = None, saved: dict[str, Any] | None = None) -> str | None:
    """One setting: the command-line option, else the environment, else the saved file."""
    if option:
        return option
    env = os.environ.get(ENV[key])
    if env:
        return env
    saved = load() if saved is None else saved
    value = saved.get(key)
    return str(value) if value else None
