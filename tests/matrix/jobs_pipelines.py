"""Matrix rows: Assets > Pipelines (its two tabs), a pipeline run's graph page, its status
fragment and its step panel (read-only pages), and the jobs API filtered to pipelines."""

from __future__ import annotations

import pytest

from . import api_expect, expect

RUN = "/w/churn/jobs/matrix-pipeline/pipeline/"
VIEW = expect(200, compute_operator=403)

HTML = [
    ("jobs:pipeline-list", "get", "/w/churn/pipelines/", None, VIEW),
    ("jobs:pipeline-draft-list", "get", "/w/churn/pipelines/drafts/", None, VIEW),
    ("jobs:pipeline-run", "get", RUN, None, VIEW),
    ("jobs:pipeline-status", "get", f"{RUN}status/", None, VIEW),
    ("jobs:pipeline-step", "get", f"{RUN}step/?step=s000", None, VIEW),
]
API = [
    (
        "api:job-list",
        "get",
        "/api/v1/workspaces/churn/jobs/?type=pipeline",
        None,
        api_expect(200, compute_operator=403),
    ),
]
FIXTURES = {
    "/w/churn/pipelines/": ("matrix_pipeline",),
    RUN: ("matrix_pipeline",),
    f"{RUN}status/": ("matrix_pipeline",),
    f"{RUN}step/?step=s000": ("matrix_pipeline",),
}


def make_pipeline(workspace, name: str, steps: int = 2, *, owner=None):
    """A pipeline job as submit leaves it: a chain of `steps` command steps, the first
    Completed (reused), the second Running, the rest NotStarted; its graph in the spec."""
    from apps.jobs import pipeline_graph
    from apps.jobs.models import Job
    from apps.jobs.services import tracking

    experiment = tracking.experiment_default(workspace=workspace)
    paths = [f"s{i:03d}" for i in range(steps)]
    edges = [(a, "out", b, "data") for a, b in zip(paths, paths[1:], strict=False)]
    graph = pipeline_graph.build(paths, edges)
    positions = pipeline_graph.layout(graph)
    parent = Job.objects.create(
        workspace=workspace, experiment=experiment, name=name, type=Job.Type.PIPELINE,
        status=Job.Status.RUNNING, created_by=owner, start_time_ms=1,
        spec={
            "graph": {
                "steps": {
                    p: {"job": f"{name}-{p}", "label": "inline command", "display_name": p,
                        "upstream": [a for a, _, b, _ in edges if b == p],
                        "position": list(positions[p])}
                    for p in paths
                },
                "edges": [list(e) for e in edges],
                "order": pipeline_graph.order(graph),
            },
            "settings": {"continue_on_step_failure": True, "force_rerun": False,
                         "default_datastore": "workspaceblobstore", "default_compute": ""},
        },
    )  # fmt: skip
    status = [Job.Status.COMPLETED, Job.Status.RUNNING]
    Job.objects.bulk_create(
        [
            Job(
                workspace=workspace, experiment=experiment, parent=parent, name=f"{name}-{p}",
                type=Job.Type.COMMAND,
                status=status[i] if i < 2 else Job.Status.NOT_STARTED,
                tags={"reused_from": "earlier-s000"} if i == 0 else {},
                start_time_ms=1000 if i < 2 else None, end_time_ms=3500 if i == 0 else None,
                spec={"step": p, "command": "echo", "inputs": {}, "outputs": {}},
                created_by=owner,
            )
            for i, p in enumerate(paths)
        ]
    )  # fmt: skip
    return parent


@pytest.fixture
def matrix_pipeline(workspace):
    return make_pipeline(workspace, "matrix-pipeline")
