"""The errors the CLI reports: each becomes one `error: ...` line on stderr and an exit code
(2 for usage and validation, 1 for the rest), never a traceback."""

from __future__ import annotations

from collections.abc import Callable

USAGE = 2
FAILURE = 1


class CliError(Exception):
    """A failure to report as one line. `exit_code` is 1 unless the user's input is at fault."""

    exit_code = FAILURE

    def __init__(self, message: str, *, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code


class UsageFault(CliError):
    """The command line or the input file is wrong: exit 2."""

    exit_code = USAGE


class Unreachable(CliError):
    """No answer from the studio at all (refused, timed out, name unknown)."""


class ApiError(CliError):
    """The studio answered with an error body `{"code", "message", "fields"}`."""

    def __init__(self, status: int, code: str, message: str, fields: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.fields: dict[str, list[str]] = fields or {}
        # 400 and 422 are about what was sent (validation); the rest (401, 403, 404, 409, 5xx)
        # are not the command line's fault.
        self.exit_code = USAGE if status in (400, 422) else FAILURE

    def describe(self, locate: Callable[[str], str | None] | None = None) -> str:
        """The studio's message, plus the field paths it named when the message does not
        already say them. With `locate`, each field path is prefixed with where it came from
        in the input (`ws.yml:4: tags.team: ...`) when that is known."""
        message = self.message or self.code or f"HTTP {self.status}"
        located = {p: locate(p) for p in self.fields} if locate else {}
        if located and any(located.values()) and self.code == "invalid":
            message = "; ".join(self._field_text(p, located.get(p)) for p in self.fields)
        else:
            extra = [
                self._field_text(p, located.get(p))
                for p in self.fields
                if located.get(p) or f"{p}:" not in message
            ]
            if extra:
                message = f"{message} ({'; '.join(extra)})"
        if self.status == 403:
            message = f"not allowed: {message}"
        elif self.status == 401:
            message = f"{message} Run 'studio login --url URL --token TOKEN' with a valid token."
        return message

    def _field_text(self, path: str, where: str | None) -> str:
        text = f"{path}: {' '.join(str(m) for m in self.fields[path])}"
        return f"{where}: {text}" if where else text

    def located(self, locate: Callable[[str], str | None]) -> CliError:
        """The same error, its fields placed in the input (a YAML line, a --set)."""
        return CliError(self.describe(locate), exit_code=self.exit_code)

    def __str__(self) -> str:
        return self.describe()
