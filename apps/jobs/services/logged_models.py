"""Writes of MLflow 3 logged models (`mlflow.<flavor>.log_model`): create, finalize, tags,
params, delete. Their files are artifacts under `<experiment>/models/<model id>/artifacts`.
Registering a logged model as a workspace Model asset is the model registry's job."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence

from django.db import transaction

from apps.workspaces import permissions
from apps.workspaces.permissions import Action
from studio.errors import NotFound, ValidationError

from .. import artifacts
from ..models import Experiment, Job, LoggedModel
from .tracking import mlflow_validation, now_ms

STATUSES = {s.value for s in LoggedModel.Status}


def _require(actor, model_or_experiment) -> None:
    experiment = getattr(model_or_experiment, "experiment", model_or_experiment)
    permissions.require(actor, Action.JOB_RUN, experiment.workspace)


def _pairs(items: Sequence[tuple[str, str]], validate, field: str) -> dict[str, str]:
    out = {}
    for i, (key, value) in enumerate(items):
        checked = validate(key, value, path=f"{field}[{i}]")
        out[checked.key] = checked.value
    return out


@transaction.atomic
def logged_model_create(
    *,
    actor,
    experiment: Experiment,
    name: str = "",
    model_type: str = "",
    source_job: Job | None = None,
    params: Sequence[tuple[str, str]] = (),
    tags: Sequence[tuple[str, str]] = (),
) -> LoggedModel:
    """A new logged model, PENDING until the client has uploaded its files and finalizes it."""
    _require(actor, experiment)
    if experiment.lifecycle_stage != Experiment.Lifecycle.ACTIVE:
        raise ValidationError.for_field("experiment_id", f"Experiment {experiment.pk} is deleted.")
    model_id = f"m-{uuid.uuid4().hex}"
    name = (name or model_id)[:500]
    if len(model_type) > 100:
        raise ValidationError.for_field("model_type", "At most 100 characters.")
    return LoggedModel.objects.create(
        model_id=model_id,
        experiment=experiment,
        source_job=source_job,
        name=name,
        model_type=model_type,
        params=_pairs(params, mlflow_validation()._validate_param, "params"),
        tags=_pairs(tags, mlflow_validation()._validate_tag, "tags"),
        creator=actor.get_username(),
    )


def _locked(model: LoggedModel) -> LoggedModel:
    return LoggedModel.objects.select_for_update().select_related("experiment").get(pk=model.pk)


@transaction.atomic
def logged_model_finalize(
    *, actor, model: LoggedModel, status: str, status_message: str = ""
) -> LoggedModel:
    """Mark a logged model READY (its files are all uploaded) or UPLOAD_FAILED."""
    _require(actor, model)
    if status not in STATUSES:
        raise ValidationError.for_field("status", f"Unknown logged model status '{status}'.")
    model = _locked(model)
    model.status = status
    model.status_message = status_message
    model.updated_ms = now_ms()
    model.save(update_fields=["status", "status_message", "updated_ms"])
    return model


@transaction.atomic
def logged_model_set_tags(
    *, actor, model: LoggedModel, tags: Sequence[tuple[str, str]]
) -> LoggedModel:
    _require(actor, model)
    model = _locked(model)
    model.tags = {**model.tags, **_pairs(tags, mlflow_validation()._validate_tag, "tags")}
    model.updated_ms = now_ms()
    model.save(update_fields=["tags", "updated_ms"])
    return model


@transaction.atomic
def logged_model_delete_tag(*, actor, model: LoggedModel, key: str) -> None:
    _require(actor, model)
    model = _locked(model)
    if key not in model.tags:
        raise NotFound(f"No tag with key '{key}' on logged model '{model.model_id}'.")
    model.tags = {k: v for k, v in model.tags.items() if k != key}
    model.updated_ms = now_ms()
    model.save(update_fields=["tags", "updated_ms"])


@transaction.atomic
def logged_model_log_params(
    *, actor, model: LoggedModel, params: Sequence[tuple[str, str]]
) -> None:
    """Add params to a logged model; as for runs, a key keeps its first value."""
    _require(actor, model)
    model = _locked(model)
    new = _pairs(params, mlflow_validation()._validate_param, "params")
    for key, value in new.items():
        if key in model.params and model.params[key] != value:
            raise ValidationError.for_field(
                "params",
                f"Changing param values is not allowed. Param with key='{key}' was already "
                f"logged with value='{model.params[key]}' for logged model "
                f"'{model.model_id}'. Attempted logging new value '{value}'.",
            )
    model.params = {**model.params, **new}
    model.updated_ms = now_ms()
    model.save(update_fields=["params", "updated_ms"])


@transaction.atomic
def logged_model_delete(*, actor, model: LoggedModel) -> None:
    """Delete a logged model and, once that is committed, its files."""
    _require(actor, model)
    workspace = model.experiment.workspace
    folder = f"{model.experiment_id}/models/{model.model_id}"
    LoggedModel.objects.filter(pk=model.pk).delete()

    def _delete_files() -> None:
        with contextlib.suppress(NotFound):
            artifacts.delete(workspace, folder)

    transaction.on_commit(_delete_files)
