"""Down-sampling of metric histories on the server, so that a chart of a million points loads
in well under a second: the browser gets at most ~2,000 points per series.

The method is min/max per bucket (M4's cousin): the x range is cut into equal buckets, and
each bucket sends its lowest and highest value, so spikes survive (an average would hide
them). The first and last points are always sent exactly. The buckets are computed by the
database in one GROUP BY (`series`), never by loading the samples into Python; `minmax` does
the same on a list in memory (tests, small series).

Within a bucket the two points are sent in the order the series went: rising (the
covariance of x and value is positive) low then high, falling high then low, so a falling
loss curve does not turn into a saw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Avg, Count, F, FloatField, Max, Min, QuerySet
from django.db.models.functions import Cast, Floor

DEFAULT_MAX_POINTS = 2000
MAX_POINTS_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class Point:
    """One point of a series: step, value and time (ms since the epoch)."""

    step: int
    value: float
    ts: int

    def as_list(self) -> list:
        return [self.step, self.value, self.ts]


def _bucket_of(x: float, x0: float, width: float, buckets: int) -> int:
    return min(int((x - x0) // width), buckets - 1)


def minmax(points: Sequence[Point], max_points: int, *, by: str = "step") -> list[Point]:
    """At most `max_points` points of `points` (in x order): first, last, and each bucket's
    lowest and highest value."""
    if max_points < 4:
        raise ValueError("max_points must be at least 4")
    if len(points) <= max_points:
        return list(points)
    first, last = points[0], points[-1]
    inner = points[1:-1]
    buckets = (max_points - 2) // 2
    x0, x1 = getattr(inner[0], by), getattr(inner[-1], by)
    width = max((x1 - x0 + 1) / buckets, 1e-12)
    groups: dict[int, list[Point]] = {}
    for p in inner:
        groups.setdefault(_bucket_of(getattr(p, by), x0, width, buckets), []).append(p)
    out = [first]
    for b in sorted(groups):
        group = groups[b]
        lo = min(group, key=lambda p: p.value)
        hi = max(group, key=lambda p: p.value)
        pair = sorted({id(lo): lo, id(hi): hi}.values(), key=lambda p: (getattr(p, by), p.step))
        out += pair
    out.append(last)
    return out


def _x_field(stats: dict) -> str:
    """Bucket by step, unless every point has the same step (mlflow's default step 0):
    then by time."""
    return "step" if stats["hi_step"] != stats["lo_step"] else "timestamp_ms"


def series(qs: QuerySet, max_points: int = DEFAULT_MAX_POINTS) -> tuple[list[Point], int]:
    """The samples of `qs` (MetricSample rows of one job and key) down-sampled to at most
    `max_points` points, and the number of samples. Four queries at most, whatever the size:
    the stats, the first and last points, and the buckets."""
    max_points = max(4, min(int(max_points), MAX_POINTS_LIMIT))
    stats = qs.aggregate(
        n=Count("id"),
        lo_step=Min("step"),
        hi_step=Max("step"),
        lo_ts=Min("timestamp_ms"),
        hi_ts=Max("timestamp_ms"),
    )
    total = stats["n"]
    ordered = qs.order_by("step", "timestamp_ms", "id")
    if total <= max_points:
        rows = ordered.values_list("step", "value", "timestamp_ms")
        return [Point(*r) for r in rows], total
    # Ordered as the (job, key, step, timestamp_ms) index is, so each is one index probe.
    fields = ("step", "value", "timestamp_ms")
    first = Point(*qs.order_by("step", "timestamp_ms").values_list(*fields)[0])
    last = Point(*qs.order_by("-step", "-timestamp_ms").values_list(*fields)[0])
    x = _x_field(stats)
    lo = stats["lo_step"] if x == "step" else stats["lo_ts"]
    hi = stats["hi_step"] if x == "step" else stats["hi_ts"]
    buckets = (max_points - 2) // 2
    width = max((hi - lo + 1) / buckets, 1e-9)
    fx = Cast(F(x), FloatField())
    rows = (
        qs.annotate(_b=Floor((fx - lo) / width))
        .values("_b")
        .annotate(
            x0=Min("step"),
            x1=Max("step"),
            t0=Min("timestamp_ms"),
            t1=Max("timestamp_ms"),
            vlo=Min("value"),
            vhi=Max("value"),
            mx=Avg(fx),
            mv=Avg("value"),
            mxv=Avg(fx * F("value")),
        )
        .order_by("_b")
    )
    out = [first]
    for r in rows:
        rising = (r["mxv"] or 0) - (r["mx"] or 0) * (r["mv"] or 0) >= 0
        a, b = (r["vlo"], r["vhi"]) if rising else (r["vhi"], r["vlo"])
        out.append(Point(r["x0"], a, r["t0"]))
        if r["x1"] != r["x0"] or r["vlo"] != r["vhi"] or r["t1"] != r["t0"]:
            out.append(Point(r["x1"], b, r["t1"]))
    out.append(last)
    return out, total


# A series longer than this is drawn from its rollups (apps/jobs/services/rollups.py) when
# it has them; a shorter one is down-sampled exactly from its samples.
ROLLUP_THRESHOLD = 100_000


def series_from_rollups(
    job_id, key: str, max_points: int = DEFAULT_MAX_POINTS
) -> tuple[list[Point], int] | None:
    """A long series down-sampled from its rollups (a thousand rows for a million points):
    the same min/max per bucket, buckets made of whole rollup blocks; the first and last
    points exact. None when the series is short, has no rollups, or is logged at one step
    (then buckets are by time: `series()`)."""
    from .models import MetricRollup, MetricSample

    max_points = max(4, min(int(max_points), MAX_POINTS_LIMIT))
    rows = list(
        MetricRollup.objects.filter(job_id=job_id, key=key)
        .order_by("bucket")
        .values_list(
            "bucket", "n", "step_lo", "step_hi", "t_lo", "t_hi",
            "v_lo", "v_lo_step", "v_hi", "v_hi_step",
        )
    )  # fmt: skip
    total = sum(r[1] for r in rows)
    buckets = (max_points - 2) // 2
    if (
        total <= max(ROLLUP_THRESHOLD, max_points)
        or len(rows) < buckets // 2  # too few blocks for a fine enough chart: scan instead
        or rows[0][2] == rows[-1][3]
    ):
        return None
    samples = MetricSample.objects.filter(job_id=job_id, key=key)
    fields = ("step", "value", "timestamp_ms")
    # Ordered as the (job, key, step, timestamp_ms) index is, so each is one index probe.
    first = Point(*samples.order_by("step", "timestamp_ms").values_list(*fields)[0])
    last = Point(*samples.order_by("-step", "-timestamp_ms").values_list(*fields)[0])
    b0, b1 = rows[0][0], rows[-1][0]
    span = b1 - b0 + 1
    groups: dict[int, list] = {}
    for row in rows:
        g = (row[0] - b0) * buckets // span
        held = groups.get(g)
        if held is None:
            groups[g] = list(row)
            continue
        held[4], held[5] = min(held[4], row[4]), max(held[5], row[5])
        if row[6] < held[6]:
            held[6], held[7] = row[6], row[7]
        if row[8] > held[8]:
            held[8], held[9] = row[8], row[9]
    out = [first]
    for g in sorted(groups):
        _b, _n, _s0, _s1, t0, t1, vlo, vlo_step, vhi, vhi_step = groups[g]
        pair = sorted({(vlo_step, vlo, t0), (vhi_step, vhi, t1)})
        out += [Point(step, value, ts) for step, value, ts in pair]
    out.append(last)
    return out, total
