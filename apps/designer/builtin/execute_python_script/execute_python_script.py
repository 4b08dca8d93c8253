"""Execute Python Script: run the user's `azureml_main(dataframe1, dataframe2)` and write the
DataFrames it returns. The script text comes from --python_script_file, else the
AZURE_ML_INPUT_python_script environment variable the studio sets for the python_script
input (a command line would break a multi-line script into words)."""

from __future__ import annotations

import argparse
import os
import sys
import zipfile
from pathlib import Path

import pandas as pd
from designer_io import read_dataset, read_meta, write_dataset

ENV = "AZURE_ML_INPUT_python_script"


def script_text(path: str | None) -> str:
    if path:
        return Path(path).read_text(encoding="utf-8")
    text = os.environ.get(ENV)
    if not text:
        raise SystemExit(f"python_script: empty (set {ENV} or give --python_script_file)")
    return text


def add_bundle(folder: str) -> None:
    """The script bundle on sys.path: the folder and each zip inside it (unpacked)."""
    root = Path(folder)
    sys.path.insert(0, str(root))
    for archive in sorted(root.glob("*.zip")):
        target = Path.cwd() / "script_bundle" / archive.stem
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(target)
        sys.path.insert(0, str(target))


def run(text: str, frames: list[pd.DataFrame | None]) -> list[pd.DataFrame]:
    namespace: dict = {"__name__": "azureml_script"}
    exec(compile(text, "python_script", "exec"), namespace)  # the user's own code, by design
    main = namespace.get("azureml_main")
    if not callable(main):
        raise SystemExit("python_script: define azureml_main(dataframe1=None, dataframe2=None)")
    result = main(*frames)
    if result is None:
        return []
    if isinstance(result, pd.DataFrame):
        result = (result,)
    out = []
    for i, item in enumerate(result):
        if item is None:
            continue
        if not isinstance(item, pd.DataFrame):
            raise SystemExit(f"azureml_main returned {type(item).__name__} at {i}, not a DataFrame")
        out.append(item)
    if len(out) > 2:
        raise SystemExit("azureml_main returned more than two DataFrames")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset1", default=None)
    parser.add_argument("--dataset2", default=None)
    parser.add_argument("--script_bundle", default=None)
    parser.add_argument("--python_script_file", default=None)
    parser.add_argument("--result_dataset", required=True)
    parser.add_argument("--result_dataset2", required=True)
    args = parser.parse_args(argv)

    if args.script_bundle:
        add_bundle(args.script_bundle)
    frames = [read_dataset(p) if p else None for p in (args.dataset1, args.dataset2)]
    results = run(script_text(args.python_script_file), frames)
    meta = read_meta(args.dataset1) if args.dataset1 else {}
    for i, folder in enumerate((args.result_dataset, args.result_dataset2)):
        frame = results[i] if i < len(results) else pd.DataFrame()
        write_dataset(frame, folder, meta)


if __name__ == "__main__":
    main()
