"""Time from a job's submit to its Running status, for a hello-world job with a warm image.

    DATABASE_URL=... .venv/bin/python benchmarks/job_submit_to_running.py [--runs 10]

Each run creates a Queued job (as the submit service leaves it), then runs the runner in a
thread as a worker would (claim, prepare, start a real container, persist the handle) and
reads the time of its Running transition from the status timeline. Celery's delivery is not
counted (a few ms on Redis with a waiting worker). Prints the median and p90; the goal
(issue "Jobs") is a median under 1.5 s. Needs a migrated database and the Docker engine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.utils import timezone  # noqa: E402

from apps.jobs import runner  # noqa: E402
from apps.jobs.models import Job, JobStatusChange  # noqa: E402
from apps.jobs.services import tracking  # noqa: E402
from apps.workspaces import services  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    job_dir = tempfile.mkdtemp(prefix="studio-bench-", dir="/tmp")
    os.chmod(job_dir, 0o755)
    settings.STUDIO_JOB_DIR = job_dir
    settings.STUDIO_EXECUTOR_INSTANCE = f"bench-{uuid.uuid4().hex[:8]}"
    user, _ = get_user_model().objects.get_or_create(username="bench-runner")
    workspace = services.workspace_create(actor=user, name=f"bench-{uuid.uuid4().hex[:8]}")
    experiment = tracking.experiment_default(workspace=workspace)
    figures = []
    for i in range(args.runs + 1):  # the first run warms caches and is not counted
        job = Job.objects.create(
            workspace=workspace, experiment=experiment, name=f"hello-{i}", created_by=user,
            spec={"command": "echo hello"}, status=Job.Status.QUEUED, queued_at=timezone.now(),
        )  # fmt: skip
        submitted = time.time()
        thread = threading.Thread(target=runner.run, args=(str(job.pk),))
        thread.start()
        thread.join()
        running = JobStatusChange.objects.get(job=job, status=Job.Status.RUNNING).at
        if i:
            figures.append(running.timestamp() - submitted)
    figures.sort()
    p90 = figures[min(len(figures) - 1, int(0.9 * len(figures)))]
    print(f"submit to Running, {len(figures)} runs: median {statistics.median(figures):.3f} s, "
          f"p90 {p90:.3f} s (goal: median under 1.5 s)")  # fmt: skip
    services.workspace_delete(actor=user, workspace=workspace)


if __name__ == "__main__":
    main()
