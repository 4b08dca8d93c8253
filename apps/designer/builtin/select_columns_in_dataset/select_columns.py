"""Select Columns in Dataset: keep (include) or drop (exclude) the named columns."""

from __future__ import annotations

import argparse

from designer_io import check_columns, columns_of, read_dataset, read_meta, write_dataset


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--columns", required=True)
    parser.add_argument("--mode", choices=["include", "exclude"], default="include")
    parser.add_argument("--results_dataset", required=True)
    args = parser.parse_args(argv)

    df = read_dataset(args.dataset)
    names = columns_of(args.columns)
    if not names:
        raise SystemExit("columns: name at least one column")
    check_columns(df, names, "columns")
    if args.mode == "include":
        out = df[names]
    else:
        out = df.drop(columns=names)
    meta = read_meta(args.dataset)
    write_dataset(out, args.results_dataset, meta)


if __name__ == "__main__":
    main()
