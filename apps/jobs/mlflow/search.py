"""MLflow's search grammar (filter strings, order_by, view types) translated to ORM queries.

Filters are parsed by MLflow's own `SearchUtils` / `SearchExperimentsUtils`; each clause
becomes its own condition: an EXISTS subquery on params, latest metrics or dataset inputs,
a JSON key lookup on tags, or a column comparison for attributes. Nothing joins metrics x
params x tags (mlflow/mlflow#1865).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlparse
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from mlflow.exceptions import MlflowException
from mlflow.utils.search_utils import (
    SearchExperimentsUtils,
    SearchUtils,
    _join_in_comparison_tokens,
)

from studio.errors import ValidationError

from ..models import DatasetInput, JobParam, LatestMetric, MetricSample
from ..services.tracking import STATUS_TO_MLFLOW

VIEW_TYPES = {"ACTIVE_ONLY": ["active"], "DELETED_ONLY": ["deleted"], "ALL": ["active", "deleted"]}
NUMERIC_OPS = {"=": "exact", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}


def lifecycle(qs: QuerySet, view_type: str) -> QuerySet:
    stages = VIEW_TYPES.get(view_type or "ACTIVE_ONLY")
    if stages is None:
        raise ValidationError.for_field("view_type", f"Unknown view type '{view_type}'.")
    return qs.filter(lifecycle_stage__in=stages)


def json_text(key: str, field: str) -> Cast:
    """A JSON object's value at `key` as text (NULL when absent). Cast, so that lookups are
    plain text ones: on SQLite a bare key transform's `exact` wraps the value as JSON."""
    return Cast(KeyTextTransform(key, field), TextField())


def like_regex(pattern: str) -> str:
    """A SQL LIKE pattern ('%', '_') as an anchored regular expression."""
    parts = [".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern]
    return "^" + "".join(parts) + "$"


def _compare(field: str, op: str, value) -> Q:
    """`field <op> value` for the string and numeric operators of MLflow's grammar."""
    op = op.upper()
    if op in NUMERIC_OPS:
        return Q(**{f"{field}__{NUMERIC_OPS[op]}": value})
    if op == "!=":
        return ~Q(**{field: value}) & Q(**{f"{field}__isnull": False})
    if op == "LIKE":
        return Q(**{f"{field}__regex": like_regex(value)})
    if op == "ILIKE":
        return Q(**{f"{field}__iregex": like_regex(value)})
    if op == "IN":
        return Q(**{f"{field}__in": list(value)})
    if op == "NOT IN":
        return ~Q(**{f"{field}__in": list(value)}) & Q(**{f"{field}__isnull": False})
    raise ValidationError.for_field("filter", f"Unsupported comparator '{op}'.")


def _parse(parser, text: str) -> list[dict]:
    try:
        return parser.parse_search_filter(text)
    except MlflowException:
        raise
    except Exception as exc:  # sqlparse may fail on odd input: still a bad filter
        raise ValidationError.for_field("filter", f"Could not parse '{text}': {exc}") from None


# Runs -----------------------------------------------------------------------------------


def _status_values(op: str, value) -> tuple[str, list[str]]:
    """An MLflow status comparison as (positive or negative, job statuses)."""
    names = list(value) if op.upper() in ("IN", "NOT IN") else [value]
    if op.upper() in ("LIKE", "ILIKE"):
        flags = re.IGNORECASE if op.upper() == "ILIKE" else 0
        names = [n for n in set(STATUS_TO_MLFLOW.values()) if re.match(like_regex(value), n, flags)]
    statuses = [s for s, mlflow in STATUS_TO_MLFLOW.items() if mlflow in names]
    return ("exclude" if op.upper() in ("!=", "NOT IN") else "include"), statuses


def _run_attribute(key: str, op: str, value) -> Q:
    key = SearchUtils.translate_key_alias(key)
    if key in ("start_time", "end_time"):
        return _compare(f"{key}_ms", op, value)
    if key == "run_name":
        return _compare("display_name", op, value)
    if key == "user_id":
        return _compare("mlflow_user", op, value)
    if key == "status":
        mode, statuses = _status_values(op, value)
        return ~Q(status__in=statuses) if mode == "exclude" else Q(status__in=statuses)
    if key == "run_id":
        if op.upper() not in ("=", "!=", "IN", "NOT IN"):
            raise ValidationError.for_field("filter", f"run_id supports =, !=, IN, NOT IN: {op}.")
        values = list(value) if op.upper() in ("IN", "NOT IN") else [value]
        ids = [v.lower() for v in values if re.fullmatch(r"[0-9a-fA-F]{32}", v)]
        inside = Q(pk__in=ids)
        return ~inside if op.upper() in ("!=", "NOT IN") else inside
    raise ValidationError.for_field("filter", f"Filtering runs on '{key}' is not supported.")


def _exists(model, op: str, value, field: str, **match) -> Q:
    """EXISTS a row of `model` for the run matching `field <op> value` (IS [NOT] NULL: any)."""
    rows = model.objects.filter(job=OuterRef("pk"), **match)
    op = op.upper()
    if op == "IS NULL":
        return ~Exists(rows)
    if op == "IS NOT NULL":
        return Exists(rows)
    return Exists(rows.filter(_compare(field, op, value)))


def runs_filter(qs: QuerySet, filter_string: str) -> QuerySet:
    for i, clause in enumerate(_parse(SearchUtils, filter_string)):
        kind, key, op, value = clause["type"], clause["key"], clause["comparator"], clause["value"]
        if SearchUtils.is_metric(kind, op):
            qs = qs.filter(_exists(LatestMetric, op, float(value), "value", key=key))
        elif SearchUtils.is_param(kind, op):
            qs = qs.filter(_exists(JobParam, op, value, "value", key=key))
        elif SearchUtils.is_tag(kind, op):
            alias = f"_tag{i}"
            qs = qs.alias(**{alias: json_text(key, "tags")})
            if op.upper() in ("IS NULL", "IS NOT NULL"):
                qs = qs.filter(**{f"{alias}__isnull": op.upper() == "IS NULL"})
            else:
                qs = qs.filter(_compare(alias, op, value))
        elif SearchUtils.is_dataset(kind, op):
            qs = qs.filter(_dataset_clause(key, op, value))
        elif SearchUtils.is_attribute(kind, key, op):
            qs = qs.filter(_run_attribute(key, op, value))
        else:
            raise ValidationError.for_field("filter", f"Unsupported clause on '{kind}.{key}'.")
    return qs


def _dataset_clause(key: str, op: str, value) -> Q:
    rows = DatasetInput.objects.filter(job=OuterRef("pk"))
    if key == "context":
        rows = rows.alias(_ctx=json_text("mlflow.data.context", "tags"))
        return Exists(rows.filter(_compare("_ctx", op, value)))
    return Exists(rows.filter(_compare(key, op, value)))


def _run_sort_expression(kind: str, key: str):
    if kind == "metric":
        rows = LatestMetric.objects.filter(job=OuterRef("pk"), key=key)
        return Subquery(rows.values("value")[:1])
    if kind == "parameter":
        return Subquery(JobParam.objects.filter(job=OuterRef("pk"), key=key).values("value")[:1])
    if kind == "tag":
        return json_text(key, "tags")
    key = SearchUtils.translate_key_alias(key)
    fields = {
        "start_time": "start_time_ms",
        "end_time": "end_time_ms",
        "run_name": "display_name",
        "status": "status",
        "user_id": "mlflow_user",
        "run_id": "id",
        "artifact_uri": "id",
    }
    if key not in fields:
        raise ValidationError.for_field("order_by", f"Cannot order runs by '{key}'.")
    return F(fields[key])


def runs_order(qs: QuerySet, order_by: Sequence[str]) -> QuerySet:
    """Order as asked, values missing last either way (as MLflow), then newest first."""
    ordering = []
    for i, clause in enumerate(order_by or ()):
        kind, key, ascending = SearchUtils.parse_order_by_for_search_runs(clause)
        alias = f"_order{i}"
        qs = qs.alias(**{alias: _run_sort_expression(kind, key)})
        expr = F(alias)
        ordering.append(expr.asc(nulls_last=True) if ascending else expr.desc(nulls_last=True))
    return qs.order_by(*ordering, F("start_time_ms").desc(nulls_last=True), "id")


# Experiments ----------------------------------------------------------------------------


def _ms_to_datetime(value) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


EXPERIMENT_FIELDS = {
    "name": "name",
    "experiment_id": "pk",
    "creation_time": "created_at",
    "last_update_time": "updated_at",
}


def experiments_filter(qs: QuerySet, filter_string: str) -> QuerySet:
    for i, clause in enumerate(_parse(SearchExperimentsUtils, filter_string)):
        kind, key, op, value = clause["type"], clause["key"], clause["comparator"], clause["value"]
        if kind == "tag":
            alias = f"_tag{i}"
            qs = qs.alias(**{alias: json_text(key, "tags")})
            if op.upper() in ("IS NULL", "IS NOT NULL"):
                qs = qs.filter(**{f"{alias}__isnull": op.upper() == "IS NULL"})
            else:
                qs = qs.filter(_compare(alias, op, value))
            continue
        field = EXPERIMENT_FIELDS.get(key)
        if field is None:
            raise ValidationError.for_field("filter", f"Cannot filter experiments on '{key}'.")
        if key in ("creation_time", "last_update_time"):
            value = _ms_to_datetime(value)
        elif key == "experiment_id":
            if not str(value).isdigit():
                return qs.none()
            value = int(value)
        qs = qs.filter(_compare(field, op, value))
    return qs


def experiments_order(qs: QuerySet, order_by: Sequence[str]) -> QuerySet:
    ordering = []
    for clause in order_by or ():
        _kind, key, ascending = SearchExperimentsUtils.parse_order_by_for_search_experiments(clause)
        expr = F(EXPERIMENT_FIELDS[key])
        ordering.append(expr.asc() if ascending else expr.desc())
    return qs.order_by(*ordering, "-created_at", "pk")


# Logged models ---------------------------------------------------------------------------

MODEL_FIELDS = {
    "name": "name",
    "model_id": "model_id",
    "model_type": "model_type",
    "status": "status",
    "source_run_id": "source_job_id",
    "experiment_id": "experiment_id",
    "creation_time": "created_ms",
    "creation_timestamp": "created_ms",
    "creation_timestamp_ms": "created_ms",
    "last_updated_timestamp": "updated_ms",
    "last_updated_timestamp_ms": "updated_ms",
}
NUMERIC_MODEL_FIELDS = {"created_ms", "updated_ms"}
_ENTITY = re.compile(r"^([a-z]+)\.(.+)$")


def _model_comparisons(filter_string: str) -> list[tuple[str, str, str, object]]:
    """(entity, key, op, value) of a logged-model filter, as MLflow's
    search_logged_model_utils.parse_filter_string reads it."""
    if not filter_string:
        return []
    try:
        statements = sqlparse.parse(filter_string)
    except Exception as exc:
        raise ValidationError.for_field("filter", f"Invalid filter string: {exc}") from None
    if len(statements) != 1:
        raise ValidationError.for_field("filter", "Expected a single expression.")
    out = []
    for stmt in _join_in_comparison_tokens(statements[0].tokens):
        if isinstance(stmt, sqlparse.sql.Comparison):
            tokens = [str(t) for t in stmt.tokens if not t.is_whitespace]
            if len(tokens) != 3:
                raise ValidationError.for_field("filter", f"Invalid comparison: {stmt}.")
            identifier, op, value = tokens
            match = _ENTITY.match(identifier)
            entity, key = (match.group(1), match.group(2)) if match else ("attributes", identifier)
            out.append((entity, key.strip("`"), op.upper(), value))
        elif stmt.is_whitespace or stmt.value.strip().upper() == "AND":
            continue
        else:
            raise ValidationError.for_field(
                "filter", "Expected comparisons joined by AND (e.g. \"name = 'model'\")."
            )
    return out


def _model_value(raw: str, numeric: bool):
    if numeric:
        try:
            return float(raw)
        except ValueError:
            raise ValidationError.for_field("filter", f"Expected a number, got {raw}.") from None
    if raw.startswith("(") and raw.endswith(")"):
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            raise ValidationError.for_field("filter", f"Invalid list {raw}.") from None
        return (value,) if isinstance(value, str) else tuple(value)
    return raw.strip("'\"")


def logged_models_filter(qs: QuerySet, filter_string: str) -> QuerySet:
    for i, (entity, key, op, raw) in enumerate(_model_comparisons(filter_string)):
        if entity == "metrics":
            value = _model_value(raw, True)
            samples = MetricSample.objects.filter(model_id=OuterRef("model_id"), key=key)
            qs = qs.filter(Exists(samples.filter(_compare("value", op, value))))
        elif entity in ("params", "tags"):
            alias = f"_{entity}{i}"
            qs = qs.alias(**{alias: json_text(key, entity)})
            qs = qs.filter(_compare(alias, op, _model_value(raw, False)))
        elif entity == "attributes":
            field = MODEL_FIELDS.get(key)
            if field is None:
                raise ValidationError.for_field("filter", f"Unknown attribute '{key}'.")
            value = _model_value(raw, field in NUMERIC_MODEL_FIELDS)
            if field == "source_job_id":
                value = _run_ids(value)
                op = {"=": "IN", "!=": "NOT IN"}.get(op, op)
            qs = qs.filter(_compare(field, op, value))
        else:
            raise ValidationError.for_field("filter", f"Unknown entity '{entity}'.")
    return qs


def _run_ids(value) -> list[str]:
    values = value if isinstance(value, tuple) else (value,)
    return [v.lower() for v in values if re.fullmatch(r"[0-9a-fA-F]{32}", str(v))]


def logged_models_order(qs: QuerySet, order_by: Sequence[dict]) -> QuerySet:
    ordering = []
    for i, clause in enumerate(order_by or ()):
        name = clause.get("field_name", "")
        ascending = clause.get("ascending", True)
        match = _ENTITY.match(name)
        if match and match.group(1) == "metrics":
            samples = MetricSample.objects.filter(
                model_id=OuterRef("model_id"), key=match.group(2)
            ).order_by("-step", "-timestamp_ms")
            expr = Subquery(samples.values("value")[:1])
        elif match and match.group(1) in ("params", "tags"):
            expr = json_text(match.group(2), match.group(1))
        elif name in MODEL_FIELDS:
            expr = F(MODEL_FIELDS[name])
        else:
            raise ValidationError.for_field("order_by", f"Cannot order logged models by '{name}'.")
        alias = f"_order{i}"
        qs = qs.alias(**{alias: expr})
        ordering.append(
            F(alias).asc(nulls_last=True) if ascending else F(alias).desc(nulls_last=True)
        )
    return qs.order_by(*ordering, "-created_ms", "model_id")


__all__ = [
    "experiments_filter",
    "experiments_order",
    "lifecycle",
    "logged_models_filter",
    "logged_models_order",
    "runs_filter",
    "runs_order",
]
