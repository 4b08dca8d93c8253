"""Matrix rows: reading job results (job pages, experiments, the jobs read API), and
`make_run`, the helper that the jobs-results tests use to make a run with data."""

from __future__ import annotations

import pytest

from . import api_expect, expect

JOB = "/w/churn/jobs/matrix-job/"
API_JOB = "/api/v1/workspaces/churn/jobs/matrix-job/"
EXP = "/w/churn/experiments/exp1/"
VIEW = expect(200, compute_operator=403)
API_VIEW = api_expect(200, compute_operator=403)
CHANGE = expect(403, owner=302, contributor=302, data_scientist=302)
API_CHANGE = api_expect(403, owner=200, contributor=200, data_scientist=200)

HTML = [
    ("jobs:job-list", "get", "/w/churn/jobs/", None, VIEW),
    ("jobs:experiment-list", "get", "/w/churn/experiments/", None, VIEW),
    ("jobs:experiment-detail", "get", EXP, None, VIEW),
    ("jobs:experiment-compare", "get", f"{EXP}compare/?run=matrix-job", None, VIEW),
    ("jobs:job-detail", "get", JOB, None, VIEW),
    ("jobs:job-log", "get", f"{JOB}log/?after=0", None, VIEW),
    ("jobs:job-log-download", "get", f"{JOB}log/download/", None, VIEW),
    ("jobs:job-metrics", "get", f"{JOB}metrics/", None, VIEW),
    ("jobs:job-status", "get", f"{JOB}status/", None, VIEW),
    ("jobs:job-files", "get", f"{JOB}files/", None, VIEW),
    ("jobs:job-file-preview", "get", f"{JOB}files/preview/?path=outputs/a.txt", None, VIEW),
    ("jobs:job-file-download", "get", f"{JOB}files/download/?path=outputs/a.txt", None, VIEW),
    (
        "jobs:job-code-file",
        "get",
        f"{JOB}code/?path=train.py",
        None,
        expect(404, outsider=404, compute_operator=403),
    ),
    ("jobs:job-update", "post", f"{JOB}edit/", {"description": "d"}, CHANGE),
    ("jobs:job-archive", "post", f"{JOB}archive/", None, CHANGE),
    ("jobs:job-restore", "post", f"{JOB}restore/", None, CHANGE),
]

API = [
    ("api:job-list", "get", "/api/v1/workspaces/churn/jobs/", None, API_VIEW),
    ("api:job-detail", "get", API_JOB, None, API_VIEW),
    ("api:job-detail", "patch", API_JOB, {"description": "d"}, API_CHANGE),
    ("api:job-archive", "post", f"{API_JOB}archive/", None, API_CHANGE),
    ("api:job-restore", "post", f"{API_JOB}restore/", None, API_CHANGE),
    ("api:job-logs", "get", f"{API_JOB}logs/?after=0", None, API_VIEW),
    ("api:job-logs-download", "get", f"{API_JOB}logs/download", None, API_VIEW),
    ("api:job-metric-list", "get", f"{API_JOB}metrics/", None, API_VIEW),
    ("api:job-metric-detail", "get", f"{API_JOB}metrics/loss/", None, API_VIEW),
    ("api:job-file-list", "get", f"{API_JOB}files/", None, API_VIEW),
    ("api:job-file-content", "get", f"{API_JOB}files/content?path=outputs/a.txt", None, API_VIEW),
    ("api:experiment-list", "get", "/api/v1/workspaces/churn/experiments/", None, API_VIEW),
    (
        "api:experiment-runs",
        "get",
        "/api/v1/workspaces/churn/experiments/exp1/runs/?metrics=loss&params=lr",
        None,
        API_VIEW,
    ),
]

_PATHS = [row[2] for row in HTML + API if "matrix-job" in row[2] or "exp1" in row[2]]
FIXTURES = {p: ("matrix_run",) for p in _PATHS}


def make_run(
    workspace,
    *,
    name: str = "matrix-job",
    experiment: str = "exp1",
    status: str = "Completed",
    metrics: dict | None = None,
    params: dict | None = None,
    logs: list[str] | None = None,
    files: dict[str, bytes] | None = None,
):
    """A run of `workspace` (type run, as the MLflow API makes them) with metric histories
    ({key: [values...]}, logged at steps 0, 1, ...), params, log lines and artifact files."""
    from apps.jobs import artifacts
    from apps.jobs.models import Experiment, Job, JobParam, JobStatusChange, LogLine
    from apps.jobs.services import tracking

    owner = workspace.created_by
    exp, _ = Experiment.objects.get_or_create(workspace=workspace, name=experiment)
    job = Job.objects.create(
        workspace=workspace,
        experiment=exp,
        name=name,
        display_name=name,
        type=Job.Type.RUN,
        status=status,
        created_by=owner,
        start_time_ms=1_700_000_000_000,
        end_time_ms=1_700_000_090_000 if status in Job.TERMINAL else None,
    )
    JobStatusChange.objects.create(job=job, status="Running")
    if status != "Running":
        JobStatusChange.objects.create(job=job, status=status)
    for key, values in (metrics or {}).items():
        tracking.run_log(
            actor=owner,
            workspace=workspace,
            run_id=job.pk,
            metrics=[
                tracking.MetricIn(key, float(v), 1_700_000_000_000 + i * 1000, i)
                for i, v in enumerate(values)
            ],
        )
    JobParam.objects.bulk_create(
        [JobParam(job=job, key=k, value=str(v)) for k, v in (params or {}).items()]
    )
    LogLine.objects.bulk_create(
        [LogLine(job=job, seq=i, stream="stdout", text=t) for i, t in enumerate(logs or [], 1)]
    )
    job.log_seq = len(logs or [])
    job.save(update_fields=["log_seq"])
    for path, content in (files or {}).items():
        import io

        root = f"{exp.pk}/{job.run_id}/artifacts"
        artifacts.put_stream(workspace, f"{root}/{path}", io.BytesIO(content))
    job.workspace = workspace
    return job


@pytest.fixture
def matrix_run(workspace):
    """The run `matrix-job` of experiment `exp1` in `churn`, with a metric, a param, logs and
    an output file."""
    return make_run(
        workspace,
        metrics={"loss": [1.0, 0.5, 0.25]},
        params={"lr": "0.1"},
        logs=["hello", "world"],
        files={"outputs/a.txt": b"A"},
    )
