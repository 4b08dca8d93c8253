"""MLflow's wire format, with MLflow's own protos (mlflow-skinny's `mlflow.protos`): request
parsing, the studio's rows as MLflow messages, and JSON responses.

GET requests carry the message as query parameters (repeated fields repeat the parameter);
other methods carry a JSON body. Unknown fields are ignored, as the reference server does.

Hot path: log-metric and log-batch bodies are read by `metrics_from_json` without protobuf's
pure-Python JSON parser, which costs ~30 ms per 1,000 metrics; it applies the same type
rules (numbers, or strings for int64 and NaN/Infinity).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from django.http import HttpRequest, HttpResponse
from google.protobuf import descriptor
from google.protobuf.json_format import ParseDict, ParseError
from mlflow.protos import service_pb2 as pb
from mlflow.utils.proto_json_utils import message_to_json

from studio.errors import ValidationError

from ..models import DatasetInput, Experiment, Job, JobModelOutput, LoggedModel
from ..services.tracking import STATUS_TO_MLFLOW, MetricIn

MAX_BODY = 32 * 2**20  # a JSON request body (log-inputs may carry a 16 MB dataset profile)


class MalformedRequest(ValidationError):
    code = "MALFORMED_REQUEST"


def read_json(request: HttpRequest) -> dict[str, Any]:
    """The request's JSON object ({} for an empty body). Reads the stream, not
    `request.body`, whose 2.5 MB limit a dataset profile may pass."""
    raw = request.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise MalformedRequest(f"The request body is larger than {MAX_BODY} bytes.")
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedRequest(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MalformedRequest("The request body must be a JSON object.")
    return data


def _query_dict(request: HttpRequest, message) -> dict[str, Any]:
    """Query parameters as the message's JSON: repeated fields as lists (as MLflow's server
    does, since a parameter given once reads as a single value)."""
    out: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        if field.name not in request.GET:
            continue
        if field.is_repeated:
            out[field.name] = request.GET.getlist(field.name)
        else:
            value = request.GET[field.name]
            if field.type == descriptor.FieldDescriptor.TYPE_BOOL:
                if value.lower() not in ("true", "false"):
                    raise ValidationError.for_field(field.name, "Must be 'true' or 'false'.")
                value = value.lower() == "true"
            out[field.name] = value
    return out


def parse(request: HttpRequest, message_cls, data: dict | None = None):
    """The request as a message of `message_cls` (query parameters on GET, JSON otherwise)."""
    message = message_cls()
    if data is None:
        data = _query_dict(request, message) if request.method == "GET" else read_json(request)
    try:
        ParseDict(data, message, ignore_unknown_fields=True)
    except ParseError as exc:
        raise ValidationError(f"Invalid request: {exc}") from None
    _check_enums(message, data)
    return message


def _check_enums(message, data: dict) -> None:
    """Refuse an unknown enum name (status, view types), which ParseDict would drop
    silently with ignore_unknown_fields."""
    for field in message.DESCRIPTOR.fields:
        value = data.get(field.name)
        if field.enum_type is not None and isinstance(value, str):
            if value not in field.enum_type.values_by_name:
                names = ", ".join(field.enum_type.values_by_name)
                raise ValidationError.for_field(field.name, f"'{value}' is not one of {names}.")


def required(message, *names: str) -> str:
    """The first of `names` that is set (MLflow sends run_id and the legacy run_uuid);
    INVALID_PARAMETER_VALUE naming the field if none is."""
    for name in names:
        value = getattr(message, name)
        if value not in ("", None):
            return value
    raise ValidationError.for_field(names[0], f"Missing value for required parameter '{names[0]}'.")


def respond(message=None, status: int = 200) -> HttpResponse:
    """A JSON response of the message (int64 as JSON numbers, as the reference server)."""
    body = "{}" if message is None else message_to_json(message, pretty=False)
    return HttpResponse(body, status=status, content_type="application/json")


# Hot path: metrics without protobuf ---------------------------------------------------------

_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _double(value, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValidationError.for_field(field, f"Expected a number, got {value!r}.")
    if isinstance(value, str):
        if value in _SPECIAL:
            return _SPECIAL[value]
        try:
            return float(value)
        except ValueError:
            raise ValidationError.for_field(field, f"Expected a number, got {value!r}.") from None
    return float(value)


def _int64(value, field: str) -> int:
    if isinstance(value, bool):
        raise ValidationError.for_field(field, f"Expected an integer, got {value!r}.")
    if isinstance(value, int):
        result = value
    elif isinstance(value, float) and value.is_integer():
        result = int(value)
    elif isinstance(value, str) and value.lstrip("-").isdigit():
        result = int(value)
    else:
        raise ValidationError.for_field(field, f"Expected an integer, got {value!r}.")
    if not -(2**63) <= result < 2**63:
        raise ValidationError.for_field(field, "Out of the int64 range.")
    return result


def _str(value, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError.for_field(field, f"Expected a string, got {value!r}.")
    return value


_SLOW_FIELDS = ("model_id", "dataset_name", "dataset_digest")
_INT64 = 2**63


def metrics_from_json(items: Any, path: str = "metrics") -> list[MetricIn]:
    """A list of Metric messages' JSON as MetricIns, with protobuf's JSON type rules. Hot
    path: the common shape (a plain key, a float, int timestamp and step, no model or
    dataset) is read in this loop; anything else goes through `_metric_checked`."""
    if not isinstance(items, list):
        raise ValidationError.for_field(path, "Expected a list.")
    out: list[MetricIn] = []
    append = out.append
    for i, item in enumerate(items):
        if type(item) is dict and not any(name in item for name in _SLOW_FIELDS):
            key, value = item.get("key"), item.get("value")
            timestamp, step = item.get("timestamp"), item.get("step", 0)
            if (
                type(key) is str
                and key
                and type(value) is float
                and type(timestamp) is int
                and type(step) is int
                and 0 <= timestamp < _INT64
                and -_INT64 <= step < _INT64
            ):
                append(MetricIn(key, value, timestamp, step))
                continue
        append(_metric_checked(item, f"{path}[{i}]."))
    return out


def metric_from_json(item: Any) -> MetricIn:
    """The metric of a log-metric request (its fields at the top level)."""
    if not isinstance(item, dict):
        raise ValidationError("The request body must be a JSON object.")
    return _metric_checked(item, "")


def _metric_checked(item: Any, prefix: str) -> MetricIn:
    if not isinstance(item, dict):
        raise ValidationError.for_field(prefix.rstrip(".") or "metric", "Expected an object.")
    key = _str(item.get("key"), f"{prefix}key")
    if not key:
        raise ValidationError.for_field(f"{prefix}key", "Missing value for required parameter.")
    if item.get("value") is None:
        raise ValidationError.for_field(f"{prefix}value", "Missing value for required parameter.")
    if item.get("timestamp") is None:
        raise ValidationError.for_field(
            f"{prefix}timestamp", "Missing value for required parameter."
        )
    return MetricIn(
        key=key,
        value=_double(item["value"], f"{prefix}value"),
        timestamp=_int64(item.get("timestamp", 0), f"{prefix}timestamp"),
        step=_int64(item.get("step") or 0, f"{prefix}step"),
        model_id=_str(item.get("model_id"), f"{prefix}model_id"),
        dataset_name=_str(item.get("dataset_name"), f"{prefix}dataset_name"),
        dataset_digest=_str(item.get("dataset_digest"), f"{prefix}dataset_digest"),
    )


def pairs_from_json(items: Any, path: str) -> list[tuple[str, str]]:
    """A list of {key, value} objects (params, tags) as (key, value) pairs."""
    if items is None:
        return []
    if not isinstance(items, list):
        raise ValidationError.for_field(path, "Expected a list.")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValidationError.for_field(f"{path}[{i}]", "Expected an object.")
        key = _str(item.get("key"), f"{path}[{i}].key")
        if not key:
            raise ValidationError.for_field(f"{path}[{i}].key", "Missing value.")
        out.append((key, _str(item.get("value"), f"{path}[{i}].value")))
    return out


def run_id_from_json(data: dict) -> str:
    run_id = data.get("run_id") or data.get("run_uuid")
    if not run_id or not isinstance(run_id, str):
        raise ValidationError.for_field("run_id", "Missing value for required parameter 'run_id'.")
    return run_id


# Rows as messages ---------------------------------------------------------------------------


def _ms(dt) -> int:
    return int(dt.timestamp() * 1000)


def experiment(exp: Experiment) -> pb.Experiment:
    return pb.Experiment(
        experiment_id=str(exp.pk),
        name=exp.name,
        artifact_location=exp.artifact_location,
        lifecycle_stage=exp.lifecycle_stage,
        last_update_time=_ms(exp.updated_at),
        creation_time=_ms(exp.created_at),
        tags=[pb.ExperimentTag(key=k, value=str(v)) for k, v in exp.tags.items()],
    )


def run_info(job: Job) -> pb.RunInfo:
    info = pb.RunInfo(
        run_id=job.run_id,
        run_uuid=job.run_id,
        run_name=job.display_name or job.name,
        experiment_id=str(job.experiment_id),
        user_id=job.mlflow_user or (job.created_by.get_username() if job.created_by else ""),
        status=pb.RunStatus.Value(STATUS_TO_MLFLOW[job.status]),
        artifact_uri=job.artifact_uri,
        lifecycle_stage=job.lifecycle_stage,
    )
    if job.start_time_ms is not None:
        info.start_time = job.start_time_ms
    if job.end_time_ms is not None:
        info.end_time = job.end_time_ms
    return info


def metric(sample, *, run_id: str | None = None) -> pb.Metric:
    """A MetricSample or LatestMetric as a Metric message."""
    msg = pb.Metric(
        key=sample.key, value=sample.value, timestamp=sample.timestamp_ms, step=sample.step
    )
    for name in ("model_id", "dataset_name", "dataset_digest"):
        if value := getattr(sample, name, ""):
            setattr(msg, name, value)
    if run_id:
        msg.run_id = run_id
    return msg


def _kv(cls, items: dict | Iterable) -> list:
    pairs = items.items() if isinstance(items, dict) else items
    return [cls(key=k, value=str(v)) for k, v in pairs]


def dataset_input(row: DatasetInput) -> pb.DatasetInput:
    return pb.DatasetInput(
        tags=_kv(pb.InputTag, row.tags),
        dataset=pb.Dataset(
            name=row.name,
            digest=row.digest,
            source_type=row.source_type,
            source=row.source,
            schema=row.schema,
            profile=row.profile,
        ),
    )


def run(job: Job) -> pb.Run:
    """A run with its data, inputs and outputs; the job's related rows must be prefetched
    (params, latest_metrics, dataset_inputs, model_inputs, model_outputs), see
    selectors.runs_with_data."""
    outputs: list[JobModelOutput] = list(job.model_outputs.all())
    return pb.Run(
        info=run_info(job),
        data=pb.RunData(
            metrics=[metric(m) for m in job.latest_metrics.all()],
            params=[pb.Param(key=p.key, value=p.value) for p in job.params.all()],
            tags=_kv(pb.RunTag, job.tags),
        ),
        inputs=pb.RunInputs(
            dataset_inputs=[dataset_input(d) for d in job.dataset_inputs.all()],
            model_inputs=[
                pb.ModelInput(model_id=i.logged_model_id) for i in job.model_inputs.all()
            ],
        ),
        outputs=pb.RunOutputs(
            model_outputs=[pb.ModelOutput(model_id=o.logged_model_id, step=o.step) for o in outputs]
        ),
    )


def logged_model(model: LoggedModel, metrics: Iterable = ()) -> pb.LoggedModel:
    info = pb.LoggedModelInfo(
        model_id=model.model_id,
        experiment_id=str(model.experiment_id),
        name=model.name,
        creation_timestamp_ms=model.created_ms,
        last_updated_timestamp_ms=model.updated_ms,
        artifact_uri=model.artifact_uri,
        status=pb.LoggedModelStatus.Value(model.status),
        model_type=model.model_type,
        tags=_kv(pb.LoggedModelTag, sorted(model.tags.items())),
    )
    if model.source_job_id:
        info.source_run_id = model.source_job_id.hex
    if model.status_message:
        info.status_message = model.status_message
    return pb.LoggedModel(
        info=info,
        data=pb.LoggedModelData(
            params=_kv(pb.LoggedModelParameter, sorted(model.params.items())),
            metrics=[metric(m, run_id=m.job_id.hex) for m in metrics],
        ),
    )
