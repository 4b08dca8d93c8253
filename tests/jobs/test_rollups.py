"""Metric rollups: kept in step with the samples however they are logged, rebuilt the same
from existing samples, and a long series drawn from them keeps its spikes, its first and last
points and its order, in a few queries."""

from __future__ import annotations

import importlib
import math
import random
from types import SimpleNamespace

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.jobs import downsample, selectors
from apps.jobs.models import Job, MetricRollup, MetricSample
from apps.jobs.services import rollups, tracking
from tests.matrix.jobs_runs import make_run

pytestmark = pytest.mark.django_db


def _rows(job):
    return sorted(
        MetricRollup.objects.filter(job=job).values_list(
            "key", "bucket", "n", "step_lo", "step_hi", "t_lo", "t_hi",
            "v_lo", "v_lo_step", "v_hi", "v_hi_step", "v_sum",
        )
    )  # fmt: skip


def _expected(job):
    samples = MetricSample.objects.filter(job=job).values_list(
        "key", "step", "timestamp_ms", "value"
    )
    return sorted((k, b, *row) for (k, b), row in rollups.summarize(samples).items())


def _close(a, b):
    return len(a) == len(b) and all(
        x[:-1] == y[:-1] and math.isclose(x[-1], y[-1], rel_tol=1e-9)
        for x, y in zip(a, b, strict=True)
    )


def test_rollups_follow_the_samples_across_batches_that_share_blocks(owner, workspace):
    job = make_run(workspace, name="rolled")
    rng = random.Random(7)
    steps = list(range(0, 3500))
    rng.shuffle(steps)
    for start in range(0, len(steps), 700):  # batches in random step order, blocks shared
        batch = [
            tracking.MetricIn("loss", rng.uniform(-5, 5), 1_000 + s, s)
            for s in steps[start : start + 700]
        ]
        tracking.run_log(actor=owner, workspace=workspace, run_id=job.pk, metrics=batch)
    tracking.run_log(
        actor=owner, workspace=workspace, run_id=job.pk,
        metrics=[tracking.MetricIn("acc", 0.5, 5, 12)],
    )  # fmt: skip
    assert _close(_rows(job), _expected(job))
    assert [r[1] for r in _rows(job) if r[0] == "loss"] == [0, 1, 2, 3]


def test_the_migration_rebuilds_the_same_rollups_from_the_samples(owner, workspace):
    job = make_run(workspace, name="rebuilt", metrics={"m": [float(i % 17) for i in range(2500)]})
    incremental = _rows(job)
    migration = importlib.import_module("apps.jobs.migrations.0004_metric_rollup")
    MetricRollup.objects.all().delete()
    # what the backfill reads of its schema editor: the connection's alias (a real schema
    # editor cannot open inside the test's transaction on SQLite)
    migration.backfill(django_apps, SimpleNamespace(connection=connection))
    assert _close(_rows(job), incremental) and incremental


def _long_series(job: Job, n: int) -> None:
    """n points of `loss` at steps 0..n-1 (a slow decay with one spike up and one down)."""
    values = [10.0 / (1 + s / 1000) for s in range(n)]
    values[n // 3] = 1e6
    values[2 * n // 3] = -1e6
    samples = [("loss", s, 1_000_000 + s, v) for s, v in enumerate(values)]
    MetricSample.objects.bulk_create(
        MetricSample(job=job, key=k, step=s, timestamp_ms=t, value=v) for k, s, t, v in samples
    )
    rollups.upsert(job.pk, samples)


def test_a_long_series_is_drawn_from_its_rollups_with_spikes_first_and_last(owner, workspace):
    job = make_run(workspace, name="long")
    n = downsample.ROLLUP_THRESHOLD + 20_000
    _long_series(job, n)
    with CaptureQueriesContext(connection) as ctx:
        points, total = selectors.job_metric_series(job=job, key="loss", max_points=200)
    assert len(ctx.captured_queries) <= 3
    assert total == n and len(points) <= 200
    steps = [p.step for p in points]
    assert steps == sorted(steps) and steps[0] == 0 and steps[-1] == n - 1
    values = {p.value for p in points}
    assert 1e6 in values and -1e6 in values
    assert points[-1].value == pytest.approx(10.0 / (1 + (n - 1) / 1000))


def test_too_few_blocks_for_the_points_asked_fall_back_to_the_samples(owner, workspace):
    job = make_run(workspace, name="coarse")
    _long_series(job, downsample.ROLLUP_THRESHOLD + 20_000)  # 120 blocks
    assert downsample.series_from_rollups(job.pk, "loss", 2000) is None
    points, total = selectors.job_metric_series(job=job, key="loss", max_points=2000)
    assert len(points) > 1000 and total == downsample.ROLLUP_THRESHOLD + 20_000


def test_a_short_series_is_still_down_sampled_exactly_from_its_samples(owner, workspace):
    job = make_run(workspace, name="short", metrics={"m": [float(i) for i in range(3000)]})
    assert downsample.series_from_rollups(job.pk, "m", 500) is None
    points, total = selectors.job_metric_series(job=job, key="m", max_points=500)
    assert total == 3000 and len(points) <= 500
