"""Server time of reading a long metric history for a chart (down-sampled on the server).

    .venv/bin/python benchmarks/metric_history.py [--points 100000] [--runs 10]

Makes a throwaway workspace (in $DATABASE_URL's database when set, else SQLite in a temporary
STUDIO_HOME) with one run whose metric `loss` has `--points` samples, then times the API call
the Metrics tab makes (GET .../jobs/<name>/metrics/loss/?max_points=2000) in-process through
Django's test client, printing the median and p90 server time, the points sent and the
number of queries. The issue's goal: a chart of 1,000,000 points loads in under a second.
The points are logged in batches of 1,000 through the tracking service (as log_batch), which
keeps the series' rollups: a series over 100,000 points is drawn from them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def setup_django():
    os.environ.setdefault("STUDIO_HOME", tempfile.mkdtemp(prefix="studio-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)


def workspace_and_user():
    from django.contrib.auth import get_user_model

    from apps.workspaces.services import workspace_create

    suffix = str(int(time.time() * 1000))
    user = get_user_model().objects.create_user(f"bench{suffix}", password="x")
    return workspace_create(actor=user, name=f"bench{suffix}"), user


def report(label: str, times: list[float], extra: str = "") -> None:
    times = sorted(times)
    p90 = times[max(0, int(len(times) * 0.9) - 1)]
    print(
        f"{label}: median {statistics.median(times) * 1000:.1f} ms, p90 {p90 * 1000:.1f} ms {extra}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    setup_django()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from apps.jobs.models import Experiment, Job
    from apps.jobs.services import tracking

    workspace, user = workspace_and_user()
    exp = Experiment.objects.create(workspace=workspace, name="bench")
    job = Job.objects.create(workspace=workspace, experiment=exp, name="long", type="run")
    t0 = time.perf_counter()
    # Logged as the MLflow client's log_batch does (1,000 points a call), through the same
    # service, so the samples' rollups are kept as in real use.
    for start in range(0, args.points, 1000):
        batch = [
            tracking.MetricIn("loss", 1 / (i + 1), i, i)
            for i in range(start, min(start + 1000, args.points))
        ]
        tracking.run_log(actor=user, workspace=workspace, run_id=job.pk, metrics=batch)
    print(f"logged {args.points} points in {time.perf_counter() - t0:.1f} s ({connection.vendor})")
    client = APIClient()
    client.force_authenticate(user)
    url = f"/api/v1/workspaces/{workspace.name}/jobs/long/metrics/loss/?max_points=2000"
    client.get(url)  # warm up
    times = []
    for _ in range(args.runs):
        with CaptureQueriesContext(connection) as queries:
            t = time.perf_counter()
            body = client.get(url).json()
            times.append(time.perf_counter() - t)
    report(
        f"metric history of {args.points} points",
        times,
        f"({len(body['points'])} points sent, {len(queries)} queries)",
    )


if __name__ == "__main__":
    main()
