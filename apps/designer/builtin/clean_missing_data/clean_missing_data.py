"""Clean Missing Data: fill (custom value, mean, median, mode) or remove (rows, columns) the
missing values of the chosen columns whose missing ratio is within [minimum, maximum]."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from designer_io import (
    check_columns,
    columns_of,
    read_dataset,
    read_meta,
    write_dataset,
    write_json,
)

MODES = (
    "custom_substitution_value",
    "mean",
    "median",
    "mode",
    "remove_entire_row",
    "remove_entire_column",
)


def _typed(value: str, column: pd.Series):
    """The replacement text as the column's type when it reads as one."""
    if pd.api.types.is_numeric_dtype(column):
        try:
            number = float(value)
        except ValueError:
            return value
        return (
            int(number) if number.is_integer() and pd.api.types.is_integer_dtype(column) else number
        )
    return value


def fill_value(mode: str, column: pd.Series, replacement: str):
    if mode == "custom_substitution_value":
        return _typed(replacement, column)
    if mode in ("mean", "median"):
        if not pd.api.types.is_numeric_dtype(column):
            raise SystemExit(f"cleaning_mode {mode}: column '{column.name}' is not numeric")
        return float(getattr(column, mode)())
    values = column.mode(dropna=True)
    return values.iloc[0] if len(values) else None


def clean(
    df: pd.DataFrame, names: list[str], mode: str, replacement: str, low: float, high: float
) -> tuple[pd.DataFrame, dict]:
    """The cleaned frame and what was done per column."""
    out = df.copy()
    done: dict[str, dict] = {}
    rows_with_missing = pd.Series(False, index=df.index)
    for name in names:
        ratio = float(df[name].isna().mean()) if len(df) else 0.0
        if ratio == 0.0 or not (low <= ratio <= high):
            continue
        entry: dict = {"missing_ratio": ratio, "mode": mode}
        if mode == "remove_entire_row":
            rows_with_missing |= df[name].isna()
        elif mode == "remove_entire_column":
            out = out.drop(columns=[name])
        else:
            value = fill_value(mode, df[name], replacement)
            out[name] = out[name].fillna(value)
            entry["value"] = value
        done[name] = entry
    if mode == "remove_entire_row":
        out = out[~rows_with_missing]
        done = {"removed_rows": int(rows_with_missing.sum()), "columns": done}
    return out, done


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--columns", default="")
    parser.add_argument("--cleaning_mode", choices=MODES, default=MODES[0])
    parser.add_argument("--replacement_value", default="0")
    parser.add_argument("--minimum_missing_value_ratio", type=float, default=0.0)
    parser.add_argument("--maximum_missing_value_ratio", type=float, default=1.0)
    parser.add_argument("--cleaned_dataset", required=True)
    parser.add_argument("--cleaning_transformation", required=True)
    args = parser.parse_args(argv)

    df = read_dataset(args.dataset)
    names = columns_of(args.columns) or list(df.columns)
    check_columns(df, names, "columns")
    out, done = clean(
        df,
        names,
        args.cleaning_mode,
        args.replacement_value,
        args.minimum_missing_value_ratio,
        args.maximum_missing_value_ratio,
    )
    write_dataset(out, args.cleaned_dataset, read_meta(args.dataset))
    Path(args.cleaning_transformation).mkdir(parents=True, exist_ok=True)
    write_json(Path(args.cleaning_transformation) / "transformation.json", done)
    print(f"{args.cleaning_mode}: {done}")


if __name__ == "__main__":
    main()
