"""Reads of data versions: previews (the first rows of a CSV or Parquet file with column
types, a folder's listing), downloads (a file, or a folder as a zip, both streamed), and the
profile computation the worker runs.

Previews read only the head of a file: at most PREVIEW_BYTES of a CSV, the first row group
batch of a Parquet file. The profile reads whole files, a chunk at a time (flat memory), up
to STUDIO_DATA_PROFILE_MAX_BYTES in all (2 GiB by default); past that it stops and says the
profile is partial. For a folder it reads its tabular files, those directly in it first,
then those of its subfolders (at most PROFILE_MAX_FILES); for an mltable the files its
`paths` name. Hive-style partition folders (`year=2024/country=fr/`, as Spark and pyarrow
write a partitioned dataset) are columns of the rows below them, in the preview and the
profile alike.
"""

from __future__ import annotations

import contextlib
import io
import math
import posixpath
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import unquote

from apps.workspaces import permissions, storage
from apps.workspaces.permissions import Action
from studio.errors import DomainError, ValidationError

from .models import DataVersion

PREVIEW_ROWS = 50
PREVIEW_BYTES = 2**20
PREVIEW_FILES = 100
PROFILE_MAX_FILES = 50
PROFILE_CHUNK_ROWS = 100_000
PARQUET_SPOOL_MAX = 512 * 2**20  # a Parquet file on a store that cannot seek is copied first
CSV_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"  # the folder name of a null partition value
INTEGER = re.compile(r"-?\d{1,18}")


@dataclass
class DataPreview:
    """What the version page shows of the data."""

    kind: str  # "table", "listing", "none"
    message: str = ""
    file: str = ""  # the file the table comes from
    columns: list[tuple[str, str]] = field(default_factory=list)  # (name, type)
    rows: list[list[Any]] = field(default_factory=list)
    files: list[storage.Entry] = field(default_factory=list)
    more_files: bool = False
    folder: str = ""  # datastore path of the folder listed
    datastore: str = ""


def locate(row: DataVersion) -> tuple[storage.Store, str] | None:
    """The store and path of a version's data; None for a URL reference."""
    if row.datastore_id is None:
        return None
    _, rel = storage.resolve_datastore_uri(row.workspace, row.path, field="path")
    return storage.open_store(row.datastore), rel


def _mltable_spec(row: DataVersion) -> dict:
    import yaml

    with contextlib.suppress(yaml.YAMLError):
        spec = yaml.safe_load(row.mltable or "") or {}
        return spec if isinstance(spec, dict) else {}
    return {}


def _csv_options(rel: str, spec: dict | None = None) -> dict:
    """Delimiter and header for pandas, from the suffix or the MLTable's read_delimited."""
    options: dict[str, Any] = {"sep": "\t" if rel.lower().endswith(".tsv") else ","}
    for step in (spec or {}).get("transformations") or []:
        if isinstance(step, dict) and isinstance(step.get("read_delimited"), dict):
            read = step["read_delimited"]
            if read.get("delimiter"):
                options["sep"] = str(read["delimiter"])
            if read.get("header") == "no_header":
                options["header"] = None
            if read.get("encoding"):
                options["encoding"] = str(read["encoding"]).replace("utf8", "utf-8")
    return options


def _type_name(dtype: Any) -> str:
    text = str(dtype)
    for prefix, name in (
        ("int", "integer"),
        ("uint", "integer"),
        ("float", "float"),
        ("double", "float"),
        ("bool", "boolean"),
        ("datetime", "datetime"),
        ("timestamp", "datetime"),
        ("date", "date"),
        ("object", "string"),
        ("string", "string"),
        ("large_string", "string"),
        ("str", "string"),
    ):
        if text.startswith(prefix):
            return name
    return text


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    return value


def _csv_head(store: storage.Store, rel: str, options: dict) -> tuple[list, list]:
    import pandas as pd

    data = store.read_head(rel, PREVIEW_BYTES + 1)
    if len(data) > PREVIEW_BYTES:  # cut at the last whole line
        data = data[: data.rfind(b"\n", 0, PREVIEW_BYTES) + 1] or data[:PREVIEW_BYTES]
    try:
        frame = pd.read_csv(io.BytesIO(data), nrows=PREVIEW_ROWS, **options)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ValidationError.for_field("path", f"'{rel}' does not read as CSV: {exc}") from None
    columns = [(str(c), _type_name(t)) for c, t in frame.dtypes.items()]
    rows = [[_cell(v) for v in rec] for rec in frame.itertuples(index=False, name=None)]
    return columns, rows


@contextlib.contextmanager
def _seekable(store: storage.Store, rel: str, limit: int | None = None) -> Iterator[IO[bytes]]:
    """A seekable file of `rel` (Parquet readers seek to the footer): the store's own handle
    when it can seek, else a copy in a temporary file (on disk, not in memory)."""
    handle = store.open_read(rel)
    try:
        if handle.seekable():
            yield handle
            return
        with tempfile.TemporaryFile() as spool:
            size = 0
            while chunk := handle.read(2**20):
                size += len(chunk)
                if limit is not None and size > limit:
                    raise ValidationError.for_field(
                        "path", f"'{rel}' is too large to read on this datastore."
                    )
                spool.write(chunk)
            spool.seek(0)
            yield spool
    finally:
        with contextlib.suppress(Exception):
            handle.close()


def _parquet_head(store: storage.Store, rel: str) -> tuple[list, list]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with _seekable(store, rel, PARQUET_SPOOL_MAX) as fh:
        try:
            pf = pq.ParquetFile(fh)
            columns = [(f.name, _type_name(f.type)) for f in pf.schema_arrow]
            batch = next(pf.iter_batches(batch_size=PREVIEW_ROWS), None)
        except (pa.ArrowException, OSError) as exc:
            raise ValidationError.for_field(
                "path", f"'{rel}' does not read as Parquet: {exc}"
            ) from None
    rows = [] if batch is None else [list(r.values()) for r in batch.to_pylist()]
    return columns, [[_cell(v) for v in r] for r in rows]


def _table(store: storage.Store, rel: str, spec: dict | None = None) -> tuple[list, list] | None:
    lower = rel.lower()
    if lower.endswith(PARQUET_SUFFIXES):
        return _parquet_head(store, rel)
    if lower.endswith(CSV_SUFFIXES) or spec:
        return _csv_head(store, rel, _csv_options(rel, spec))
    return None


def _mltable_files(store: storage.Store, folder: str, spec: dict, limit: int) -> list[str]:
    """The files an MLTable's `paths` name (file entries, and tabular files of folders)."""
    out: list[str] = []
    for item in spec.get("paths") or []:
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("file"), str) and "://" not in item["file"]:
            out.append(storage.clean_path(posixpath.join(folder, item["file"])))
        elif isinstance(item.get("folder"), str) and "://" not in item["folder"]:
            sub = storage.clean_path(posixpath.join(folder, item["folder"]))
            entries, _ = store.ls(sub, limit=1000)
            out += [e.path for e in entries if not e.is_dir and _is_tabular(e.path)]
        if len(out) >= limit:
            break
    return out[:limit]


def _is_tabular(rel: str) -> bool:
    return rel.lower().endswith(CSV_SUFFIXES + PARQUET_SUFFIXES)


def _folder_tables(store: storage.Store, folder: str, limit: int) -> list[str]:
    """The tabular files below a folder, its own first, then its subfolders' (depth first,
    by name); hidden and `_`-prefixed files (Spark's `_SUCCESS`, `.crc`) are not data."""
    found = []
    for entry in store.walk(folder):
        name = posixpath.basename(entry.path)
        if _is_tabular(name) and not name.startswith((".", "_")):
            found.append(entry.path)
            if len(found) >= limit:
                break
    return found


def partition_values(folder: str, rel: str) -> dict[str, Any]:
    """The Hive-style `key=value` folders between `folder` and the file `rel`: integers when
    they read as one, else text; the null partition is None."""
    inner = rel[len(folder) :].strip("/") if folder and rel.startswith(folder) else rel
    values: dict[str, Any] = {}
    for segment in inner.split("/")[:-1]:
        key, sep, value = segment.partition("=")
        if sep and key:
            value = unquote(value)
            if value == HIVE_NULL:
                values[unquote(key)] = None
            else:
                values[unquote(key)] = int(value) if INTEGER.fullmatch(value) else value
    return values


def _with_partitions(table: tuple[list, list], values: dict[str, Any]) -> tuple[list, list]:
    """A previewed table with the file's partition values as columns (a column the data
    holds itself wins)."""
    columns, rows = table
    names = {name for name, _type in columns}
    extra = {k: v for k, v in values.items() if k not in names}
    if not extra:
        return table
    kinds = [(k, "integer" if isinstance(v, int) else "string") for k, v in extra.items()]
    return columns + [(k, f"{t} (folder)") for k, t in kinds], [
        r + list(extra.values()) for r in rows
    ]


def data_preview(*, actor, row: DataVersion) -> DataPreview:
    """What to show of a version: a table of the first rows, a folder listing, or why not."""
    permissions.require(actor, Action.ASSET_VIEW, row.workspace)
    where = locate(row)
    if where is None:
        return DataPreview(kind="none", message="A URL reference: the studio does not fetch it.")
    store, rel = where
    try:
        if row.type == DataVersion.Type.URI_FILE:
            table = _table(store, rel)
            if table is None:
                return DataPreview(
                    kind="none",
                    file=rel,
                    datastore=store.name,
                    message="No preview for this kind of file (CSV, TSV and Parquet show).",
                )
            return DataPreview(
                kind="table", file=rel, columns=table[0], rows=table[1], datastore=store.name
            )
        entries, cursor = store.ls(rel, limit=PREVIEW_FILES)
        preview = DataPreview(
            kind="listing",
            files=entries,
            more_files=cursor is not None,
            folder=rel,
            datastore=store.name,
        )
        spec = _mltable_spec(row) if row.type == DataVersion.Type.MLTABLE else None
        if spec:
            first = next(iter(_mltable_files(store, rel, spec, 1)), None)
        else:
            first = next(iter(_folder_tables(store, rel, 1)), None)
        if first:
            table = _table(store, first, spec)
            if table is not None:
                if not spec:
                    table = _with_partitions(table, partition_values(rel, first))
                preview.file, (preview.columns, preview.rows) = first, table
        return preview
    except DomainError as exc:
        return DataPreview(kind="none", message=exc.message, datastore=store.name)


# Downloads ---------------------------------------------------------------------------------


def data_download(
    *, actor, row: DataVersion
) -> tuple[str, int | None, IO[bytes] | Iterator[bytes], str]:
    """(file name, size or None, body, content type): the file itself as a seekable file
    object (so byte ranges work), or a folder as chunks of a zip built while it streams."""
    permissions.require(actor, Action.ASSET_VIEW, row.workspace)
    where = locate(row)
    if where is None:
        raise ValidationError.for_field(
            "path", f"'{row.name}:{row.version}' is a URL reference: download it from {row.path}."
        )
    store, rel = where
    if row.type == DataVersion.Type.URI_FILE:
        entry = store.stat(rel)
        return entry.name, entry.size, store.open_read(rel), "application/octet-stream"
    store.stat(rel)  # a missing folder fails now, not mid-response
    return f"{row.name}-{row.version}.zip", None, store.zip_chunks(rel), "application/zip"


# Profiles ----------------------------------------------------------------------------------


class _Columns:
    """Running per-column statistics over chunks of rows."""

    def __init__(self):
        self.rows = 0
        self.stats: dict[str, dict[str, Any]] = {}

    def add(self, frame) -> None:
        import pandas as pd

        self.rows += len(frame)
        for name in frame.columns:
            series = frame[name]
            col = self.stats.setdefault(
                str(name),
                {"type": _type_name(series.dtype), "missing": 0, "count": 0, "sum": 0.0},
            )
            col["missing"] += int(series.isna().sum())
            numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(
                series
            )
            values = series.dropna()
            if values.empty:
                continue
            if numeric:
                col["type"] = _type_name(series.dtype) if col["count"] == 0 else col["type"]
                col["count"] += len(values)
                col["sum"] += float(values.sum())
                low, high = float(values.min()), float(values.max())
            else:
                try:
                    low, high = values.min(), values.max()
                except TypeError:
                    continue
                low, high = str(low), str(high)
            col["min"] = low if "min" not in col else min(col["min"], low, key=_order)
            col["max"] = high if "max" not in col else max(col["max"], high, key=_order)

    def result(self) -> list[dict]:
        out = []
        for name, col in self.stats.items():
            mean = col["sum"] / col["count"] if col["count"] else None
            out.append(
                {
                    "name": name,
                    "type": col["type"],
                    "missing": col["missing"],
                    "min": _json(col.get("min")),
                    "max": _json(col.get("max")),
                    "mean": None if mean is None else round(mean, 6),
                }
            )
        return out


def _order(value: Any) -> tuple[int, Any]:
    return (0, value) if isinstance(value, (int, float)) else (1, str(value))


def _json(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


class _Budget(io.RawIOBase):
    """A file that reads at most `budget.left` more bytes, then ends (partial profiles)."""

    def __init__(self, handle: IO[bytes], budget: dict):
        super().__init__()
        self.handle = handle
        self.budget = budget

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        want = min(len(buffer), self.budget["left"])
        if want <= 0:
            if self.handle.read(1):  # more bytes than the budget allows
                self.budget["partial"] = True
            return 0
        data = self.handle.read(want)
        buffer[: len(data)] = data
        self.budget["left"] -= len(data)
        return len(data)


def _profile_file(
    store, rel: str, spec: dict | None, stats: _Columns, budget: dict, extra: dict | None = None
) -> None:
    """Add a file's rows to the statistics, with `extra` (its partition values) as columns
    the data does not hold itself."""
    import pandas as pd
    import pyarrow.parquet as pq

    def add(frame) -> None:
        for key, value in (extra or {}).items():
            if key not in frame.columns:
                frame[key] = pd.Series([value] * len(frame), index=frame.index)
        stats.add(frame)

    if rel.lower().endswith(PARQUET_SUFFIXES):
        size = store.stat(rel).size or 0
        if size > budget["left"]:
            budget["partial"] = True
            return
        budget["left"] -= size
        with _seekable(store, rel) as fh:
            for batch in pq.ParquetFile(fh).iter_batches(batch_size=PROFILE_CHUNK_ROWS):
                add(batch.to_pandas())
        return
    handle = store.open_read(rel)
    try:
        reader = io.BufferedReader(_Budget(handle, budget), buffer_size=2**20)
        options = _csv_options(rel, spec)
        with pd.read_csv(reader, chunksize=PROFILE_CHUNK_ROWS, **options) as chunks:
            for frame in chunks:
                add(frame)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ValidationError.for_field(
            "path", f"'{rel}' does not read as a table: {exc}"
        ) from None
    finally:
        with contextlib.suppress(Exception):
            handle.close()


def compute_profile(row: DataVersion, *, max_bytes: int) -> dict:
    """The profile of a version's tabular data (called by the worker's service)."""
    where = locate(row)
    if where is None:
        raise ValidationError.for_field("path", "a URL reference has no profile.")
    store, rel = where
    spec = None
    if row.type == DataVersion.Type.URI_FILE:
        files = [rel]
    elif row.type == DataVersion.Type.MLTABLE:
        spec = _mltable_spec(row)
        files = _mltable_files(store, rel, spec, PROFILE_MAX_FILES)
    else:
        files = _folder_tables(store, rel, PROFILE_MAX_FILES)
    files = [f for f in files if _is_tabular(f) or spec]
    if not files:
        raise ValidationError.for_field("path", "no CSV, TSV or Parquet file to profile.")
    stats = _Columns()
    budget = {"left": max_bytes, "partial": False}
    folder = rel if row.type == DataVersion.Type.URI_FOLDER else None
    for rel_file in files:
        extra = partition_values(folder, rel_file) if folder is not None else {}
        _profile_file(store, rel_file, spec, stats, budget, extra)
        if budget["left"] <= 0:
            budget["partial"] = True
            break
    return {
        "rows": stats.rows,
        "columns": stats.result(),
        "files": [posixpath.basename(f) for f in files],
        "partial": budget["partial"],
        "max_bytes": max_bytes,
    }
