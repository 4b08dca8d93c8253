"""HTML pages of the environments kind (create, build, build log); list and detail pages come
from common.py.

The version page's environment panel (templates/assets/environment_panel.html) loads the
build section as a fragment: the newest build's status, its live log (the log fragment
renders the lines after `?after=N` then a poller that stops once the build is terminal and
nothing is left) and the Build / Rebuild button.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from apps.workspaces.forms import parse_tags
from apps.workspaces.permissions import Action, can
from apps.workspaces.views.workspaces import _form_errors, workspace_view
from studio.errors import DomainError, ValidationError
from studio.htmx import HtmxHttpRequest, is_partial, vary_on_htmx

from .. import selectors
from ..models import EnvironmentVersion, ImageBuild, Kind
from ..services import code as code_services
from ..services import environments as services
from .common import create_initial

SEG = "environments"


class EnvironmentCreateForm(forms.Form):
    SOURCES = [
        ("image", "Use an existing Docker image"),
        ("pip", "Base image plus pip requirements"),
        ("conda", "Base image plus a conda file (installed with pip)"),
        ("docker", "Docker build context (a zip of a folder with a Dockerfile)"),
    ]

    name = forms.CharField(max_length=255)
    version = forms.CharField(max_length=64, required=False, help_text="Empty: the next number.")
    source = forms.ChoiceField(choices=SOURCES, initial="pip", widget=forms.RadioSelect)
    image = forms.CharField(
        max_length=500,
        required=False,
        help_text="The image itself, or the base image for pip/conda (empty: the studio's).",
    )
    pip_requirements = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6, "class": "mono"}),
        required=False,
        label="requirements.txt",
    )
    conda_file = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 10, "class": "mono"}),
        required=False,
        label="Conda file (YAML)",
    )
    build_context = forms.FileField(required=False, label="Build context (.zip)")
    dockerfile_path = forms.CharField(max_length=500, required=False, initial="Dockerfile")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    tags = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, help_text="key=value, one a line"
    )

    def clean_tags(self):
        return parse_tags(self.cleaned_data["tags"])


def _version_url(workspace, row) -> str:
    return reverse("assets:version-detail", args=[workspace.name, SEG, row.name, row.version])


def _create(request, workspace, data: dict) -> EnvironmentVersion:
    source = data["source"]
    snapshot = None
    if source == "docker":
        upload = data.get("build_context")
        if upload is None:
            raise ValidationError.for_field(
                "build_context", "choose a zip of the folder with the Dockerfile."
            )
        snapshot = code_services.snapshot_create(
            actor=request.user, workspace=workspace, fileobj=upload, field="build_context"
        )
    return services.environment_create(
        actor=request.user,
        workspace=workspace,
        name=data["name"],
        version=data["version"] or None,
        description=data["description"],
        tags=data["tags"],
        image=data["image"] if source != "docker" else "",
        pip_requirements=data["pip_requirements"] if source == "pip" else None,
        conda_file=data["conda_file"] if source == "conda" else None,
        build_context=snapshot,
        dockerfile_path=data["dockerfile_path"] if source == "docker" else "",
    )


def _form_field(path: str) -> str:
    """The form field an error of the service belongs to."""
    top = path.split(".")[0].split("[")[0]
    return "build_context" if top == "build" else top


@workspace_view(Action.ASSET_CREATE)
@require_http_methods(["GET", "POST"])
def environment_create(request: HtmxHttpRequest, workspace):
    form = EnvironmentCreateForm(
        request.POST or None,
        request.FILES or None,
        initial=create_initial(request, EnvironmentCreateForm),
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                row = _create(request, workspace, form.cleaned_data)
            except DomainError as exc:
                exc.fields = {_form_field(k): v for k, v in exc.fields.items()}
                _form_errors(form, exc)
            else:
                url = _version_url(workspace, row)
                messages.success(request, f"Created environment {row.name} version {row.version}.")
                return HttpResponseClientRedirect(url) if is_partial(request) else redirect(url)
        status = 422
    from django.conf import settings

    context = {"workspace": workspace, "form": form, "base_image": settings.STUDIO_BASE_IMAGE}
    template = "assets/environment_create.html"
    if is_partial(request):
        template += "#form"
    return vary_on_htmx(render(request, template, context, status=status))


def _row(request, workspace, asset_name: str, version: str) -> EnvironmentVersion:
    return selectors.version_get(
        actor=request.user,
        workspace=workspace,
        kind=Kind.ENVIRONMENT,
        name=asset_name,
        version=version,
    )


def _dockerfile(request, row: EnvironmentVersion) -> str:
    if row.build_context_id is None:
        return ""
    try:
        data = code_services.snapshot_read(
            actor=request.user, snapshot=row.build_context, path=row.dockerfile_path or "Dockerfile"
        )
    except DomainError as exc:
        return f"({exc.message})"
    return data.decode("utf-8", "replace")


def _build_context(request, workspace, row, *, error: str | None = None) -> dict:
    build = services.build_latest(actor=request.user, env=row)
    on_engine = None
    if build is None and row.source != EnvironmentVersion.Source.IMAGE:
        on_engine = services.image_on_engine(actor=request.user, env=row)
    return {
        "workspace": workspace,
        "row": row,
        "build": build,
        "on_engine": on_engine,
        "image_tag": services.image_tag(row),
        "dockerfile": _dockerfile(request, row),
        "can_build": can(request.user, Action.ASSET_UPDATE, workspace)
        and row.source != EnvironmentVersion.Source.IMAGE,
        "build_error": error,
        "segment": SEG,
    }


@workspace_view()
@require_http_methods(["GET", "POST"])
def environment_build(request: HtmxHttpRequest, workspace, asset_name: str, version: str):
    """The build section (status, live log, Build/Rebuild); POST queues a build."""
    row = _row(request, workspace, asset_name, version)
    error = None
    if request.method == "POST":
        try:
            services.build_request(
                actor=request.user, env=row, force=request.POST.get("force") == "1"
            )
        except ValidationError as exc:
            error = exc.message
        if not is_partial(request):
            if error:
                messages.error(request, error)
            else:
                messages.success(request, f"Build of {row.name}:{row.version} queued.")
            return redirect(_version_url(workspace, row))
    context = _build_context(request, workspace, row, error=error)
    return vary_on_htmx(render(request, "assets/environment_build.html", context))


@workspace_view()
@require_GET
def environment_build_log(request: HtmxHttpRequest, workspace, asset_name: str, version: str):
    """The build log's lines after ?after=N, then a poller (none once the build has ended and
    every line was sent)."""
    row = _row(request, workspace, asset_name, version)
    build_id = request.GET.get("build")
    if build_id:
        build = services.build_get(actor=request.user, env=row, build_id=build_id)
    else:
        build = services.build_latest(actor=request.user, env=row)
    try:
        after = max(0, int(request.GET.get("after") or 0))
    except ValueError:
        after = 0
    lines = services.build_log(actor=request.user, build=build, after=after) if build else []
    cursor = lines[-1].seq if lines else after
    done = build is None or (build.status in ImageBuild.TERMINAL and cursor >= build.log_seq)
    context = {
        "workspace": workspace,
        "row": row,
        "build": build,
        "lines": lines,
        "cursor": cursor,
        "done": done,
        "caught_up": build is None or cursor >= build.log_seq,
    }
    return render(request, "assets/environment_build.html#log", context)


urlpatterns = [
    path(f"w/<str:name>/{SEG}/-/new/", environment_create, name="environment-create"),
    path(
        f"w/<str:name>/{SEG}/<str:asset_name>/versions/<str:version>/build/",
        environment_build,
        name="environment-build",
    ),
    path(
        f"w/<str:name>/{SEG}/<str:asset_name>/versions/<str:version>/build/log/",
        environment_build_log,
        name="environment-build-log",
    ),
]
