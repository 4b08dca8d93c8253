"""Time from Executor.start() to the first log line of a hello-world job, and of cancel.

    .venv/bin/python benchmarks/executor_start_latency.py [--runs 20] [--cancels 5] [--only docker|local]

For each executor: N runs, one after another, of `echo hello` (docker: the warm base image,
$STUDIO_BASE_IMAGE or studio-base:bookworm-py311-r2; local: the system's python3). Prints
the median and p90 of start() alone and of start() to the first LogEvent. The Jobs issue wants
submit-to-Running under 1.5 s end to end; this is the executor's part of it.

Then --cancels runs of a job that ignores SIGTERM (`trap '' TERM; sleep 60`): the time from
cancel() to the job having ended (poll() gives its outcome). The Jobs issue wants cancel to
stop the container within 2 s; the tests only check that cancel stops it, this measures how fast.
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

BASE_IMAGE = os.environ.get("STUDIO_BASE_IMAGE", "studio-base:bookworm-py311-r2")
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


def measure_cancel(executor, runs: int) -> list[float]:
    took = []
    for _ in range(runs):
        spec = RunSpec(
            job_id=str(uuid.uuid4()),
            command="trap '' TERM; echo started; sleep 60",
            image=BASE_IMAGE,
            python=HOST_PYTHON or "",
        )
        handle = executor.start(spec)
        try:
            for event in executor.events(handle):
                if isinstance(event, LogEvent) and not event.partial:
                    break
            t0 = time.perf_counter()
            executor.cancel(handle)
            while executor.poll(handle) is None:
                time.sleep(0.01)
            took.append(time.perf_counter() - t0)
        finally:
            executor.cleanup(handle)
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--cancels", type=int, default=5)
    parser.add_argument("--only", choices=["docker", "local"])
    args = parser.parse_args()
    names = [args.only] if args.only else ["docker", "local"]
    print(
        f"{'executor':<8} {'runs':>4}  {'start() median':>15} {'p90':>7}  "
        f"{'first line median':>18} {'p90':>7}"
    )
    cancels: dict[str, list[float]] = {}
    for name in names:
        state = tempfile.mkdtemp(prefix="studio-bench-") if name == "local" else None
        options = {"state_dir": state} if state else {"instance": "benchmark"}
        try:
            executor = get_executor(name, **options)
            started, first = measure(executor, args.runs)
            if args.cancels:
                cancels[name] = measure_cancel(executor, args.cancels)
        finally:
            if state:
                shutil.rmtree(state, ignore_errors=True)
        print(
            f"{name:<8} {len(first):>4}  {statistics.median(started) * 1000:>12.0f} ms"
            f" {percentile(started, 90) * 1000:>4.0f} ms"
            f"  {statistics.median(first) * 1000:>15.0f} ms {percentile(first, 90) * 1000:>4.0f} ms"
        )
    if cancels:
        print(f"\n{'executor':<8} {'runs':>4}  {'cancel to ended median':>23} {'max':>7}")
        for name, took in cancels.items():
            print(
                f"{name:<8} {len(took):>4}  {statistics.median(took) * 1000:>20.0f} ms"
                f" {max(took) * 1000:>4.0f} ms"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
