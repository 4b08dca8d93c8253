"""HTML pages of the data kind (create and what only data has); list and detail pages come
from common.py.

The create page takes a datastore URI or a URL in a form, or files from the browser: a small
script (static/js/data-upload.js) starts an upload with the API, streams each chosen file
(or each file of a chosen folder) with its own PUT, then submits the form with the upload's
token. The version page's data panel loads its preview and profile as HTMX fragments.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from apps.workspaces.forms import parse_tags
from apps.workspaces.permissions import Action
from apps.workspaces.views.workspaces import _form_errors, workspace_view
from studio.errors import Conflict, DomainError, ValidationError
from studio.htmx import HtmxHttpRequest, is_partial, vary_on_htmx

from .. import selectors, selectors_data
from ..api.data import stream_response
from ..models import DataVersion, Kind
from ..services import data as services
from .common import create_initial


class DataCreateForm(forms.Form):
    SOURCES = [
        ("upload", "Upload from this computer"),
        ("datastore", "Datastore path (azureml://datastores/<name>/paths/<path>)"),
        ("url", "Web URL (kept as a reference)"),
    ]

    name = forms.CharField(max_length=255)
    version = forms.CharField(max_length=64, required=False, help_text="Empty: the next number.")
    type = forms.ChoiceField(choices=DataVersion.Type.choices, initial="uri_file")
    source = forms.ChoiceField(choices=SOURCES, initial="upload", widget=forms.RadioSelect)
    path = forms.CharField(max_length=2048, required=False, label="Path or URL")
    upload = forms.CharField(required=False, widget=forms.HiddenInput)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    tags = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, help_text="key=value, one a line"
    )

    def clean_tags(self):
        return parse_tags(self.cleaned_data["tags"])

    def clean(self):
        """Each missing input named at its field, all at once: the files of an upload (the
        page's script fills `upload` once they have streamed), the path or URL otherwise."""
        data = super().clean()
        source = data.get("source")
        if source == "upload" and not data.get("upload"):
            self.add_error("upload", "Choose a file or a folder to upload.")
        elif source in ("datastore", "url") and not data.get("path"):
            label = "a datastore path" if source == "datastore" else "a URL"
            self.add_error("path", f"Give {label}.")
        return data


def _version_url(workspace, row) -> str:
    return reverse("assets:version-detail", args=[workspace.name, "data", row.name, row.version])


def _create(request, workspace, data: dict) -> DataVersion:
    common = {
        "actor": request.user,
        "name": data["name"],
        "version": data["version"] or None,
        "type": data["type"],
        "description": data["description"],
        "tags": data["tags"],
    }
    if data["source"] == "upload":
        staged = services.upload_get(actor=request.user, workspace=workspace, token=data["upload"])
        try:
            return services.data_create_upload(staged=staged, **common)
        finally:
            staged.cleanup()
    return services.data_create(workspace=workspace, path=data["path"], **common)


@vary_on_htmx
@workspace_view(Action.ASSET_CREATE)
@require_http_methods(["GET", "POST"])
def data_create(request: HtmxHttpRequest, workspace):
    form = DataCreateForm(request.POST or None, initial=create_initial(request, DataCreateForm))
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                row = _create(request, workspace, form.cleaned_data)
            except DomainError as exc:
                if "upload" in exc.fields:
                    form.add_error(None, "The upload did not arrive: choose the files again.")
                else:
                    _form_errors(form, exc)
            else:
                url = _version_url(workspace, row)
                messages.success(request, f"Created data {row.name} version {row.version}.")
                return HttpResponseClientRedirect(url) if is_partial(request) else redirect(url)
        status = 422
    context = {
        "workspace": workspace,
        "form": form,
        "upload_start": reverse("api:data-upload-start", args=[workspace.name]),
    }
    template = "assets/data_create.html"
    if is_partial(request):
        template += "#form"
    return render(request, template, context, status=status)


def _row(request, workspace, asset_name: str, version: str) -> DataVersion:
    return selectors.version_get(
        actor=request.user, workspace=workspace, kind=Kind.DATA, name=asset_name, version=version
    )


@vary_on_htmx
@workspace_view()
@require_GET
def data_preview(request: HtmxHttpRequest, workspace, asset_name: str, version: str):
    row = _row(request, workspace, asset_name, version)
    preview = selectors_data.data_preview(actor=request.user, row=row)
    context = {"workspace": workspace, "row": row, "preview": preview}
    return render(request, "assets/data_preview.html", context)


@vary_on_htmx
@workspace_view()
@require_http_methods(["GET", "POST"])
def data_profile(request: HtmxHttpRequest, workspace, asset_name: str, version: str):
    """The profile fragment (it polls itself while a worker computes); POST asks for it."""
    row = _row(request, workspace, asset_name, version)
    error = None
    if request.method == "POST":
        try:
            row = services.data_profile_request(actor=request.user, row=row)
        except (ValidationError, Conflict) as exc:  # a refusal by role stays a 403
            error = exc.message
        if not is_partial(request):
            if error:
                messages.error(request, error)
            return redirect(_version_url(workspace, row))
    context = {"workspace": workspace, "row": row, "profile_error": error}
    return render(request, "assets/data_profile.html", context)


@workspace_view()
@require_GET
def data_download(request, workspace, asset_name: str, version: str):
    row = _row(request, workspace, asset_name, version)
    return stream_response(request, *selectors_data.data_download(actor=request.user, row=row))


_ver = "w/<str:name>/data/<str:asset_name>/versions/<str:version>/-/"

urlpatterns = [
    path("w/<str:name>/data/-/new/", data_create, name="data-create"),
    path(_ver + "preview/", data_preview, name="data-preview"),
    path(_ver + "profile/", data_profile, name="data-profile"),
    path(_ver + "download/", data_download, name="data-download"),
]
