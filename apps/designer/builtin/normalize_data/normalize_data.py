"""Normalize Data: ZScore ((x - mean) / std), MinMax ((x - min) / (max - min)), Logistic
(1 / (1 + e^-x)) or TanH (tanh(x)) on the chosen numeric columns."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from designer_io import (
    check_columns,
    columns_of,
    read_dataset,
    read_meta,
    write_dataset,
    write_json,
)

METHODS = ("zscore", "minmax", "logistic", "tanh")


def normalize(df: pd.DataFrame, names: list[str], method: str) -> tuple[pd.DataFrame, dict]:
    out = df.copy()
    params: dict[str, dict] = {}
    for name in names:
        x = df[name].astype(float)
        if method == "zscore":
            mean, std = float(x.mean()), float(x.std(ddof=0))
            out[name] = (x - mean) / std if std else 0.0
            params[name] = {"mean": mean, "std": std}
        elif method == "minmax":
            low, high = float(x.min()), float(x.max())
            out[name] = (x - low) / (high - low) if high > low else 0.0
            params[name] = {"min": low, "max": high}
        elif method == "logistic":
            out[name] = 1.0 / (1.0 + np.exp(-x))
            params[name] = {}
        else:
            out[name] = np.tanh(x)
            params[name] = {}
    return out, params


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--transformation_method", choices=METHODS, default="zscore")
    parser.add_argument("--columns", default="")
    parser.add_argument("--exclude_columns", default="")
    parser.add_argument("--transformed_dataset", required=True)
    parser.add_argument("--transformation_function", required=True)
    args = parser.parse_args(argv)

    df = read_dataset(args.dataset)
    names = columns_of(args.columns)
    check_columns(df, names, "columns")
    excluded = set(columns_of(args.exclude_columns))
    label = read_meta(args.dataset).get("label_column")
    if label:
        excluded.add(label)
    if not names:
        names = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
    names = [n for n in names if n not in excluded]
    bad = [n for n in names if not pd.api.types.is_numeric_dtype(df[n])]
    if bad:
        raise SystemExit(f"columns: {', '.join(bad)} not numeric")
    out, params = normalize(df, names, args.transformation_method)
    write_dataset(out, args.transformed_dataset, read_meta(args.dataset))
    folder = Path(args.transformation_function)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(
        folder / "transformation.json",
        {"method": args.transformation_method, "columns": params},
    )


if __name__ == "__main__":
    main()
