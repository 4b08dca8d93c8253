"""A small HTTP client of the studio's REST API (/api/v1/): bearer-token auth, one error
shape, and cursor-paginated lists followed to the end. No Django here: the CLI talks to the
studio only through its API."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import requests

from .errors import ApiError, CliError, Unreachable, UsageFault

API_PREFIX = "/api/v1"
TIMEOUT = (10, 120)  # seconds to connect, to read
USER_AGENT = "studio-cli/0.1"


def normalize_url(url: str) -> str:
    """The studio's base URL without a trailing slash or /api/v1 (users paste either)."""
    url = (url or "").strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageFault(f"the studio URL must look like http://host:port, not {url!r}")
    if url.endswith(API_PREFIX):
        url = url[: -len(API_PREFIX)]
    return url


def _reason(exc: Exception) -> str:
    """The useful end of requests' long connection errors ('Connection refused')."""
    if isinstance(exc, requests.Timeout):
        return "timed out"
    text = str(exc)
    found = re.findall(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if found:
        return found[-1].strip()
    found = re.findall(r"(Failed to resolve '[^']+')", text)
    if found:
        return found[-1]
    return text.splitlines()[0][:200] if text else type(exc).__name__


class Client:
    """Calls to one studio as one user. Paths are relative to /api/v1/ ("workspaces/")."""

    def __init__(self, url: str, token: str | None, *, page_size: int | None = 200):
        self.url = normalize_url(url)
        self.page_size = page_size
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/json"
        self.session.headers["User-Agent"] = USER_AGENT
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def _full(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.url}{API_PREFIX}/{path.lstrip('/')}"

    def request(
        self, method: str, path: str, *, json: Any = None, params: dict | None = None
    ) -> Any:
        """The decoded JSON answer (None for 204), or ApiError/CliError."""
        url = self._full(path)
        try:
            response = self.session.request(method, url, json=json, params=params, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise Unreachable(f"cannot reach the studio at {self.url}: {_reason(exc)}") from None
        if response.status_code == 204 or (response.ok and not response.content):
            return None
        body = self._decode(response)
        if response.ok:
            return body
        if isinstance(body, dict) and "message" in body:
            raise ApiError(
                response.status_code,
                str(body.get("code") or ""),
                str(body.get("message") or ""),
                body.get("fields") if isinstance(body.get("fields"), dict) else {},
            )
        raise ApiError(response.status_code, "error", f"HTTP {response.status_code} from {url}")

    def _decode(self, response: requests.Response) -> Any:
        kind = response.headers.get("Content-Type", "").split(";")[0].strip()
        if kind == "application/json" or kind.endswith("+json"):
            try:
                return response.json()
            except ValueError:
                pass
        raise CliError(
            f"unexpected answer from {response.url} (HTTP {response.status_code}, "
            f"{kind or 'no content type'}): is {self.url} a studio?"
        )

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, json=body)

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, json=body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def pages(self, path: str, **params: Any) -> Iterator[dict]:
        """Every item of a cursor-paginated list, following `next` to the last page."""
        if self.page_size:
            params.setdefault("page_size", self.page_size)
        page = self.get(path, **params)
        seen: set[str] = set()
        while True:
            if not isinstance(page, dict) or "results" not in page:
                raise CliError(f"unexpected answer from {self._full(path)}: not a list page")
            yield from page["results"]
            nxt = page.get("next")
            if not nxt or nxt in seen:
                return
            seen.add(nxt)
            page = self.get(nxt)

    def list(self, path: str, **params: Any) -> list[dict]:
        return list(self.pages(path, **params))
