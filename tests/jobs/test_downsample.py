"""Server-side down-sampling of metric histories: few points, first and last kept, spikes
kept, in x order, computed by the database."""

from __future__ import annotations

import math

import pytest

from apps.jobs import downsample
from apps.jobs.downsample import Point
from apps.jobs.models import MetricSample
from tests.matrix.jobs_runs import make_run


def _points(values):
    return [Point(i, float(v), 1000 * i) for i, v in enumerate(values)]


def test_a_short_series_is_returned_whole():
    points = _points(range(10))
    assert downsample.minmax(points, 100) == points


def test_a_long_series_keeps_first_last_and_each_buckets_extremes():
    values = [math.sin(i / 50) for i in range(100_000)]
    values[54_321] = 10.0  # a spike an average would hide
    out = downsample.minmax(_points(values), 2000)
    assert len(out) <= 2000
    assert out[0].step == 0 and out[-1].step == 99_999
    assert max(p.value for p in out) == 10.0
    assert [p.step for p in out] == sorted(p.step for p in out)


@pytest.mark.django_db
def test_the_database_series_has_at_most_max_points_and_keeps_the_ends(workspace):
    job = make_run(workspace, name="ds")
    values = [1.0 / (i + 1) for i in range(20_000)]
    values[7_777] = 50.0
    MetricSample.objects.bulk_create(
        [
            MetricSample(job=job, key="loss", value=v, step=i, timestamp_ms=i)
            for i, v in enumerate(values)
        ],
        batch_size=5000,
    )
    points, total = downsample.series(MetricSample.objects.filter(job=job, key="loss"), 500)
    assert total == 20_000
    assert len(points) <= 500
    assert points[0].as_list() == [0, 1.0, 0]
    assert points[-1].step == 19_999
    assert any(p.value == 50.0 for p in points)
    steps = [p.step for p in points]
    assert steps == sorted(steps)


@pytest.mark.django_db
def test_a_falling_series_stays_falling_inside_each_bucket(workspace):
    job = make_run(workspace, name="fall")
    MetricSample.objects.bulk_create(
        [
            MetricSample(job=job, key="loss", value=10_000 - i, step=i, timestamp_ms=i)
            for i in range(10_000)
        ]
    )
    points, _ = downsample.series(MetricSample.objects.filter(job=job, key="loss"), 200)
    values = [p.value for p in points]
    assert values == sorted(values, reverse=True)


@pytest.mark.django_db
def test_all_points_at_step_zero_are_bucketed_by_time(workspace):
    job = make_run(workspace, name="t")
    MetricSample.objects.bulk_create(
        [
            MetricSample(job=job, key="m", value=i, step=0, timestamp_ms=1000 + i)
            for i in range(5000)
        ]
    )
    points, total = downsample.series(MetricSample.objects.filter(job=job, key="m"), 100)
    assert total == 5000 and 50 <= len(points) <= 100
    times = [p.ts for p in points]
    assert times == sorted(times)
