"""Zip a code folder the way Azure ML snapshots it: files only, `.amlignore` (else
`.gitignore`) honoured with git's wildcard rules, links left out, and the zip made
deterministic (sorted, fixed times) so the same files give the same bytes.

Shared by the CLI (which zips before uploading) and the server (curated and built-in code).
No Django here.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import IO

import pathspec

ALWAYS_IGNORED = (".git/", "__pycache__/", ".amlignore", ".ipynb_checkpoints/")
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def ignore_spec(folder: Path) -> pathspec.GitIgnoreSpec:
    lines = list(ALWAYS_IGNORED)
    for name in (".amlignore", ".gitignore"):
        candidate = folder / name
        if candidate.is_file():
            lines += candidate.read_text(encoding="utf-8", errors="replace").splitlines()
            break
    return pathspec.GitIgnoreSpec.from_lines(lines)


def iter_files(folder: Path) -> list[str]:
    """Relative POSIX paths of the files to snapshot, sorted."""
    folder = Path(folder)
    spec = ignore_spec(folder)
    out = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        rel_root = Path(root).relative_to(folder).as_posix()
        rel_root = "" if rel_root == "." else rel_root + "/"
        dirs[:] = sorted(
            d
            for d in dirs
            if not (Path(root) / d).is_symlink() and not spec.match_file(rel_root + d + "/")
        )
        for f in files:
            path = Path(root) / f
            rel = rel_root + f
            if path.is_symlink() or not path.is_file() or spec.match_file(rel):
                continue
            out.append(rel)
    return sorted(out)


def zip_folder(folder: Path, out: IO[bytes], *, max_bytes: int | None = None) -> int:
    """Write the folder's snapshot zip to `out`; return the total size of the files.
    ValueError when the files exceed `max_bytes`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"'{folder}' is not a folder")
    total = 0
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for rel in iter_files(folder):
            path = folder / rel
            total += path.stat().st_size
            if max_bytes is not None and total > max_bytes:
                raise ValueError(
                    f"the code folder is larger than {max_bytes // 2**20} MiB "
                    "(leave files out with .amlignore or .gitignore)"
                )
            info = zipfile.ZipInfo(rel, date_time=_FIXED_TIME)
            executable = os.access(path, os.X_OK)
            info.external_attr = ((0o100755 if executable else 0o100644) & 0xFFFF) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as src, zf.open(info, "w") as dst:
                while chunk := src.read(2**20):
                    dst.write(chunk)
    return total
