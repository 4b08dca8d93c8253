"""Helpers shared by the Designer's built-in components (copied into each component's code
snapshot through `additional_includes`). The standard library, pandas and numpy, and pyarrow
for Parquet: it runs in the curated sklearn image (pandas 2.2, pyarrow) and on a developer's
machine alike.

A dataset passed between steps is a folder (`uri_folder`) holding `data.csv` and an
`MLTable` file that points at it, so any step's output can also be registered as an mltable
data asset. A step reads any folder or file: a folder's `data.csv` first, else the first CSV,
TSV or Parquet file found (an MLTable file is skipped); when that is Parquet, every Parquet
file in the folder is one table (the part files of a Spark or pyarrow dataset, read in name
order, Hive partition folders such as `year=2024/` as columns). A path that is a file (a `uri_file` data asset such as `churn.csv` or
`events.parquet`) is that one table. `designer.json` beside the data carries what the next
step needs to know (the label column, the task, the score columns).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import unquote

import pandas as pd

DATA_FILE = "data.csv"
META_FILE = "designer.json"
MLTABLE = """\
# Written by a Designer built-in component: this folder is also an mltable.
paths:
  - file: ./data.csv
transformations:
  - read_delimited:
      delimiter: ','
      encoding: utf8
      header: all_files_same_headers
"""
PARQUET = (".parquet", ".pq")
TABULAR = (".csv", ".tsv", ".txt", *PARQUET)
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"  # Spark's and Hive's folder name for a null value
INTEGER = re.compile(r"-?\d{1,18}")
TEXT = pd.Series(["text"]).dtype  # what this pandas reads text as (object, or str in 3.x)


def str2bool(text: str | bool) -> bool:
    """argparse type for booleans as the studio renders them ('True'/'False')."""
    if isinstance(text, bool):
        return text
    value = str(text).strip().lower()
    if value in ("true", "1", "yes", "y"):
        return True
    if value in ("false", "0", "no", "n", ""):
        return False
    raise ValueError(f"not a boolean: {text!r}")


def columns_of(text: str | None) -> list[str]:
    """A column list given as text: names separated by commas (or new lines)."""
    if not text:
        return []
    parts = str(text).replace("\n", ",").split(",")
    return [p.strip() for p in parts if p.strip()]


def _tables_in(folder: Path) -> list[Path]:
    """The tabular files under a folder, in name order (hidden and `_`-prefixed files, such
    as Spark's `_SUCCESS`, are not data)."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in TABULAR and not p.name.startswith((".", "_"))
    )


def data_file(path: str | os.PathLike) -> Path:
    """The tabular file of an input: the path itself, or the best file inside the folder."""
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() not in TABULAR:
            raise SystemExit(
                f"input '{path}' is not a CSV, TSV or Parquet file "
                f"(a dataset input reads one of {', '.join(TABULAR)})"
            )
        return path
    if not path.is_dir():
        raise SystemExit(f"input '{path}' does not exist")
    if (path / DATA_FILE).is_file():
        return path / DATA_FILE
    found = _tables_in(path)
    if not found:
        raise SystemExit(f"input folder '{path}' holds no CSV, TSV or Parquet file")
    return found[0]


def _partition_values(part: Path, base: Path) -> dict[str, str | None]:
    """The Hive-style `key=value` folders between `base` and a part file, in path order."""
    values: dict[str, str | None] = {}
    for segment in part.relative_to(base).parts[:-1]:
        key, sep, value = segment.partition("=")
        if sep and key:
            values[unquote(key)] = None if value == HIVE_NULL else unquote(value)
    return values


def _with_partitions(frames: list[pd.DataFrame], files: list[Path], base: Path) -> None:
    """Add each partition key as a column (integers when every value is one, else text;
    a part outside a key's folders has no value), unless the data has that column itself."""
    found = [_partition_values(f, base) for f in files]
    keys = list(dict.fromkeys(k for values in found for k in values))
    for key in keys:
        if any(key in frame.columns for frame in frames):
            continue
        column = [values.get(key) for values in found]
        numeric = all(v is None or INTEGER.fullmatch(v) for v in column)
        for frame, value in zip(frames, column, strict=True):
            if numeric:
                cells = pd.array([None if value is None else int(value)] * len(frame), "Int64")
            else:
                cells = pd.Series([value] * len(frame), index=frame.index, dtype=TEXT)
            frame[key] = cells


def _read_parquet(files: list[Path], base: Path | None = None) -> pd.DataFrame:
    """Parquet files as one DataFrame, read by pyarrow from their paths on one thread.

    Not `pd.read_parquet`: pandas hands pyarrow an open Python file, and pyarrow's thread
    pools may still hold it when the interpreter exits; the step then aborts after its work
    is done ("terminate called without an active exception", exit code 134; apache/arrow
    issues 33975, 34314 and 50482). A path and `use_threads=False` leave nothing behind.
    With `base` (the input folder), Hive-style partition folders (`year=2024/`) between it
    and a file become columns, as Spark and pyarrow read them.
    """
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise SystemExit(
            f"input '{files[0]}' is Parquet, which this environment cannot read (no pyarrow): "
            "run the component in the curated sklearn environment, or give the data as CSV"
        ) from None
    frames = []
    for f in files:
        try:
            table = pq.read_table(str(f), use_threads=False, pre_buffer=False)
        except Exception as exc:  # pyarrow.ArrowInvalid and friends: name the file
            raise SystemExit(f"input '{f}' does not read as Parquet: {exc}") from None
        frames.append(table.to_pandas(use_threads=False))
    if base is not None:
        _with_partitions(frames, files, base)
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=True)


def read_dataset(path: str | os.PathLike) -> pd.DataFrame:
    """The input as a DataFrame: a CSV or TSV file, a Parquet file, or a folder holding one
    (a folder whose table is Parquet is all of its Parquet files, concatenated, with Hive
    partition folders such as `year=2024/` as columns)."""
    file = data_file(path)
    suffix = file.suffix.lower()
    if suffix in PARQUET:
        if not Path(path).is_dir():
            return _read_parquet([file])
        parts = [p for p in _tables_in(Path(path)) if p.suffix.lower() in PARQUET]
        return _read_parquet(parts, base=Path(path))
    if suffix == ".tsv":
        return pd.read_csv(file, sep="\t")
    return pd.read_csv(file)


def read_meta(path: str | os.PathLike) -> dict:
    """designer.json of an input folder (empty when there is none)."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    meta = folder / META_FILE
    if meta.is_file():
        return json.loads(meta.read_text(encoding="utf-8"))
    return {}


def write_dataset(df: pd.DataFrame, folder: str | os.PathLike, meta: dict | None = None) -> Path:
    """Write the DataFrame as data.csv (with an MLTable file) into the output folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / DATA_FILE
    df.to_csv(target, index=False)
    (folder / "MLTable").write_text(MLTABLE, encoding="utf-8")
    if meta:
        write_json(folder / META_FILE, meta)
    print(f"wrote {len(df)} rows x {len(df.columns)} columns to {target}")
    return target


def write_json(path: str | os.PathLike, value) -> None:
    Path(path).write_text(json.dumps(value, indent=2, default=_plain), encoding="utf-8")


def _plain(value):
    """numpy scalars and arrays as JSON."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def check_columns(df: pd.DataFrame, names: list[str], what: str) -> None:
    missing = [n for n in names if n not in df.columns]
    if missing:
        raise SystemExit(
            f"{what}: no column named {', '.join(repr(m) for m in missing)} "
            f"(columns: {', '.join(map(str, df.columns))})"
        )
