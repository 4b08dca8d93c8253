"""The built-ins' table reading (designer_io.read_dataset) with real Parquet files written by
pyarrow: a Parquet file given as the input (a uri_file), a folder holding one, a folder of
part files (one table, in name order), the folder's data.csv still first, and the errors a
step prints for a broken file or an environment without pyarrow."""

from __future__ import annotations

import sys

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from apps.designer.builtins import BUILTIN_ROOT

SHARED = str(BUILTIN_ROOT / "_shared")
if SHARED not in sys.path:
    sys.path.insert(0, SHARED)

import designer_io  # noqa: E402

EVENTS = pd.DataFrame(
    {
        "user": ["a", "b", "c", "d"],
        "amount": [1.5, 2.25, None, 4.0],
        "count": pd.array([1, 2, 3, None], dtype="Int64"),
        "when": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]),
    }
)


def test_a_parquet_file_given_as_the_input_is_the_table_with_its_types(tmp_path):
    path = tmp_path / "events.parquet"
    EVENTS.to_parquet(path, index=False)
    got = designer_io.read_dataset(path)
    pd.testing.assert_frame_equal(got, EVENTS)
    assert str(got["when"].dtype).startswith("datetime64")  # kept, unlike a CSV round trip
    # .pq is Parquet too, and the suffix is matched whatever its case
    pq.write_table(pa.Table.from_pandas(EVENTS, preserve_index=False), tmp_path / "E.PQ")
    pd.testing.assert_frame_equal(designer_io.read_dataset(tmp_path / "E.PQ"), EVENTS)


def test_a_folder_holding_a_parquet_file_reads_it(tmp_path):
    folder = tmp_path / "events"
    (folder / "nested").mkdir(parents=True)
    EVENTS.to_parquet(folder / "nested" / "events.parquet", index=False)
    (folder / "MLTable").write_text("paths:\n  - pattern: ./**/*.parquet\n")
    assert designer_io.data_file(folder).name == "events.parquet"
    pd.testing.assert_frame_equal(designer_io.read_dataset(folder), EVENTS)


def test_a_folder_of_parquet_parts_is_one_table_in_name_order(tmp_path):
    folder = tmp_path / "spark-out"
    folder.mkdir()
    pq.write_table(pa.Table.from_pandas(EVENTS.iloc[2:], preserve_index=False),
                   folder / "part-00001.parquet")  # fmt: skip
    pq.write_table(pa.Table.from_pandas(EVENTS.iloc[:2], preserve_index=False),
                   folder / "part-00000.parquet")  # fmt: skip
    (folder / "_SUCCESS").write_text("")
    (folder / "_common_metadata.parquet").write_bytes(b"not data")  # skipped: `_` prefix
    (folder / ".part-00000.parquet.crc").write_bytes(b"x")
    got = designer_io.read_dataset(folder)
    pd.testing.assert_frame_equal(got, EVENTS)


def test_hive_partition_folders_become_columns(tmp_path):
    """A dataset pyarrow (or Spark) wrote partitioned by year and country: `year=2024/
    country=fr/<part>.parquet`. The folders' values are columns again: integers when every
    value is one, text otherwise, and the null partition is a missing value."""
    sales = pd.DataFrame(
        {
            "amount": [1.0, 2.0, 3.0, 4.0, 5.0],
            "year": pd.array([2023, 2024, 2024, None, 2023], dtype="Int64"),
            "country": ["fr", "fr", "de o", "fr", "de o"],
        }
    )
    folder = tmp_path / "sales"
    pq.write_to_dataset(
        pa.Table.from_pandas(sales, preserve_index=False), folder,
        partition_cols=["year", "country"],
    )  # fmt: skip
    assert (folder / "year=2024" / "country=de%20o").is_dir()  # pyarrow escapes the space
    assert (folder / "year=__HIVE_DEFAULT_PARTITION__").is_dir()
    got = designer_io.read_dataset(folder)
    assert list(got.columns) == ["amount", "year", "country"]
    assert str(got["year"].dtype) == "Int64"
    key = ["amount"]
    pd.testing.assert_frame_equal(
        got.sort_values(key).reset_index(drop=True), sales.sort_values(key).reset_index(drop=True)
    )


def test_a_column_of_the_data_wins_over_a_folder_of_the_same_name(tmp_path):
    folder = tmp_path / "t"
    (folder / "user=zz").mkdir(parents=True)
    EVENTS.to_parquet(folder / "user=zz" / "part-0.parquet", index=False)
    got = designer_io.read_dataset(folder)
    assert list(got["user"]) == list(EVENTS["user"])


def test_a_folder_with_data_csv_reads_that_first(tmp_path):
    folder = tmp_path / "step"
    designer_io.write_dataset(EVENTS[["user"]], folder)
    EVENTS.to_parquet(folder / "events.parquet", index=False)
    assert list(designer_io.read_dataset(folder).columns) == ["user"]


def test_a_broken_parquet_file_stops_the_step_naming_it(tmp_path):
    path = tmp_path / "events.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(SystemExit, match=r"events\.parquet' does not read as Parquet"):
        designer_io.read_dataset(path)


def test_without_pyarrow_a_parquet_input_says_so(tmp_path, monkeypatch):
    """A built-in run in a user's environment without a Parquet engine."""
    path = tmp_path / "events.parquet"
    EVENTS.to_parquet(path, index=False)

    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)  # `import` raises ImportError
    with pytest.raises(SystemExit, match=r"is Parquet, which this environment cannot read"):
        designer_io.read_dataset(path)


def test_steps_still_write_csv_with_an_mltable(tmp_path):
    target = designer_io.write_dataset(EVENTS, tmp_path / "out")
    assert target.name == "data.csv"
    assert "file: ./data.csv" in (tmp_path / "out" / "MLTable").read_text()
    assert len(designer_io.read_dataset(tmp_path / "out")) == 4
