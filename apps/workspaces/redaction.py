"""Redaction of secret values from text that the studio stores or shows (job logs above all).

A job gets the secrets its spec asks for as environment variables; whatever it prints goes
to stored log lines. The runner builds one `Redactor` per job from the values it passed and
calls `redact()` on every line before storing it (issue "Jobs"), as GitHub Actions masks
secrets in its logs. That is a hot path: many short lines, almost none containing a secret.
So the regex is compiled once, a line without any match costs one `search()`, and only a
line that does match pays for finding overlapping matches.

No Django imports: the runner may use this anywhere.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"
# Shorter values are not redacted: masking "1", "yes" or "true" everywhere would wreck logs
# and protect nothing (a short value is no secret).
MIN_LENGTH = 4
# Each line of a multi-line value (a PEM key) is masked on its own when it is at least this
# long, because a job printing the value prints it line by line and logs are stored a line
# at a time.
MIN_LINE_LENGTH = 8


def _forms(value: str) -> set[str]:
    """The value and the encodings in which it commonly shows up in output."""
    raw = value.encode()
    forms = {
        value,
        quote(value, safe=""),  # in a URL's user:password part or a query parameter
        quote(value),  # in a path
        quote_plus(value),  # in a form-encoded body
        json.dumps(value)[1:-1],  # inside a JSON string (quotes and backslashes escaped)
        base64.b64encode(raw).decode(),  # HTTP basic auth, Kubernetes-style secrets
        base64.urlsafe_b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }
    if "\n" in value:
        forms.update(
            line.strip() for line in value.splitlines() if len(line.strip()) >= MIN_LINE_LENGTH
        )
    return {form for form in forms if len(form) >= MIN_LENGTH}


class Redactor:
    """Masks every occurrence of any of the given values (and their common encodings) with
    `***`. Values shorter than MIN_LENGTH are ignored.

        redactor = Redactor(["hunter2-long", "s3cr3t"])
        redactor.redact("password=hunter2-long")  # 'password=***'
    """

    __slots__ = ("_any", "_at")

    def __init__(self, values: Iterable[str]):
        forms: set[str] = set()
        for value in values:
            if isinstance(value, str) and len(value) >= MIN_LENGTH:
                forms |= _forms(value)
        if not forms:
            self._any = self._at = None
            return
        # Longest first: where two forms start at the same place, the longer one wins.
        alternation = "|".join(re.escape(f) for f in sorted(forms, key=lambda f: (-len(f), f)))
        self._any = re.compile(alternation)
        # A lookahead matches at every position, so overlapping occurrences are all found.
        self._at = re.compile(f"(?=({alternation}))")

    def __bool__(self) -> bool:
        return self._any is not None

    def redact(self, text: str) -> str:
        """`text` with every occurrence masked. Overlapping or adjacent occurrences become
        one `***`, so no part of any value survives next to the mask."""
        if self._any is None or not self._any.search(text):
            return text  # the common case: one search, no allocation
        spans: list[list[int]] = []
        for match in self._at.finditer(text):
            start, end = match.start(), match.start() + len(match.group(1))
            if spans and start <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], end)
            else:
                spans.append([start, end])
        out, cursor = [], 0
        for start, end in spans:
            out.append(text[cursor:start])
            out.append(MASK)
            cursor = end
        out.append(text[cursor:])
        return "".join(out)
