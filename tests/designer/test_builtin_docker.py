# ruff: noqa: F811 - fixtures imported from test_runner_support
"""Built-in components as real command jobs in containers, on the curated sklearn image
(built once per machine when missing, then cached by its spec hash): the
pipeline documented in docs/designer-components.md (Split Data and a learner, Train Model,
Score Model, Evaluate Model) on the sample breast cancer dataset, with a live studio that
Evaluate Model logs its metrics to.

The Celery hand-off is the unit boundary: each queued step runs in a thread of this process,
as a worker would run `jobs.run`."""

from __future__ import annotations

import io
import json
import re
import threading
import time
from pathlib import Path

import pytest
import yaml
from django.db import connection

from apps.assets.services.environments import ensure_image
from apps.designer import builtins
from apps.jobs.models import Job, LatestMetric
from apps.jobs.services import lifecycle
from apps.jobs.services.submit import job_submit
from apps.workspaces import storage
from apps.workspaces.models import Datastore
from tests.jobs.test_runner_docker import open_live_server  # noqa: F401
from tests.jobs.test_runner_support import docker_runner, docker_status, job_dir  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def workers(monkeypatch, docker_runner):
    """Run each queued job in a thread, as a Celery worker would."""
    threads: list[threading.Thread] = []

    def work(job_id: str) -> None:
        try:
            while docker_runner.run(job_id, worker="test") == docker_runner.FULL:
                time.sleep(0.3)
        finally:
            connection.close()

    def send(job, kick: bool = False) -> None:
        if kick:  # a freed node's extra look: the job's own thread already retries it
            return
        thread = threading.Thread(target=work, args=(str(job.pk),), daemon=True)
        threads.append(thread)
        thread.start()

    monkeypatch.setattr(lifecycle, "_send", send)
    yield
    for thread in threads:
        thread.join(timeout=60)


@pytest.fixture
def registered(workspace):
    """Built-ins and samples registered, and the curated sklearn image on this engine (built
    here the first time, as the environments tests also do; later runs find it cached)."""
    components = {c.name: c for c in builtins.builtin_components_ensure(workspace=workspace)}
    builtins.sample_datasets_ensure(workspace=workspace)
    ensure_image(components["train_model"].environment)
    return components


def wait_for_end(job: Job, seconds: float = 240) -> Job:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_terminal:
            return job
        time.sleep(0.5)
    raise AssertionError(f"pipeline still {job.status}")


def documented_pipeline() -> dict:
    text = (Path(__file__).parents[2] / "docs" / "designer-components.md").read_text()
    block = re.search(r"## A pipeline of built-ins in YAML\s+```yaml\n(.*?)```", text, re.S)
    return yaml.safe_load(block[1])


def test_the_documented_pipeline_trains_scores_and_evaluates_in_containers(
    workers, open_live_server, registered, workspace, owner
):
    document = {**documented_pipeline(), "name": "designer-doc"}
    pipeline = wait_for_end(job_submit(actor=owner, workspace=workspace, document=document))
    steps = {c.spec["step"]: c for c in pipeline.children.all()}
    logs = {k: [t for (t,) in c.log_lines.order_by("seq").values_list("text")][-15:]
            for k, c in steps.items()}  # fmt: skip
    assert pipeline.status == Job.Status.COMPLETED, ({k: c.error for k, c in steps.items()}, logs)
    assert set(steps) == {"split", "learner", "train", "score", "evaluate"}
    store = storage.open_store(Datastore.objects.get(workspace=workspace, is_default=True))
    base = "azureml/designer-doc-evaluate/evaluation_results"
    with store.open_read(f"{base}/results.json") as fh:
        results = json.loads(fh.read())
    assert results["rows"] == 171 and results["metrics"]["accuracy"] > 0.9
    assert results["metrics"]["auc"] > 0.95 and len(results["confusion_matrix"]) == 2
    assert store.exists("azureml/designer-doc-train/trained_model/MLmodel")
    with store.open_read("azureml/designer-doc-split/results_dataset1/data.csv") as fh:
        assert fh.read().decode().count("\n") == 1 + 398
    # Evaluate Model logged its metrics to its own run, through the studio's MLflow API
    logged = dict(LatestMetric.objects.filter(job=steps["evaluate"]).values_list("key", "value"))
    assert logged == pytest.approx(results["metrics"])
    for name in ("metrics.json", "roc_curve.plotly.json", "confusion_matrix.plotly.json"):
        assert store.exists(f"{base}/{name}")


def test_a_uri_file_csv_connected_in_the_designer_is_cleaned_in_a_container(
    workers, registered, workspace, owner
):
    """churn.csv registered as a uri_file, connected to Clean Missing Data on the canvas: the
    draft's pipeline runs in a container, the step reads the mounted file as the table."""
    from apps.assets.models import Kind
    from apps.assets.services import versions as version_services
    from apps.designer import drafts, pipeline_yaml

    store = storage.open_store(Datastore.objects.get(workspace=workspace, is_default=True))
    store.write_stream(
        "uploads/churn/churn.csv", io.BytesIO(b"age,plan,churned\n34,basic,0\n,premium,1\n51,,0\n")
    )
    version_services.version_create(
        actor=owner, workspace=workspace, kind=Kind.DATA, name="churn", version="1",
        fields={"type": "uri_file",
                "path": "azureml://datastores/workspaceblobstore/paths/uploads/churn/churn.csv"},
    )  # fmt: skip
    clean = registered["clean_missing_data"]
    d = drafts.draft_create(actor=owner, workspace=workspace, name="Churn")
    d = drafts.node_add(actor=owner, draft=d, kind="data", ref="azureml:churn:1")
    d = drafts.node_add(
        actor=owner, draft=d, kind="component", ref=f"azureml:{clean.name}:{clean.version}"
    )
    d = drafts.edge_connect(
        actor=owner, draft=d, source=["churn", "data"], target=["clean_missing_data", "dataset"]
    )
    d = drafts.node_set(
        actor=owner, draft=d, node="clean_missing_data",
        params={"cleaning_mode": "remove_entire_row"},
    )  # fmt: skip
    document = {**yaml.safe_load(pipeline_yaml.draft_export(actor=owner, draft=d)),
                "name": "designer-churn"}  # fmt: skip
    pipeline = wait_for_end(job_submit(actor=owner, workspace=workspace, document=document))
    step = pipeline.children.get()
    lines = [t for (t,) in step.log_lines.order_by("seq").values_list("text")]
    assert pipeline.status == Job.Status.COMPLETED, (step.error, lines[-15:])
    assert step.spec["inputs"]["dataset"]["type"] == "uri_file"  # mounted as the file
    with store.open_read(
        "azureml/designer-churn-clean_missing_data/cleaned_dataset/data.csv"
    ) as fh:
        assert fh.read().decode().splitlines() == ["age,plan,churned", "34.0,basic,0"]


def test_parquet_connected_in_the_designer_is_read_in_a_container(
    workers, registered, workspace, owner
):
    """events.parquet registered as a uri_file feeds Select Columns, and a folder of Parquet
    part files (uri_folder) feeds Split Data: the curated image's pyarrow reads both, and the
    steps write data.csv as ever."""
    import pandas as pd

    from apps.assets.models import Kind
    from apps.assets.services import versions as version_services
    from apps.designer import drafts, pipeline_yaml

    store = storage.open_store(Datastore.objects.get(workspace=workspace, is_default=True))
    events = pd.DataFrame(
        {"user": [f"u{i}" for i in range(10)], "amount": [i * 1.5 for i in range(10)],
         "when": pd.date_range("2024-01-01", periods=10)}
    )  # fmt: skip

    def parquet(frame) -> io.BytesIO:
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        buf.seek(0)
        return buf

    store.write_stream("uploads/events/events.parquet", parquet(events))
    store.write_stream("uploads/parts/part-00000.parquet", parquet(events.iloc[:6]))
    store.write_stream("uploads/parts/part-00001.parquet", parquet(events.iloc[6:]))
    store.write_stream("uploads/parts/_SUCCESS", io.BytesIO(b""))
    root = "azureml://datastores/workspaceblobstore/paths/uploads"
    for name, kind, path in (("events", "uri_file", f"{root}/events/events.parquet"),
                             ("parts", "uri_folder", f"{root}/parts/")):  # fmt: skip
        version_services.version_create(
            actor=owner, workspace=workspace, kind=Kind.DATA, name=name, version="1",
            fields={"type": kind, "path": path},
        )  # fmt: skip
    select, split = registered["select_columns_in_dataset"], registered["split_data"]
    d = drafts.draft_create(actor=owner, workspace=workspace, name="Events")
    for ref in ("azureml:events:1", "azureml:parts:1"):
        d = drafts.node_add(actor=owner, draft=d, kind="data", ref=ref)
    for row in (select, split):
        d = drafts.node_add(
            actor=owner, draft=d, kind="component", ref=f"azureml:{row.name}:{row.version}"
        )
    d = drafts.edge_connect(
        actor=owner, draft=d, source=["events", "data"],
        target=["select_columns_in_dataset", "dataset"],
    )  # fmt: skip
    d = drafts.edge_connect(
        actor=owner, draft=d, source=["parts", "data"], target=["split_data", "dataset"]
    )
    d = drafts.node_set(
        actor=owner, draft=d, node="select_columns_in_dataset", params={"columns": "user, when"}
    )
    d = drafts.node_set(
        actor=owner, draft=d, node="split_data",
        params={"fraction": 0.3, "randomized": False},
    )  # fmt: skip
    document = {**yaml.safe_load(pipeline_yaml.draft_export(actor=owner, draft=d)),
                "name": "designer-parquet"}  # fmt: skip
    pipeline = wait_for_end(job_submit(actor=owner, workspace=workspace, document=document))
    steps = {c.spec["step"]: c for c in pipeline.children.all()}
    logs = {k: [t for (t,) in c.log_lines.order_by("seq").values_list("text")][-15:]
            for k, c in steps.items()}  # fmt: skip
    assert pipeline.status == Job.Status.COMPLETED, ({k: c.error for k, c in steps.items()}, logs)
    assert steps["select_columns_in_dataset"].spec["inputs"]["dataset"]["type"] == "uri_file"
    base = "azureml/designer-parquet"
    with store.open_read(f"{base}-select_columns_in_dataset/results_dataset/data.csv") as fh:
        lines = fh.read().decode().splitlines()
    assert lines[:3] == ["user,when", "u0,2024-01-01", "u1,2024-01-02"] and len(lines) == 11
    with store.open_read(f"{base}-split_data/results_dataset1/data.csv") as fh:
        first = fh.read().decode().splitlines()
    with store.open_read(f"{base}-split_data/results_dataset2/data.csv") as fh:
        rest = fh.read().decode().splitlines()
    assert [line.split(",")[0] for line in first[1:]] == ["u0", "u1", "u2"]
    assert [line.split(",")[0] for line in rest[1:]] == [f"u{i}" for i in range(3, 10)]
