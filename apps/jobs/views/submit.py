"""Author > Jobs > New (`w/<name>/jobs/-/new/`): submit a command job from a form (a code
zip or an earlier snapshot, command, environment, compute, inputs and outputs written as
YAML, experiment) or from pasted commandJob YAML.

The document is checked first (a dry run); only a valid one uploads its code zip, so a
wrong form leaves no snapshot behind. Errors go next to the field they name, with 422.
"""

from __future__ import annotations

import yaml
from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_http_methods

from apps.assets.services import code as code_services
from apps.workspaces.permissions import Action
from apps.workspaces.views.workspaces import workspace_view
from studio.errors import DomainError, ValidationError

from ..services import submit as submit_services

LOCAL_CODE = "./code"  # stands for the uploaded zip during the dry run

YAML_HELP = "Key: value lines, as under `inputs:` in a job YAML."


class JobForm(forms.Form):
    """The fields of a command job; `yaml` (when given) replaces all of them."""

    yaml = forms.CharField(
        required=False,
        label="Job YAML",
        widget=forms.Textarea(attrs={"rows": 14, "class": "mono", "spellcheck": "false"}),
        help_text="Paste a commandJob YAML (as for `az ml job create`); the fields below are "
        "then ignored, except the code zip or snapshot.",
    )
    code_zip = forms.FileField(required=False, label="Code (zip of the folder)")
    snapshot = forms.ChoiceField(required=False, label="…or an earlier code snapshot")
    command = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "class": "mono"}),
        help_text="e.g. python train.py --data ${{inputs.data}} --out ${{outputs.model}}",
    )
    environment = forms.ChoiceField(required=False)
    compute = forms.ChoiceField(required=False)
    inputs = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "class": "mono"}),
        help_text=YAML_HELP + " e.g. `data: {type: uri_file, path: azureml:iris@latest}`",
    )
    outputs = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "class": "mono"}),
        help_text=YAML_HELP + " e.g. `model: {type: mlflow_model}`",
    )
    experiment_name = forms.CharField(required=False, label="Experiment", max_length=500)
    display_name = forms.CharField(required=False, max_length=500)

    def __init__(self, *args, choices: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["snapshot"].choices = [("", "—"), *choices["snapshots"]]
        self.fields["environment"].choices = [("", "—"), *choices["environments"]]
        self.fields["compute"].choices = choices["computes"]


def _yaml_field(form: JobForm, key: str) -> dict | None:
    text = form.cleaned_data.get(key) or ""
    if not text.strip():
        return None
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationError.for_field(key, f"is not valid YAML ({exc}).") from None
    return value


def _document(form: JobForm) -> dict:
    data = form.cleaned_data
    pasted = _yaml_field(form, "yaml")
    if pasted is not None:
        return pasted if isinstance(pasted, dict) else {"": pasted}
    doc = {
        "command": data.get("command") or None,
        "environment": data.get("environment") or None,
        "compute": data.get("compute") or None,
        "inputs": _yaml_field(form, "inputs"),
        "outputs": _yaml_field(form, "outputs"),
        "experiment_name": data.get("experiment_name") or None,
        "display_name": data.get("display_name") or None,
    }
    return {k: v for k, v in doc.items() if v is not None}


def _place(form: JobForm, exc: DomainError, pasted: bool) -> None:
    """Put each field error next to its form field (the YAML box when pasted)."""
    for path_, msgs in (exc.fields or {"": [exc.message]}).items():
        top = path_.split(".")[0]
        if top == "code":
            target = "code_zip"
        elif pasted:
            target = "yaml"
        else:
            target = top if top in form.fields else None
        for msg in msgs:
            form.add_error(target, f"{path_}: {msg}" if target in ("yaml", None) and path_ else msg)


def _submit(request, workspace, form: JobForm):
    doc = _document(form)
    upload = form.cleaned_data.get("code_zip")
    snapshot_id = form.cleaned_data.get("snapshot")
    if upload is not None:
        doc["code"] = LOCAL_CODE
    elif snapshot_id:
        doc["code"] = snapshot_id
    submit_services.job_check(actor=request.user, workspace=workspace, document=doc)
    if upload is not None:
        snapshot = code_services.snapshot_create(
            actor=request.user, workspace=workspace, fileobj=upload
        )
        doc["code"] = str(snapshot.pk)
    return submit_services.job_submit(actor=request.user, workspace=workspace, document=doc)


@workspace_view(Action.JOB_RUN)
@require_http_methods(["GET", "POST"])
def job_create(request, workspace):
    choices = submit_services.form_choices(actor=request.user, workspace=workspace)
    form = JobForm(request.POST or None, request.FILES or None, choices=choices)
    if request.method == "POST" and form.is_valid():
        try:
            job = _submit(request, workspace, form)
        except DomainError as exc:
            _place(form, exc, pasted=bool((form.cleaned_data.get("yaml") or "").strip()))
        else:
            messages.success(request, f"Job '{job.name}' submitted.")
            return redirect(f"/w/{workspace.name}/jobs/{job.name}/")
    status = 422 if request.method == "POST" else 200
    return render(
        request, "jobs/job_create.html", {"workspace": workspace, "form": form}, status=status
    )


urlpatterns = [
    path("w/<str:name>/jobs/-/new/", job_create, name="job-create"),
]
