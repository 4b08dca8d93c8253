"""Uploading a `code` folder as a snapshot (used by `studio job create` and `studio component
create`): zipped with studio/codezip.py (`.amlignore`, else `.gitignore`, honoured; links
left out), written to a temporary file, then streamed to POST workspaces/<ws>/code/.

    snapshot = upload_code(state, Path("./src"))   # {"id", "content_hash", "file_count", ...}
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from .common import seg
from .errors import ApiError, UsageFault

if TYPE_CHECKING:
    from .common import State

UPLOAD_TIMEOUT = (10, 600)  # seconds to connect, and between two chunks
DEFAULT_MAX_MIB = 100  # the studio's default limit (STUDIO_CODE_MAX_BYTES)


def max_bytes() -> int:
    """The size limit checked before uploading: $STUDIO_CODE_MAX_MB, else 100 MiB. The
    studio checks its own limit again."""
    text = os.environ.get("STUDIO_CODE_MAX_MB", "").strip()
    if text:
        if not text.isdigit():
            raise UsageFault(f"STUDIO_CODE_MAX_MB must be a whole number of MiB, not {text!r}")
        return int(text) * 2**20
    return DEFAULT_MAX_MIB * 2**20


def zip_code(folder: Path, out, *, label: str = "code") -> int:
    """Zip the folder into `out`; UsageFault naming the folder when it cannot be."""
    from studio.codezip import zip_folder

    folder = Path(folder)
    if not folder.exists():
        raise UsageFault(f"{label}: the folder '{folder}' does not exist")
    if not folder.is_dir():
        raise UsageFault(f"{label}: '{folder}' is not a folder")
    try:
        return zip_folder(folder, out, max_bytes=max_bytes())
    except ValueError as exc:
        raise UsageFault(f"{label}: {folder}: {exc}") from None
    except OSError as exc:
        raise UsageFault(f"{label}: cannot read {exc.filename or folder}: {exc.strerror}") from None


def upload_zip(state: State, handle, size: int) -> dict:
    """POST an open zip file (seeked to 0) as a code snapshot; the snapshot's JSON."""
    from .client import API_PREFIX
    from .datastore import _check, _FileBody, _send

    client = state.client()
    url = f"{client.url}{API_PREFIX}/workspaces/{seg(state.workspace_name())}/code/"
    response = _send(
        client.session.post,
        url,
        data=_FileBody(handle, size),
        headers={"Content-Type": "application/zip"},
        timeout=UPLOAD_TIMEOUT,
        what="code upload",
    )
    _check(response, where=url)
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    raise ApiError(response.status_code, "error", f"HTTP {response.status_code} from {url}")


def upload_code(state: State, folder: Path, *, label: str = "code") -> dict:
    """Zip a local code folder and upload it; the snapshot (`id`, `content_hash`,
    `file_count`, `size_bytes`). `label` names the field in errors (`code`)."""
    with tempfile.TemporaryFile(prefix="studio-code-") as handle:
        zip_code(folder, handle, label=label)
        size = handle.seek(0, os.SEEK_END)
        handle.seek(0)
        return upload_zip(state, handle, size)
