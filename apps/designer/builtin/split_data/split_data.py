"""Split Data (Split Rows): the first `fraction` of the rows to results_dataset1, the rest to
results_dataset2; shuffled with a seed when `randomized`, stratified on a column if named."""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from designer_io import check_columns, read_dataset, read_meta, str2bool, write_dataset


def split(
    df: pd.DataFrame, fraction: float, randomized: bool, seed: int, stratify: str | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    if stratify:
        first: list[int] = []
        for _, group in df.groupby(stratify, sort=True):
            index = group.index.to_numpy()
            if randomized:
                index = rng.permutation(index)
            first.extend(index[: int(round(len(index) * fraction))])
        chosen = df.index.isin(first)
        return df[chosen], df[~chosen]
    order = rng.permutation(len(df)) if randomized else np.arange(len(df))
    cut = int(round(len(df) * fraction))
    return df.iloc[order[:cut]], df.iloc[order[cut:]]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--fraction", type=float, default=0.7)
    parser.add_argument("--randomized", type=str2bool, default=True)
    parser.add_argument("--random_seed", type=int, default=0)
    parser.add_argument("--stratify_column", default=None)
    parser.add_argument("--results_dataset1", required=True)
    parser.add_argument("--results_dataset2", required=True)
    args = parser.parse_args(argv)
    if not 0.0 <= args.fraction <= 1.0:
        raise SystemExit("fraction: must be between 0 and 1")

    df = read_dataset(args.dataset)
    if args.stratify_column:
        check_columns(df, [args.stratify_column], "stratify_column")
    one, two = split(df, args.fraction, args.randomized, args.random_seed, args.stratify_column)
    meta = read_meta(args.dataset)
    write_dataset(one, args.results_dataset1, meta)
    write_dataset(two, args.results_dataset2, meta)


if __name__ == "__main__":
    main()
