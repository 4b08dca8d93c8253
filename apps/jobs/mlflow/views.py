"""The MLflow tracking REST API, as plain Django views (no DRF: cheaper per call, and the
artifact PUT must stream its raw body).

Each view: authenticate (auth.py: token, role, run-token scope), parse the request message
(protos.py), call a selector or service, answer with the response message. Errors come out
as MLflow's `{"error_code", "message"}` with the status the client expects, never a 500 for
bad input (the client retries 500s for minutes).
"""

from __future__ import annotations

import functools
import logging
import mimetypes
import posixpath

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.http import HttpRequest, HttpResponse, JsonResponse
from google.protobuf.json_format import MessageToDict
from mlflow.exceptions import MlflowException
from mlflow.protos import mlflow_artifacts_pb2 as apb
from mlflow.protos import service_pb2 as pb
from mlflow.utils.validation import _validate_batch_log_limits

from apps.workspaces import permissions
from apps.workspaces.permissions import Action
from studio.downloads import file_download
from studio.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationError

from .. import artifacts, selectors
from ..models import Job, LoggedModel
from ..services import logged_models as model_services
from ..services import tracking
from . import auth, protos
from .auth import Caller

log = logging.getLogger(__name__)

VIEW, RUN = Action.JOB_VIEW, Action.JOB_RUN


# Plumbing ----------------------------------------------------------------------------------


def _error(code: str, message: str, status: int) -> JsonResponse:
    response = JsonResponse({"error_code": code, "message": message}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="studio"'
    return response


def error_response(exc: Exception) -> JsonResponse:
    """Any error as MLflow's JSON error with the status its code maps to."""
    if isinstance(exc, MlflowException):
        return _error(exc.error_code, exc.message, exc.get_http_status_code())
    if isinstance(exc, auth.Unauthenticated):
        return _error("UNAUTHENTICATED", exc.message, 401)
    if isinstance(exc, NotFound):
        return _error("RESOURCE_DOES_NOT_EXIST", exc.message, 404)
    if isinstance(exc, PermissionDenied):
        return _error("PERMISSION_DENIED", exc.message, 403)
    if isinstance(exc, Conflict):
        return _error("RESOURCE_ALREADY_EXISTS", exc.message, 400)
    if isinstance(exc, protos.MalformedRequest):
        return _error("MALFORMED_REQUEST", exc.message, 400)
    if isinstance(exc, DomainError) and exc.status_code >= 500:
        return _error("TEMPORARILY_UNAVAILABLE", exc.message, 503)
    if isinstance(exc, DomainError):
        return _error("INVALID_PARAMETER_VALUE", exc.message, 400)
    if isinstance(exc, DjangoValidationError):
        return _error("INVALID_PARAMETER_VALUE", "; ".join(exc.messages), 400)
    if isinstance(exc, (DataError, IntegrityError)):
        return _error("INVALID_PARAMETER_VALUE", f"The database refused a value: {exc}", 400)
    log.exception("MLflow API error")
    return _error("INTERNAL_ERROR", "Internal error; see the studio's logs.", 500)


def dispatch(request: HttpRequest, methods: dict[str, str], workspace_name: str, **kwargs):
    """Run the view named for the request's method (see urls.lazy); every error comes out
    as MLflow's JSON."""
    name = methods.get(request.method)
    if name is None:
        allowed = ", ".join(sorted(methods))
        return _error("ENDPOINT_NOT_FOUND", f"Use {allowed} on this endpoint.", 405)
    try:
        return globals()[name](request, workspace_name, **kwargs)
    except Exception as exc:  # noqa: BLE001 - every error becomes MLflow's JSON
        return error_response(exc)


def endpoint(action: Action, *, run_token: bool = False):
    """Authenticate for `action`; a run token gets through only if `run_token` (the view
    then checks its scope)."""

    def decorate(fn):
        @functools.wraps(fn)
        def handler(request, workspace_name, **kwargs):
            caller = auth.authenticate(request, workspace_name, action)
            if not run_token:
                caller.deny_run_token()
            return fn(request, caller, **kwargs)

        return handler

    return decorate


def _experiment(caller: Caller, experiment_id) -> object:
    experiment = selectors.experiment_get(
        actor=caller.user, workspace=caller.workspace, experiment_id=experiment_id or "0"
    )
    caller.check_experiment(experiment.pk)
    return experiment


def _run(caller: Caller, run_id: str, *, with_data: bool = False) -> Job:
    caller.check_run(run_id)
    return selectors.run_get(
        actor=caller.user, workspace=caller.workspace, run_id=run_id, with_data=with_data
    )


def _view_type(value: int) -> str:
    return pb.ViewType.Name(value) if value else "ACTIVE_ONLY"


# Experiments -------------------------------------------------------------------------------


@endpoint(VIEW, run_token=True)
def experiment_get_by_name(request, caller):
    msg = protos.parse(request, pb.GetExperimentByName)
    experiment = selectors.experiment_get_by_name(
        actor=caller.user, workspace=caller.workspace, name=protos.required(msg, "experiment_name")
    )
    caller.check_experiment(experiment.pk)
    return protos.respond(pb.GetExperimentByName.Response(experiment=protos.experiment(experiment)))


@endpoint(VIEW, run_token=True)
def experiment_get(request, caller):
    msg = protos.parse(request, pb.GetExperiment)
    experiment = _experiment(caller, protos.required(msg, "experiment_id"))
    return protos.respond(pb.GetExperiment.Response(experiment=protos.experiment(experiment)))


@endpoint(RUN)
def experiment_create(request, caller):
    msg = protos.parse(request, pb.CreateExperiment)
    if msg.artifact_location:
        raise ValidationError.for_field(
            "artifact_location",
            "Not supported: artifacts live in the workspace's artifact datastore.",
        )
    experiment = tracking.experiment_create(
        actor=caller.user,
        workspace=caller.workspace,
        name=protos.required(msg, "name"),
        tags=[(t.key, t.value) for t in msg.tags],
    )
    return protos.respond(pb.CreateExperiment.Response(experiment_id=str(experiment.pk)))


@endpoint(VIEW)
def experiment_search(request, caller):
    msg = protos.parse(request, pb.SearchExperiments)
    experiments, token = selectors.experiment_search(
        actor=caller.user,
        workspace=caller.workspace,
        view_type=_view_type(msg.view_type),
        filter_string=msg.filter,
        order_by=list(msg.order_by),
        max_results=msg.max_results or None,
        page_token=msg.page_token or None,
    )
    response = pb.SearchExperiments.Response(
        experiments=[protos.experiment(e) for e in experiments]
    )
    if token:
        response.next_page_token = token
    return protos.respond(response)


@endpoint(RUN)
def experiment_update(request, caller):
    msg = protos.parse(request, pb.UpdateExperiment)
    experiment = _experiment(caller, protos.required(msg, "experiment_id"))
    if msg.new_name:
        tracking.experiment_rename(actor=caller.user, experiment=experiment, new_name=msg.new_name)
    return protos.respond()


def _lifecycle(stage: str):
    @endpoint(RUN)
    def view(request, caller):
        msg = protos.parse(request, pb.DeleteExperiment)
        experiment = _experiment(caller, protos.required(msg, "experiment_id"))
        tracking.experiment_set_lifecycle(actor=caller.user, experiment=experiment, stage=stage)
        return protos.respond()

    return view


experiment_delete = _lifecycle("deleted")
experiment_restore = _lifecycle("active")


@endpoint(RUN)
def experiment_set_tag(request, caller):
    msg = protos.parse(request, pb.SetExperimentTag)
    experiment = _experiment(caller, protos.required(msg, "experiment_id"))
    tracking.experiment_set_tag(
        actor=caller.user, experiment=experiment, key=protos.required(msg, "key"), value=msg.value
    )
    return protos.respond()


@endpoint(RUN)
def experiment_delete_tag(request, caller):
    msg = protos.parse(request, pb.DeleteExperimentTag)
    experiment = _experiment(caller, protos.required(msg, "experiment_id"))
    tracking.experiment_delete_tag(
        actor=caller.user, experiment=experiment, key=protos.required(msg, "key")
    )
    return protos.respond()


# Runs ---------------------------------------------------------------------------------------


@endpoint(RUN)
def run_create(request, caller):
    msg = protos.parse(request, pb.CreateRun)
    experiment = _experiment(caller, msg.experiment_id)
    job = tracking.run_create(
        actor=caller.user,
        experiment=experiment,
        user_id=msg.user_id,
        run_name=msg.run_name,
        start_time=msg.start_time if msg.HasField("start_time") else None,
        tags=[(t.key, t.value) for t in msg.tags],
    )
    job = selectors.run_get(actor=caller.user, workspace=caller.workspace, run_id=job.run_id)
    return protos.respond(pb.CreateRun.Response(run=protos.run(job)))


@endpoint(RUN, run_token=True)
def run_update(request, caller):
    msg = protos.parse(request, pb.UpdateRun)
    job = _run(caller, protos.required(msg, "run_id", "run_uuid"))
    job = tracking.run_update(
        actor=caller.user,
        job=job,
        status=pb.RunStatus.Name(msg.status) if msg.HasField("status") else None,
        end_time=msg.end_time if msg.HasField("end_time") else None,
        run_name=msg.run_name if msg.HasField("run_name") else None,
    )
    return protos.respond(pb.UpdateRun.Response(run_info=protos.run_info(job)))


@endpoint(VIEW, run_token=True)
def run_get(request, caller):
    msg = protos.parse(request, pb.GetRun)
    job = _run(caller, protos.required(msg, "run_id", "run_uuid"), with_data=True)
    return protos.respond(pb.GetRun.Response(run=protos.run(job)))


def _run_lifecycle(stage: str):
    @endpoint(RUN)
    def view(request, caller):
        msg = protos.parse(request, pb.DeleteRun)
        job = _run(caller, protos.required(msg, "run_id"))
        tracking.run_set_lifecycle(actor=caller.user, job=job, stage=stage)
        return protos.respond()

    return view


run_delete = _run_lifecycle("deleted")
run_restore = _run_lifecycle("active")


def _log(caller: Caller, run_id: str, **batch) -> HttpResponse:
    caller.check_run(run_id)
    tracking.run_log(
        actor=caller.user,
        workspace=caller.workspace,
        run_id=tracking.parse_run_id(run_id),
        **batch,
    )
    return protos.respond()


@endpoint(RUN, run_token=True)
def run_log_metric(request, caller):
    """Hot path: read without protobuf (see protos.metric_from_json)."""
    data = protos.read_json(request)
    metric = protos.metric_from_json(data)
    return _log(caller, protos.run_id_from_json(data), metrics=[metric])


@endpoint(RUN, run_token=True)
def run_log_batch(request, caller):
    """Hot path: up to 1,000 metrics, 100 params and 100 tags in constant queries."""
    data = protos.read_json(request)
    metrics = protos.metrics_from_json(data.get("metrics") or [])
    params = protos.pairs_from_json(data.get("params"), "params")
    tags = protos.pairs_from_json(data.get("tags"), "tags")
    _validate_batch_log_limits(metrics, params, tags)
    return _log(caller, protos.run_id_from_json(data), metrics=metrics, params=params, tags=tags)


@endpoint(RUN, run_token=True)
def run_log_parameter(request, caller):
    msg = protos.parse(request, pb.LogParam)
    key = protos.required(msg, "key")
    return _log(caller, protos.required(msg, "run_id", "run_uuid"), params=[(key, msg.value)])


@endpoint(RUN, run_token=True)
def run_set_tag(request, caller):
    msg = protos.parse(request, pb.SetTag)
    key = protos.required(msg, "key")
    return _log(caller, protos.required(msg, "run_id", "run_uuid"), tags=[(key, msg.value)])


@endpoint(RUN, run_token=True)
def run_delete_tag(request, caller):
    msg = protos.parse(request, pb.DeleteTag)
    job = _run(caller, protos.required(msg, "run_id"))
    tracking.run_delete_tag(actor=caller.user, job=job, key=protos.required(msg, "key"))
    return protos.respond()


@endpoint(VIEW)
def run_search(request, caller):
    msg = protos.parse(request, pb.SearchRuns)
    jobs, token = selectors.run_search(
        actor=caller.user,
        workspace=caller.workspace,
        experiment_ids=list(msg.experiment_ids),
        filter_string=msg.filter,
        order_by=list(msg.order_by),
        view_type=_view_type(msg.run_view_type),
        max_results=msg.max_results if msg.HasField("max_results") else None,
        page_token=msg.page_token or None,
    )
    response = pb.SearchRuns.Response(runs=[protos.run(job) for job in jobs])
    if token:
        response.next_page_token = token
    return protos.respond(response)


@endpoint(RUN, run_token=True)
def run_log_inputs(request, caller):
    """The datasets and logged models the run used."""
    msg = protos.parse(request, pb.LogInputs)
    job = _run(caller, protos.required(msg, "run_id"))
    datasets = [
        tracking.DatasetIn(
            name=d.dataset.name,
            digest=d.dataset.digest,
            source_type=d.dataset.source_type,
            source=d.dataset.source,
            schema=d.dataset.schema,
            profile=d.dataset.profile,
            tags=tuple((t.key, t.value) for t in d.tags),
        )
        for d in msg.datasets
    ]
    models = [m.model_id for m in msg.models if m.model_id]
    tracking.run_log_inputs(actor=caller.user, job=job, datasets=datasets, models=models)
    return protos.respond()


@endpoint(RUN, run_token=True)
def run_log_outputs(request, caller):
    msg = protos.parse(request, pb.LogOutputs)
    job = _run(caller, protos.required(msg, "run_id"))
    models = [(m.model_id, m.step) for m in msg.models]
    tracking.run_log_outputs(actor=caller.user, job=job, models=models)
    return protos.respond()


@endpoint(VIEW, run_token=True)
def metric_get_history(request, caller):
    msg = protos.parse(request, pb.GetMetricHistory)
    job = _run(caller, protos.required(msg, "run_id", "run_uuid"))
    samples, token = selectors.metric_history(
        actor=caller.user,
        workspace=caller.workspace,
        job=job,
        key=protos.required(msg, "metric_key"),
        max_results=msg.max_results or None,
        page_token=msg.page_token or None,
    )
    response = pb.GetMetricHistory.Response(metrics=[protos.metric(s) for s in samples])
    if token:
        response.next_page_token = token
    return protos.respond(response)


MAX_BULK_RUNS, MAX_BULK_RESULTS = 100, 2500


@endpoint(VIEW)
def metric_get_history_bulk_interval(request, caller):
    msg = protos.parse(request, pb.GetMetricHistoryBulkInterval)
    if not msg.run_ids or len(msg.run_ids) > MAX_BULK_RUNS:
        raise ValidationError.for_field("run_ids", f"Give 1 to {MAX_BULK_RUNS} run ids.")
    has_start, has_end = msg.HasField("start_step"), msg.HasField("end_step")
    if has_start != has_end:
        raise ValidationError.for_field("start_step", "Give both start_step and end_step.")
    if has_start and msg.start_step > msg.end_step:
        raise ValidationError.for_field("end_step", "Must not be less than start_step.")
    max_results = msg.max_results if msg.HasField("max_results") else MAX_BULK_RESULTS
    if not 1 <= max_results <= MAX_BULK_RESULTS:
        raise ValidationError.for_field("max_results", f"Must be 1 to {MAX_BULK_RESULTS}.")
    samples = selectors.metric_history_sampled(
        actor=caller.user,
        workspace=caller.workspace,
        run_ids=list(msg.run_ids),
        key=protos.required(msg, "metric_key"),
        max_results=max_results,
        start_step=msg.start_step if has_start else None,
        end_step=msg.end_step if has_end else None,
    )
    metrics = [
        pb.MetricWithRunId(
            key=s.key, value=s.value, timestamp=s.timestamp_ms, step=s.step, run_id=s.job_id.hex
        )
        for s in samples
    ]
    return protos.respond(pb.GetMetricHistoryBulkInterval.Response(metrics=metrics))


# Logged models --------------------------------------------------------------------------------


def _model(caller: Caller, model_id: str) -> LoggedModel:
    model = selectors.logged_model_get(
        actor=caller.user, workspace=caller.workspace, model_id=model_id
    )
    caller.check_model(model)
    return model


def _model_response(cls, model: LoggedModel) -> HttpResponse:
    metrics = selectors.logged_model_metrics([model])[model.model_id]
    return protos.respond(cls.Response(model=protos.logged_model(model, metrics)))


@endpoint(RUN, run_token=True)
def logged_model_create(request, caller):
    msg = protos.parse(request, pb.CreateLoggedModel)
    experiment = _experiment(caller, protos.required(msg, "experiment_id"))
    source_job = None
    if msg.source_run_id:
        source_job = _run(caller, msg.source_run_id)
    elif caller.is_run_token:
        raise PermissionDenied(auth.SCOPE_DENIED)
    model = model_services.logged_model_create(
        actor=caller.user,
        experiment=experiment,
        name=msg.name,
        model_type=msg.model_type,
        source_job=source_job,
        params=[(p.key, p.value) for p in msg.params],
        tags=[(t.key, t.value) for t in msg.tags],
    )
    return _model_response(pb.CreateLoggedModel, model)


@endpoint(VIEW, run_token=True)
def logged_model_get(request, caller, model_id):
    return _model_response(pb.GetLoggedModel, _model(caller, model_id))


@endpoint(RUN, run_token=True)
def logged_model_finalize(request, caller, model_id):
    msg = protos.parse(request, pb.FinalizeLoggedModel)
    if not msg.HasField("status"):
        raise ValidationError.for_field("status", "Missing value for required parameter 'status'.")
    model = model_services.logged_model_finalize(
        actor=caller.user,
        model=_model(caller, model_id),
        status=pb.LoggedModelStatus.Name(msg.status),
    )
    return _model_response(pb.FinalizeLoggedModel, model)


@endpoint(RUN, run_token=True)
def logged_model_delete(request, caller, model_id):
    model_services.logged_model_delete(actor=caller.user, model=_model(caller, model_id))
    return protos.respond()


@endpoint(RUN, run_token=True)
def logged_model_set_tags(request, caller, model_id):
    msg = protos.parse(request, pb.SetLoggedModelTags)
    model = model_services.logged_model_set_tags(
        actor=caller.user,
        model=_model(caller, model_id),
        tags=[(t.key, t.value) for t in msg.tags],
    )
    return _model_response(pb.SetLoggedModelTags, model)


@endpoint(RUN, run_token=True)
def logged_model_delete_tag(request, caller, model_id, tag_key):
    model_services.logged_model_delete_tag(
        actor=caller.user, model=_model(caller, model_id), key=tag_key
    )
    return protos.respond()


@endpoint(RUN, run_token=True)
def logged_model_log_params(request, caller, model_id):
    msg = protos.parse(request, pb.LogLoggedModelParamsRequest)
    model_services.logged_model_log_params(
        actor=caller.user,
        model=_model(caller, model_id),
        params=[(p.key, p.value) for p in msg.params],
    )
    return protos.respond()


@endpoint(VIEW, run_token=True)
def logged_model_search(request, caller):
    """A run token sees only its own run's models (the client searches by name when it
    lists a run's artifacts)."""
    msg = protos.parse(request, pb.SearchLoggedModels)
    for experiment_id in msg.experiment_ids:
        _experiment(caller, experiment_id)
    models, token = selectors.logged_model_search(
        actor=caller.user,
        workspace=caller.workspace,
        experiment_ids=list(msg.experiment_ids),
        filter_string=msg.filter,
        order_by=[MessageToDict(o, preserving_proto_field_name=True) for o in msg.order_by],
        max_results=msg.max_results or None,
        page_token=msg.page_token or None,
        source_job_id=caller.scope_job_id,
    )
    metrics = selectors.logged_model_metrics(models)
    response = pb.SearchLoggedModels.Response(
        models=[protos.logged_model(m, metrics[m.model_id]) for m in models]
    )
    if token:
        response.next_page_token = token
    return protos.respond(response)


@endpoint(VIEW, run_token=True)
def logged_model_list_artifacts(request, caller, model_id):
    msg = protos.parse(request, pb.ListLoggedModelArtifacts)
    model = _model(caller, model_id)
    sub = artifacts.clean(msg.artifact_directory_path, field="artifact_directory_path")
    root = f"{model.experiment_id}/models/{model.model_id}/artifacts"
    target = posixpath.join(root, sub) if sub else root
    entries = (
        []
        if artifacts.is_file(caller.workspace, target)
        else artifacts.list(caller.workspace, target)
    )
    files = [_file_info(posixpath.join(sub, e.path) if sub else e.path, e) for e in entries]
    return protos.respond(
        pb.ListLoggedModelArtifacts.Response(root_uri=model.artifact_uri, files=files)
    )


# Artifacts ------------------------------------------------------------------------------------


def _file_info(path: str, entry: artifacts.ArtifactEntry) -> pb.FileInfo:
    info = pb.FileInfo(path=path, is_dir=entry.is_dir)
    if entry.size is not None and not entry.is_dir:
        info.file_size = entry.size
    return info


ARTIFACT_PATHS = (
    "<experiment id>/<run id>/artifacts/... or <experiment id>/models/<model id>/artifacts/..."
)


def _artifact_path(caller: Caller, path: str | None, *, file: bool = False) -> str:
    """The cleaned path after checking it is under a run's or a logged model's artifacts
    in this workspace (strictly below, for a `file`), and within a run token's scope."""
    rel = artifacts.clean(path)
    parts = rel.split("/")
    if file and len(parts) < (5 if len(parts) > 1 and parts[1] == "models" else 4):
        raise ValidationError.for_field("path", f"Give a file name under {ARTIFACT_PATHS}")
    if len(parts) >= 4 and parts[0].isdigit() and parts[1] == "models" and parts[3] == "artifacts":
        model = LoggedModel.objects.filter(
            model_id=parts[2], experiment_id=int(parts[0]), experiment__workspace=caller.workspace
        ).first()
        if model is None:
            raise NotFound(f"Logged model with ID '{parts[2]}' not found.")
        caller.check_model(model)
        return rel
    if len(parts) >= 3 and parts[0].isdigit() and parts[2] == "artifacts":
        caller.check_run(parts[1])
        found = Job.objects.filter(
            pk=tracking.parse_run_id(parts[1]),
            workspace=caller.workspace,
            experiment_id=int(parts[0]),
        ).exists()
        if not found:
            raise NotFound(f"Run with id={parts[1]} not found")
        return rel
    raise ValidationError.for_field("path", f"Artifact paths are {ARTIFACT_PATHS}")


def _readable_path(caller: Caller, path: str | None) -> str:
    """`_artifact_path`, or a path of the read-only `model-versions/` folder (a registered
    model version's files, see apps/jobs/artifacts.py): a read of a workspace asset, which a
    run token may make too, as its job's creator (a scoring job loads `models:/<name>/<n>`),
    though it reaches no other run's own artifacts."""
    rel = artifacts.clean(path)
    if not artifacts.is_model_version_path(rel):
        return _artifact_path(caller, path)
    permissions.require(caller.user, Action.ASSET_VIEW, caller.workspace)
    return rel


@endpoint(VIEW, run_token=True)
def artifact_list(request, caller):
    msg = protos.parse(request, apb.ListArtifacts)
    rel = _readable_path(caller, msg.path)
    files = [
        apb.FileInfo(
            path=e.path, is_dir=e.is_dir, **({} if e.size is None else {"file_size": e.size})
        )
        for e in artifacts.list(caller.workspace, rel)
    ]
    return protos.respond(apb.ListArtifacts.Response(files=files))


@endpoint(VIEW, run_token=True)
def artifact_download(request, caller, artifact_path):
    rel = _readable_path(caller, artifact_path)
    handle = artifacts.open(caller.workspace, rel)
    content_type = mimetypes.guess_type(rel)[0] or "application/octet-stream"
    return file_download(
        request, handle, name=posixpath.basename(rel), content_type=content_type, attachment=False
    )


@endpoint(RUN, run_token=True)
def artifact_upload(request, caller, artifact_path):
    """Stream the raw body into the store, 1 MiB at a time (never `request.body`)."""
    rel = _artifact_path(caller, artifact_path, file=True)
    artifacts.put_stream(caller.workspace, rel, request)
    return protos.respond()


@endpoint(RUN, run_token=True)
def artifact_delete(request, caller, artifact_path):
    rel = _artifact_path(caller, artifact_path)
    artifacts.delete(caller.workspace, rel)
    return protos.respond()


@endpoint(VIEW, run_token=True)
def legacy_artifact_list(request, caller):
    """The pre-proxy listing (`GET mlflow/artifacts/list?run_id=&path=`): paths relative to
    the run's artifact root."""
    msg = protos.parse(request, pb.ListArtifacts)
    job = _run(caller, protos.required(msg, "run_id", "run_uuid"))
    sub = artifacts.clean(msg.path)
    root = f"{job.experiment_id}/{job.run_id}/artifacts"
    target = posixpath.join(root, sub) if sub else root
    if artifacts.is_file(caller.workspace, target):
        return protos.respond(pb.ListArtifacts.Response(root_uri=job.artifact_uri))
    entries = artifacts.list(caller.workspace, target)
    files = [_file_info(posixpath.join(sub, e.path) if sub else e.path, e) for e in entries]
    return protos.respond(pb.ListArtifacts.Response(root_uri=job.artifact_uri, files=files))


@endpoint(VIEW, run_token=True)
def server_info(request, caller):
    """The capability probe: plain proxied transfers only (no multipart, no presigned)."""
    return JsonResponse(
        {
            "store_type": "SqlStore",
            "workspaces_enabled": False,
            "multipart_uploads_enabled": False,
            "multipart_downloads_enabled": False,
        }
    )
