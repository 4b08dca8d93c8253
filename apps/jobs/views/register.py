"""A job page's "Register model" one-click (GET/POST w/<ws>/jobs/<job>/register-model/).

The form offers what the job produced: its named outputs, the MLflow models in its artifacts
(folders holding an MLmodel file), the logged models of its run (MLflow 3) and the whole
artifact folder; or any path in its artifacts. POST hands it to
`apps.assets.services.models.model_register_from_job` and goes to the new version's page.
"""

from __future__ import annotations

import posixpath
import re

from django import forms
from django.shortcuts import redirect, render
from django.urls import path, reverse

from apps.assets.models import ModelVersion
from apps.assets.services import models as model_services
from apps.workspaces.permissions import Action
from apps.workspaces.views.workspaces import _form_errors, workspace_view
from studio.errors import DomainError
from studio.htmx import HtmxHttpRequest

from .. import selectors
from ..models import Job, LoggedModel

# How many artifact files are looked at for MLmodel files (a big run stays fast).
WALK_LIMIT = 2000
DETECT = ""


def output_choices(job: Job) -> list[tuple[str, str]]:
    """(value for model_register_from_job, label): MLflow models first (the likely pick)."""
    mlflow_folders, outputs, logged = [], [], []
    for rel, _size in selectors.job_artifact_walk(job=job, limit=WALK_LIMIT):
        if posixpath.basename(rel) == model_services.MLMODEL:
            folder = posixpath.dirname(rel)
            label = f"MLflow model in the artifacts: {folder or '(the artifact folder)'}"
            mlflow_folders.append((folder or "artifacts", label))
    for model in LoggedModel.objects.filter(source_job=job).order_by("-created_ms"):
        logged.append(
            (f"models:/{model.model_id}", f"Logged model '{model.name}' ({model.model_id})")
        )
    for row in selectors.job_outputs(job=job):
        outputs.append((row["name"], f"Output '{row['name']}' ({row['type']})"))
    everything = [("artifacts", "The run's whole artifact folder (outputs, logs)")]
    seen, choices = set(), []
    for value, label in mlflow_folders + logged + outputs + everything:
        if value not in seen:
            seen.add(value)
            choices.append((value, label))
    return choices


def default_name(job: Job) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", job.experiment.name if job.experiment_id else "")
    base = base.strip("-._") or "model"
    return f"{base}-model"[:255]


class RegisterModelForm(forms.Form):
    output = forms.ChoiceField(label="Output", help_text="What the job produced to register.")
    path = forms.CharField(
        max_length=2048,
        required=False,
        label="Or a path in the run's artifacts",
        help_text="e.g. outputs/model; overrides the choice above.",
    )
    name = forms.CharField(max_length=255, label="Model name")
    version = forms.CharField(max_length=64, required=False, help_text="Empty: the next number.")
    type = forms.ChoiceField(
        choices=[(DETECT, "Detect (mlflow_model when there is an MLmodel file)")]
        + list(ModelVersion.Type.choices),
        required=False,
    )

    def __init__(self, *args, choices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["output"].choices = choices
        if choices:
            self.fields["output"].initial = choices[0][0]


@workspace_view(Action.ASSET_CREATE)
def job_register_model(request: HtmxHttpRequest, workspace, job_name: str):
    job = selectors.job_get(actor=request.user, workspace=workspace, name=job_name)
    choices = output_choices(job)
    initial = {"name": default_name(job)}
    if request.GET.get("output") in {value for value, _label in choices}:
        initial["output"] = request.GET["output"]  # a logged model's Register link
    form = RegisterModelForm(request.POST or None, choices=choices, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                row = model_services.model_register_from_job(
                    actor=request.user,
                    job=job,
                    output_or_path=(data.get("path") or "").strip() or data["output"],
                    name=data["name"].strip(),
                    version=data.get("version") or None,
                    type=data.get("type") or None,
                )
            except DomainError as exc:
                if "path" in exc.fields and not (data.get("path") or "").strip():
                    exc.fields["output"] = exc.fields.pop("path")
                _form_errors(form, exc)
            else:
                return redirect(
                    reverse(
                        "assets:version-detail",
                        args=[workspace.name, "models", row.name, row.version],
                    )
                )
        status = 422
    context = {"workspace": workspace, "job": job, "form": form}
    return render(request, "jobs/job_register_model.html", context, status=status)


urlpatterns = [
    path(
        "w/<str:name>/jobs/<str:job_name>/register-model/",
        job_register_model,
        name="job-register-model",
    ),
]
