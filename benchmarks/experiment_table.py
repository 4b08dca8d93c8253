"""Server time of an experiment's runs table with many runs (chosen metric and param columns,
sorted by a metric, deep pages by keyset).

    .venv/bin/python benchmarks/experiment_table.py [--runs-in-experiment 100000] [--repeat 10]

Makes a throwaway workspace ($DATABASE_URL's database when set, else SQLite) with one
experiment of `--runs-in-experiment` runs, each with metrics `loss`, `acc` and params `lr`,
`depth`, then times in-process: the table page sorted by creation (first page), sorted by
`metrics.loss` (first page and the 50th page, reached by cursor), and the runs API, printing
the median and p90 server time and the number of queries (constant by design).
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from metric_history import report, setup_django, workspace_and_user  # noqa: E402


def populate(workspace, n: int):
    from apps.jobs.models import Experiment, Job, JobParam, LatestMetric

    exp = Experiment.objects.create(workspace=workspace, name="big")
    batch = 10_000
    for start in range(0, n, batch):
        jobs = [
            Job(
                id=uuid.uuid4(),
                workspace=workspace,
                experiment=exp,
                name=f"run-{i}",
                display_name=f"run {i}",
                type="run",
                status="Completed",
                start_time_ms=0,
                end_time_ms=i,
            )
            for i in range(start, min(n, start + batch))
        ]
        Job.objects.bulk_create(jobs)
        LatestMetric.objects.bulk_create(
            [
                LatestMetric(job=j, key=k, value=v, step=0, timestamp_ms=0)
                for i, j in enumerate(jobs, start)
                for k, v in (("loss", ((i * 7919) % 1000) / 1000), ("acc", (i % 97) / 97))
            ]
        )
        JobParam.objects.bulk_create(
            [
                JobParam(job=j, key=k, value=v)
                for i, j in enumerate(jobs, start)
                for k, v in (("lr", str(i % 10 / 100)), ("depth", str(i % 12)))
            ]
        )
    return exp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-in-experiment", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    setup_django()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    workspace, user = workspace_and_user()
    t0 = time.perf_counter()
    populate(workspace, args.runs_in_experiment)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE")
    print(
        f"made {args.runs_in_experiment} runs in {time.perf_counter() - t0:.1f} s ({connection.vendor})"
    )
    client = Client()
    client.force_login(user)
    page = f"/w/{workspace.name}/experiments/big/"
    api = f"/api/v1/workspaces/{workspace.name}/experiments/big/runs/"
    cols = "m=loss&m=acc&p=lr&p=depth"

    def deep_cursor(sort: str, pages: int) -> str:
        from apps.jobs import selectors
        from apps.jobs.models import Experiment

        exp = Experiment.objects.get(workspace=workspace, name="big")
        cursor = ""
        for _ in range(pages - 1):
            _, cursor = selectors.run_table(
                actor=user, workspace=workspace, experiment=exp, sort=sort, cursor=cursor
            )
        return cursor

    cases = [
        ("table page, newest first", f"{page}?{cols}"),
        ("table page, sorted by metrics.loss", f"{page}?{cols}&sort=metrics.loss"),
        (
            "table page 50, sorted by metrics.loss",
            f"{page}?{cols}&sort=metrics.loss&cursor={deep_cursor('metrics.loss', 50)}",
        ),
        (
            "runs API, sorted by -params.lr",
            f"{api}?metrics=loss,acc&params=lr,depth&sort=-params.lr",
        ),
    ]
    for label, url in cases:
        client.get(url)
        times = []
        for _ in range(args.repeat):
            with CaptureQueriesContext(connection) as queries:
                t = time.perf_counter()
                status = client.get(url).status_code
                times.append(time.perf_counter() - t)
        report(
            f"{label} ({args.runs_in_experiment} runs)",
            times,
            f"(HTTP {status}, {len(queries)} queries)",
        )


if __name__ == "__main__":
    main()
