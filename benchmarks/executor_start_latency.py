"""Time from Executor.start() to the first log line of a hello-world job.

    .venv/bin/python benchmarks/executor_start_latency.py [--runs 20] [--only docker|local]

For each executor: N runs, one after another, of `echo hello` (docker: the warm base image,
$STUDIO_BASE_IMAGE or studio-base:bookworm-py311; local: the system's python3). Prints
the median and p90 of start() alone and of start() to the first LogEvent. The Jobs issue wants
submit-to-Running under 1.5 s end to end; this is the executor's part of it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apps.jobs.executors import LogEvent, RunSpec, get_executor  # noqa: E402

BASE_IMAGE = os.environ.get("STUDIO_BASE_IMAGE", "studio-base:bookworm-py311")
# The system's interpreter: the job's user (uid 1000) can run it, unlike one under /root.
HOST_PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else shutil.which("python3")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def measure(executor, runs: int) -> tuple[list[float], list[float]]:
    started, first_line = [], []
    for _ in range(runs + 1):  # the first run warms caches and is not counted
        spec = RunSpec(
            job_id=str(uuid.uuid4()),
            command="echo hello",
            image=BASE_IMAGE,
            python=HOST_PYTHON or "",
        )
        t0 = time.perf_counter()
        handle = executor.start(spec)
        t1 = time.perf_counter()
        try:
            for event in executor.events(handle):
                if isinstance(event, LogEvent) and not event.partial:
                    t2 = time.perf_counter()
                    break
            else:
                raise RuntimeError(f"{executor.name}: no log line")
        finally:
            executor.cleanup(handle)
        started.append(t1 - t0)
        first_line.append(t2 - t0)
    return started[1:], first_line[1:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--only", choices=["docker", "local"])
    args = parser.parse_args()
    names = [args.only] if args.only else ["docker", "local"]
    print(
        f"{'executor':<8} {'runs':>4}  {'start() median':>15} {'p90':>7}  "
        f"{'first line median':>18} {'p90':>7}"
    )
    for name in names:
        state = tempfile.mkdtemp(prefix="studio-bench-") if name == "local" else None
        options = {"state_dir": state} if state else {"instance": "benchmark"}
        try:
            started, first = measure(get_executor(name, **options), args.runs)
        finally:
            if state:
                shutil.rmtree(state, ignore_errors=True)
        print(
            f"{name:<8} {len(first):>4}  {statistics.median(started) * 1000:>12.0f} ms"
            f" {percentile(started, 90) * 1000:>4.0f} ms"
            f"  {statistics.median(first) * 1000:>15.0f} ms {percentile(first, 90) * 1000:>4.0f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
