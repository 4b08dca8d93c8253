"""HTML pages of the components kind: the create page (paste or upload the YAML of a command
or a pipeline component, with the code folder as a zip); list and detail pages come from common.py, whose detail page
includes templates/assets/component_panel.html (the interface, the command, the code).

The YAML is parsed on the server with line numbers, so its errors name the line. The YAML
is checked first (nothing stored), then the zip becomes a code snapshot, then the version
is created: a wrong YAML stores no code.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from apps.workspaces.permissions import Action
from apps.workspaces.views.workspaces import workspace_view
from studio.errors import DomainError
from studio.htmx import HtmxHttpRequest, is_partial, vary_on_htmx

from ..models import ComponentVersion
from ..services import code as code_services
from ..services import components as services

MAX_YAML_BYTES = 256 * 1024

EXAMPLE = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
name: train_model
display_name: Train a model
type: command
inputs:
  training_data:
    type: uri_folder
  max_epochs:
    type: integer
    default: 10
    min: 1
  learning_rate:
    type: number
    optional: true
outputs:
  model_output:
    type: mlflow_model
code: ./src
environment: azureml:AzureML-sklearn-1.5@latest
command: >-
  python train.py
  --training_data ${{inputs.training_data}}
  --max_epochs ${{inputs.max_epochs}}
  $[[--learning_rate ${{inputs.learning_rate}}]]
  --model_output ${{outputs.model_output}}
"""


PIPELINE_EXAMPLE = """\
$schema: https://azuremlschemas.azureedge.net/latest/pipelineComponent.schema.json
name: prep_and_train
type: pipeline
inputs:
  raw:
    type: uri_folder
  max_epochs:
    type: integer
    default: 10
outputs:
  model:
    type: mlflow_model
jobs:
  prep:
    component: azureml:prep_data@latest    # pinned to its current version on create
    inputs:
      raw_data: ${{parent.inputs.raw}}
  train:
    component: azureml:train_model:1
    inputs:
      training_data: ${{parent.jobs.prep.outputs.clean_data}}
      max_epochs: ${{parent.inputs.max_epochs}}
    outputs:
      model_output: ${{parent.outputs.model}}
"""


class ComponentCreateForm(forms.Form):
    yaml = forms.CharField(
        label="Component YAML",
        required=False,
        widget=forms.Textarea(attrs={"rows": 22, "class": "mono", "spellcheck": "false"}),
        help_text="Azure ML's commandComponent or pipelineComponent YAML. Or choose the file "
        "below.",
    )
    yaml_file = forms.FileField(label="or a YAML file", required=False)
    code_zip = forms.FileField(
        label="Code folder as a zip",
        required=False,
        help_text="Replaces the YAML's local 'code:' folder. The CLI zips it for you: "
        "studio component create --file comp.yml.",
    )

    def clean(self):
        data = super().clean()
        upload = data.get("yaml_file")
        if upload is not None:
            if upload.size > MAX_YAML_BYTES:
                self.add_error("yaml_file", "A component YAML is at most 256 KiB.")
                return data
            try:
                data["yaml"] = upload.read().decode("utf-8")
            except UnicodeDecodeError:
                self.add_error("yaml_file", "Not a text file (expected UTF-8 YAML).")
                return data
            data["source"] = upload.name
        if not (data.get("yaml") or "").strip():
            self.add_error("yaml", "Paste the component's YAML or choose its file.")
        return data


def _create(request, workspace, data: dict) -> ComponentVersion:
    text, source = data["yaml"], data.get("source") or "component.yml"
    common = {"actor": request.user, "workspace": workspace, "text": text, "source": source}
    upload = data.get("code_zip")
    if upload is None:
        return services.component_create_from_yaml(**common)
    services.component_create_from_yaml(**common, code="", dry_run=True)
    snapshot = code_services.snapshot_create(
        actor=request.user, workspace=workspace, fileobj=upload, field="code_zip"
    )
    return services.component_create_from_yaml(**common, code=str(snapshot.pk))


def _place(form: ComponentCreateForm, exc: DomainError) -> None:
    """A zip's error under the zip; any other (already naming its YAML line) under the YAML."""
    if "code_zip" in exc.fields:
        form.add_error("code_zip", " ".join(exc.fields["code_zip"]))
    elif exc.fields:
        form.add_error("yaml", exc.message)
    else:
        form.add_error(None, exc.message)


@workspace_view(Action.ASSET_CREATE)
@require_http_methods(["GET", "POST"])
def component_create(request: HtmxHttpRequest, workspace):
    form = ComponentCreateForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                row = _create(request, workspace, form.cleaned_data)
            except DomainError as exc:
                _place(form, exc)
            else:
                url = reverse(
                    "assets:version-detail",
                    args=[workspace.name, "components", row.name, row.version],
                )
                messages.success(request, f"Created component {row.name} version {row.version}.")
                return HttpResponseClientRedirect(url) if is_partial(request) else redirect(url)
        status = 422
    context = {
        "workspace": workspace,
        "form": form,
        "example": EXAMPLE,
        "pipeline_example": PIPELINE_EXAMPLE,
    }
    template = "assets/component_create.html"
    if is_partial(request):
        template += "#form"
    return vary_on_htmx(render(request, template, context, status=status))


urlpatterns = [
    path("w/<str:name>/components/-/new/", component_create, name="component-create"),
]
