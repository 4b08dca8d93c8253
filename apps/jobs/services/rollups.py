"""Metric rollups: per job, key and block of `MetricRollup.ROLLUP_STEPS` steps, the count,
step and time range, the lowest and highest value (with their steps) and the sum, kept up to
date in the same transaction as the samples. Charts of very long series are drawn from them
(downsample.series_from_rollups): a million points are a thousand rollup rows, not a scan.

`upsert()` is called wherever samples are written (the tracking services, the runner's
system metrics); `rebuild_all()` fills the table from existing samples (the migration).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.db import connection

ROLLUP_STEPS = 1000  # = MetricRollup.ROLLUP_STEPS (kept here for the migration)

COLUMNS = (
    ("job_id", "uuid"),
    ("key", "text"),
    ("bucket", "int8"),
    ("n", "int8"),
    ("step_lo", "int8"),
    ("step_hi", "int8"),
    ("t_lo", "int8"),
    ("t_hi", "int8"),
    ("v_lo", "float8"),
    ("v_lo_step", "int8"),
    ("v_hi", "float8"),
    ("v_hi_step", "int8"),
    ("v_sum", "float8"),
)


def summarize(samples: Iterable[tuple[str, int, int, float]]) -> dict[tuple[str, int], list]:
    """(key, step, timestamp_ms, value) samples → {(key, bucket): summary row}."""
    out: dict[tuple[str, int], list] = {}
    for key, step, ts, value in samples:
        bucket = step // ROLLUP_STEPS
        row = out.get((key, bucket))
        if row is None:
            out[(key, bucket)] = [1, step, step, ts, ts, value, step, value, step, value]
            continue
        row[0] += 1
        row[1], row[2] = min(row[1], step), max(row[2], step)
        row[3], row[4] = min(row[3], ts), max(row[4], ts)
        if value < row[5]:
            row[5], row[6] = value, step
        if value > row[7]:
            row[7], row[8] = value, step
        row[9] += value
    return out


def _tail(table: str) -> str:
    q = connection.ops.quote_name
    least, greatest = ("LEAST", "GREATEST") if connection.vendor == "postgresql" else ("min", "max")

    def keep(col: str, fn: str) -> str:
        return f"{q(col)} = {fn}({table}.{q(col)}, excluded.{q(col)})"

    def follow(col: str, by: str, op: str) -> str:
        return (
            f"{q(col)} = CASE WHEN excluded.{q(by)} {op} {table}.{q(by)} "
            f"THEN excluded.{q(col)} ELSE {table}.{q(col)} END"
        )

    sets = [
        f"{q('n')} = {table}.{q('n')} + excluded.{q('n')}",
        keep("step_lo", least),
        keep("step_hi", greatest),
        keep("t_lo", least),
        keep("t_hi", greatest),
        follow("v_lo_step", "v_lo", "<"),
        keep("v_lo", least),
        follow("v_hi_step", "v_hi", ">"),
        keep("v_hi", greatest),
        f"{q('v_sum')} = {table}.{q('v_sum')} + excluded.{q('v_sum')}",
    ]
    conflict = ", ".join(q(c) for c in ("job_id", "key", "bucket"))
    return f"ON CONFLICT ({conflict}) DO UPDATE SET " + ", ".join(sets)


def statement(job_id: uuid.UUID, samples: Iterable[tuple[str, int, int, float]]):
    """The upsert that folds new samples of one job into its rollups, as (table, columns,
    rows, ON CONFLICT tail) for tracking._insert_all: the caller writes it in the same
    statement as the samples."""
    from ..models import Job, MetricRollup
    from .tracking import _table

    summaries = summarize(samples)
    job = Job._meta.pk.get_db_prep_value(job_id, connection)
    rows = [(job, key, bucket, *row) for (key, bucket), row in summaries.items()]
    table = _table(MetricRollup)
    return table, COLUMNS, rows, _tail(table)


def upsert(job_id: uuid.UUID, samples: Iterable[tuple[str, int, int, float]]) -> None:
    """Fold new samples of one job into its rollups (one statement)."""
    from .tracking import _insert_all

    _insert_all([statement(job_id, samples)])


def rebuild_all(sample_model, rollup_model) -> None:
    """Rollups of every existing sample (run once by the migration)."""
    rollup_model.objects.all().delete()
    pending: list = []
    current: tuple | None = None
    samples: list = []

    def flush(job_id, rows):
        for (key, bucket), row in summarize(rows).items():
            pending.append(rollup_model(job_id=job_id, key=key, bucket=bucket, **dict(
                zip([c for c, _ in COLUMNS[3:]], row, strict=True)
            )))  # fmt: skip
        if len(pending) >= 5000:
            rollup_model.objects.bulk_create(pending)
            pending.clear()

    ordered = sample_model.objects.order_by("job_id", "key", "step").values_list(
        "job_id", "key", "step", "timestamp_ms", "value"
    )
    for job_id, key, step, ts, value in ordered.iterator(chunk_size=10_000):
        if current is not None and (job_id, key) != current:
            flush(current[0], samples)
            samples = []
        current = (job_id, key)
        samples.append((key, step, ts, value))
    if current is not None:
        flush(current[0], samples)
    rollup_model.objects.bulk_create(pending)
