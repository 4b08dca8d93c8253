"""HTML pages of the models kind: the create page (upload a file or a zipped folder, or point
at a datastore path, a job's output or an MLflow run) and the zip download. List and detail
pages come from common.py; the version page shows `assets/model_panel.html`."""

from __future__ import annotations

from django import forms
from django.shortcuts import redirect, render
from django.urls import path, reverse

from apps.workspaces.forms import parse_tags
from apps.workspaces.permissions import Action
from apps.workspaces.views.workspaces import _form_errors, workspace_view
from studio.errors import DomainError
from studio.htmx import HtmxHttpRequest

from .. import selectors
from ..api.models import zip_response
from ..models import Kind, ModelVersion
from ..services import models as services
from .common import create_initial


class ModelCreateForm(forms.Form):
    name = forms.CharField(max_length=255)
    version = forms.CharField(max_length=64, required=False, help_text="Empty: the next number.")
    type = forms.ChoiceField(choices=ModelVersion.Type.choices, initial="custom_model")
    file = forms.FileField(
        required=False, help_text="A model file, or a folder as a .zip (tick the box below)."
    )
    unzip = forms.BooleanField(
        required=False, label="The file is a zipped folder: unpack it", initial=False
    )
    path = forms.CharField(
        max_length=2048,
        required=False,
        label="Or a path",
        help_text="azureml://datastores/<ds>/paths/<p>, azureml://jobs/<job>/outputs/<name>, "
        "runs:/<run id>/<path> or models:/<logged model id>.",
    )
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    tags = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, help_text="key=value per line."
    )

    def clean_tags(self):
        return parse_tags(self.cleaned_data.get("tags") or "")

    def clean(self):
        data = super().clean()
        if bool(data.get("file")) == bool((data.get("path") or "").strip()):
            raise forms.ValidationError("Upload a file or give a path (one of the two).")
        return data


def _create(request, workspace, data: dict) -> ModelVersion:
    spec = {
        "name": data["name"],
        "version": data.get("version") or None,
        "type": data["type"],
        "description": data.get("description", ""),
        "tags": data.get("tags") or {},
    }
    upload = data.get("file")
    if upload:
        return services.model_create_from_upload(
            actor=request.user,
            workspace=workspace,
            fileobj=upload,
            filename=upload.name,
            folder=bool(data.get("unzip")),
            **spec,
        )
    return services.model_create(
        actor=request.user, workspace=workspace, path=data["path"].strip(), **spec
    )


@workspace_view(Action.ASSET_CREATE)
def model_create(request: HtmxHttpRequest, workspace):
    form = ModelCreateForm(
        request.POST or None,
        request.FILES or None,
        initial=create_initial(request, ModelCreateForm),
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                row = _create(request, workspace, form.cleaned_data)
            except DomainError as exc:
                _form_errors(form, exc)
            else:
                return redirect(
                    reverse(
                        "assets:version-detail",
                        args=[workspace.name, "models", row.name, row.version],
                    )
                )
        status = 422
    context = {"workspace": workspace, "form": form}
    return render(request, "assets/model_create.html", context, status=status)


@workspace_view(Action.ASSET_VIEW)
def model_download(request, workspace, asset_name: str, version: str):
    row = selectors.version_get(
        actor=request.user, workspace=workspace, kind=Kind.MODEL, name=asset_name, version=version
    )
    return zip_response(row)


urlpatterns = [
    path("w/<str:name>/models/-/new/", model_create, name="model-create"),
    path(
        "w/<str:name>/models/<str:asset_name>/versions/<str:version>/download/",
        model_download,
        name="model-download",
    ),
]
