"""Manage > Compute: the tabs of compute instances, clusters and attached computes (with the
workspace's serverless settings), a "+ New" form per type, a detail page with live nodes
and events, and the start/stop/restart, edit and delete actions.

Views parse, call a selector or a service, and render; the services check roles. The
forms below only shape HTML input into the Azure-style fields the services take (they live
here rather than in forms.py because nothing else uses them).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from studio.errors import DomainError
from studio.htmx import HtmxHttpRequest, is_partial, vary_on_htmx

from ..forms import format_tags, parse_tags
from ..models import Compute, Membership
from ..permissions import Action
from ..selectors import compute as compute_selectors
from ..services import compute as compute_services
from .workspaces import workspace_view

T = Compute.Type
TAB_LABELS = {
    "instances": "Compute instances",
    "clusters": "Compute clusters",
    "attached": "Attached computes",
}
NEW_LABELS = {
    T.COMPUTEINSTANCE: "Compute instance",
    T.AMLCOMPUTE: "Compute cluster",
    T.ATTACHED: "Attached Docker engine",
    T.LOCAL: "Local processes",
}
TAB_OF = {T.COMPUTEINSTANCE: "instances", T.AMLCOMPUTE: "clusters", T.ATTACHED: "attached"}
TAB_OF[T.LOCAL] = "attached"
OPERATIONS = {
    "start": compute_services.compute_start,
    "stop": compute_services.compute_stop,
    "restart": compute_services.compute_restart,
}


# Forms ----------------------------------------------------------------------------------


class SecretTextarea(forms.Textarea):
    """A key or certificate goes in and is never rendered back, not even after an error."""

    def format_value(self, value):
        return None


def _size_choices(blank: str | None = None) -> list[tuple[str, str]]:
    sizes = [
        (s.name, f"{s.name}: {s.cores.normalize()} cores, {s.memory_gb.normalize()} GiB"
         + (f", {s.gpus} GPU" if s.gpus else ""))
        for s in compute_selectors.vm_size_list()
    ]  # fmt: skip
    return ([("", blank)] if blank is not None else []) + sizes


def _pem_field(label: str, help_text: str = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        widget=SecretTextarea(attrs={"rows": 3, "autocomplete": "off", "spellcheck": "false"}),
        help_text=help_text or "PEM text. Stored encrypted; never shown again.",
    )


class ComputeForm(forms.Form):
    name = forms.CharField(
        max_length=32, help_text="2 to 32 letters, digits or '-', starting with a letter."
    )
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    tags = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, help_text="key=value, one a line"
    )

    def __init__(self, *args, workspace=None, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.workspace = workspace
        if "size" in self.fields:
            self.fields["size"].choices = _size_choices(getattr(self, "size_blank", None))
        if editing:
            for name in ("name", "assigned_user"):
                self.fields.pop(name, None)

    def clean_tags(self):
        return parse_tags(self.cleaned_data["tags"])


class ScaleFields(forms.Form):
    min_instances = forms.IntegerField(label="Minimum nodes", min_value=0, initial=0)
    max_instances = forms.IntegerField(label="Maximum nodes", min_value=1, initial=1)
    idle_time_before_scale_down = forms.IntegerField(
        label="Idle seconds before scale down",
        min_value=0,
        initial=120,
        help_text="An idle node above the minimum is released after this long.",
    )


class ClusterForm(ComputeForm, ScaleFields):
    size = forms.ChoiceField(
        label="Virtual machine size",
        initial=compute_services.DEFAULT_SIZE,
        help_text="Each job's container gets this many cores and this much memory.",
    )
    field_order = ["name", "size", "min_instances", "max_instances"]


class LocalForm(ComputeForm, ScaleFields):
    max_instances = forms.IntegerField(
        label="Maximum parallel jobs",
        min_value=1,
        initial=1,
        help_text="Jobs run as plain processes (no container) on this machine's worker.",
    )


class InstanceForm(ComputeForm):
    size = forms.ChoiceField(label="Virtual machine size", initial=compute_services.DEFAULT_SIZE)
    assigned_user = forms.ChoiceField(
        label="Assigned to", help_text="Only this member's jobs run on the instance."
    )
    start_cron = forms.CharField(
        label="Start on a schedule (cron)",
        required=False,
        help_text="e.g. 0 8 * * 1-5 (weekdays at 8:00). Leave empty for none.",
    )
    stop_cron = forms.CharField(
        label="Stop on a schedule (cron)", required=False, help_text="e.g. 0 19 * * *"
    )
    time_zone = forms.CharField(
        label="Schedule time zone", initial="UTC", help_text="UTC, Europe/Paris, ..."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "assigned_user" in self.fields and self.workspace is not None:
            users = (
                Membership.objects.filter(workspace=self.workspace)
                .order_by("user__username")
                .values_list("user__username", flat=True)
            )
            self.fields["assigned_user"].choices = [(u, u) for u in users]


class AttachedForm(ComputeForm, ScaleFields):
    size_blank = "No limits (the engine's whole machine)"
    url = forms.CharField(
        label="Docker engine URL",
        help_text="tcp://host:2376 (with TLS) or ssh://user@host; unix:///var/run/docker.sock "
        "for this machine's engine. It must answer when you save.",
    )
    max_instances = forms.IntegerField(label="Maximum parallel jobs", min_value=1, initial=1)
    size = forms.ChoiceField(label="Container size", required=False)
    ca_cert = _pem_field("TLS CA certificate")
    client_cert = _pem_field("TLS client certificate")
    client_key = _pem_field("TLS client key")
    ssh_private_key = _pem_field("SSH private key", "For ssh:// engines. Stored encrypted.")
    remote = forms.ChoiceField(
        label="The job's files",
        required=False,
        choices=[
            ("", "Automatic: copied for tcp:// and ssh://, shared for unix://"),
            ("true", "Copy them to the engine and back (another machine)"),
            ("false", "Share them: the engine sees this machine's folders"),
        ],
        help_text="Code and inputs are copied into each job's container and its outputs "
        "copied back, unless the engine's machine sees the studio's folders at the same paths.",
    )
    studio_url = forms.CharField(
        label="Studio URL for jobs",
        required=False,
        help_text="How jobs on that machine reach the studio (MLflow logging), e.g. "
        "http://10.0.0.2:8000. Empty: the studio's job URL setting, else this machine's "
        "Docker host gateway (right only for an engine on this machine).",
    )
    field_order = ["name", "url", "max_instances", "size", "remote", "studio_url"]


class ServerlessForm(ComputeForm):
    size = forms.ChoiceField(label="Size of each job")
    max_instances = forms.IntegerField(label="Maximum parallel jobs", min_value=1)
    idle_time_before_scale_down = forms.IntegerField(label="Idle seconds before scale down")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, editing=True, **kwargs)
        for name in ("description", "tags"):
            self.fields.pop(name)


FORMS = {
    T.AMLCOMPUTE: ClusterForm,
    T.COMPUTEINSTANCE: InstanceForm,
    T.ATTACHED: AttachedForm,
    T.LOCAL: LocalForm,
    T.SERVERLESS: ServerlessForm,
}
SPEC_FIELDS = (
    "name",
    "description",
    "tags",
    "size",
    "assigned_user",
    *ScaleFields.base_fields,
    "url",
    "ssh_private_key",
)


def _spec(type_: str, data: dict, *, editing: bool) -> dict:
    """The service's Azure-style fields from a form's cleaned data."""
    spec = {k: data[k] for k in SPEC_FIELDS if k in data and data[k] not in (None, "")}
    if "size" in data and data["size"] == "" and type_ == T.ATTACHED:
        spec["size"] = None
    if editing and type_ != T.SERVERLESS:
        spec.setdefault("description", data.get("description", ""))
        spec.setdefault("tags", data.get("tags", {}))
    if type_ == T.COMPUTEINSTANCE:
        zone = data.get("time_zone") or "UTC"
        spec["schedules"] = {
            "compute_start_stop": [
                {"action": action, "trigger": {"type": "cron", "expression": cron, "time_zone": zone}}
                for action, cron in (("start", data.get("start_cron")), ("stop", data.get("stop_cron")))
                if cron
            ]
        }  # fmt: skip
    if type_ == T.ATTACHED:  # empty means automatic / the default: sent to clear it
        if "remote" in data:
            spec["remote"] = {"true": True, "false": False}.get(data["remote"])
        if "studio_url" in data:
            spec["studio_url"] = data["studio_url"].strip() or None
    tls = {k: data[k] for k in compute_services.TLS_KEYS if data.get(k)}
    if tls:
        spec["tls"] = tls
    if not editing:
        spec["type"] = type_
    return spec


def _field_for(path: str, form: forms.Form) -> str | None:
    """The form field a service error path belongs to."""
    if path.startswith("schedules.compute_start_stop["):
        index = int(path.split("[", 1)[1].split("]", 1)[0])
        if path.endswith("time_zone"):
            return "time_zone"
        crons = [f for f in ("start_cron", "stop_cron") if form.cleaned_data.get(f)]
        return crons[index] if index < len(crons) else None
    key = path.removeprefix("tls.").split(".")[0]
    if key == "tls":
        key = "ca_cert"
    return key if key in form.fields else None


def _form_errors(form: forms.Form, exc: DomainError) -> None:
    placed = False
    for path, msgs in exc.fields.items():
        field = _field_for(path, form)
        for msg in msgs:
            form.add_error(field, msg if field else f"{path}: {msg}")
        placed = True
    if not placed:
        form.add_error(None, exc.message)


def _initial(compute: Compute) -> dict:
    initial = {
        "description": compute.description,
        "tags": format_tags(compute.tags),
        "size": compute.size.name if compute.size else "",
        "min_instances": compute.min_instances,
        "max_instances": compute.max_instances,
        "idle_time_before_scale_down": compute.idle_time_before_scale_down,
        "url": compute.config.get("url", ""),
        "remote": {True: "true", False: "false"}.get(compute.config.get("remote"), ""),
        "studio_url": compute.config.get("studio_url", ""),
    }
    for schedule in compute.schedules or []:
        initial[f"{schedule['action']}_cron"] = schedule["cron"]
        initial["time_zone"] = schedule["time_zone"]
    return initial


def _done(request, url: str):
    """After a successful POST: a client redirect for HTMX, a plain one otherwise."""
    if is_partial(request):
        return HttpResponseClientRedirect(url)
    return redirect(url)


def _show_warnings(request, warnings: list[str]) -> None:
    for warning in warnings:
        messages.warning(request, warning)


# Pages ----------------------------------------------------------------------------------


def _detail_url(workspace, compute) -> str:
    return reverse("workspaces:compute-detail", args=[workspace.name, compute.name])


@workspace_view(Action.COMPUTE_VIEW)
@require_GET
def compute_list(request: HtmxHttpRequest, workspace):
    tab = request.GET.get("tab", "instances")
    if tab not in TAB_LABELS:
        tab = "instances"
    counts = compute_selectors.compute_counts(actor=request.user, workspace=workspace)
    serverless = compute_selectors.serverless_get(actor=request.user, workspace=workspace)
    context = {
        "tab": tab,
        "tabs": [(key, label, counts[key]) for key, label in TAB_LABELS.items()],
        "computes": compute_selectors.compute_list(
            actor=request.user, workspace=workspace, types=compute_selectors.TABS[tab]
        ),
        "new_types": [(t, NEW_LABELS[t]) for t in NEW_LABELS if TAB_OF[t] == tab],
        "serverless": serverless,
    }
    if is_partial(request):
        return vary_on_htmx(render(request, "workspaces/compute_list.html#tab", context))
    return vary_on_htmx(render(request, "workspaces/compute_list.html", context))


@workspace_view(Action.COMPUTE_CREATE)
@require_http_methods(["GET", "POST"])
def compute_create(request: HtmxHttpRequest, workspace, compute_type: str):
    if compute_type not in NEW_LABELS:
        raise Http404("No such compute type.")
    form_class = FORMS[compute_type]
    form = form_class(request.POST or None, workspace=workspace)
    if request.method == "GET":
        form.initial.setdefault("assigned_user", request.user.get_username())
    if request.method == "POST" and form.is_valid():
        try:
            compute, warnings = compute_services.compute_create(
                actor=request.user,
                workspace=workspace,
                spec=_spec(compute_type, form.cleaned_data, editing=False),
            )
        except DomainError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, f"Compute '{compute.name}' created.")
            _show_warnings(request, warnings)
            return _done(request, _detail_url(workspace, compute))
    context = {"form": form, "compute_type": compute_type, "type_label": NEW_LABELS[compute_type]}
    context["tab"] = TAB_OF[compute_type]
    status = 422 if request.method == "POST" else 200
    template = "workspaces/compute_create.html" + ("#form" if is_partial(request) else "")
    return vary_on_htmx(render(request, template, context, status=status))


def _detail_context(request, workspace, compute) -> dict:
    return {
        "compute": compute,
        "nodes": compute_selectors.node_list(actor=request.user, compute=compute),
        "events": compute_selectors.event_list(actor=request.user, compute=compute)[:50],
        "credential_names": compute_services.credential_names(compute)
        if compute.type == T.ATTACHED
        else [],
        "tab": TAB_OF.get(compute.type),
        "operations": [
            ("start", "Start", False),
            ("stop", "Stop", True),
            ("restart", "Restart", True),
        ],
    }


@workspace_view(Action.COMPUTE_VIEW)
@require_GET
def compute_detail(request: HtmxHttpRequest, workspace, compute_name: str):
    compute = compute_selectors.compute_get(
        actor=request.user, workspace=workspace, name=compute_name
    )
    context = _detail_context(request, workspace, compute)
    return render(request, "workspaces/compute_detail.html", context)


@workspace_view(Action.COMPUTE_VIEW)
@require_GET
def compute_nodes(request: HtmxHttpRequest, workspace, compute_name: str):
    """The live part of the detail page (state, nodes, events), polled every 5 s."""
    compute = compute_selectors.compute_get(
        actor=request.user, workspace=workspace, name=compute_name
    )
    context = _detail_context(request, workspace, compute)
    return render(request, "workspaces/compute_detail.html#live", context)


@workspace_view(Action.COMPUTE_VIEW)
@require_http_methods(["GET", "POST"])
def compute_edit(request: HtmxHttpRequest, workspace, compute_name: str):
    compute = compute_selectors.compute_get(
        actor=request.user, workspace=workspace, name=compute_name, for_update=True
    )
    form_class = FORMS[compute.type]
    kwargs = {"workspace": workspace, "initial": _initial(compute)}
    if compute.type != T.SERVERLESS:
        kwargs["editing"] = True
    form = form_class(request.POST or None, **kwargs)
    if request.method == "POST" and form.is_valid():
        try:
            compute, warnings = compute_services.compute_update(
                actor=request.user,
                compute=compute,
                changes=_spec(compute.type, form.cleaned_data, editing=True),
            )
        except DomainError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, f"Compute '{compute.name}' saved.")
            _show_warnings(request, warnings)
            if compute.type == T.SERVERLESS:
                return _done(request, reverse("workspaces:compute-list", args=[workspace.name]))
            return _done(request, _detail_url(workspace, compute))
    context = {"form": form, "compute": compute, "tab": TAB_OF.get(compute.type)}
    status = 422 if request.method == "POST" else 200
    template = "workspaces/compute_edit.html" + ("#form" if is_partial(request) else "")
    return vary_on_htmx(render(request, template, context, status=status))


@workspace_view(Action.COMPUTE_DELETE)
@require_POST
def compute_delete(request: HtmxHttpRequest, workspace, compute_name: str):
    compute = compute_selectors.compute_get(
        actor=request.user, workspace=workspace, name=compute_name
    )
    try:
        compute_services.compute_delete(actor=request.user, compute=compute)
    except DomainError as exc:
        if exc.status_code == 403:
            raise
        messages.error(request, exc.message)
        return _done(request, _detail_url(workspace, compute))
    messages.success(request, f"Compute '{compute.name}' deleted.")
    tab = TAB_OF.get(compute.type, "instances")
    return _done(request, reverse("workspaces:compute-list", args=[workspace.name]) + f"?tab={tab}")


@workspace_view(Action.COMPUTE_OPERATE)
@require_POST
def compute_operate(request: HtmxHttpRequest, workspace, compute_name: str, operation: str):
    if operation not in OPERATIONS:
        raise Http404("No such operation.")
    compute = compute_selectors.compute_get(
        actor=request.user, workspace=workspace, name=compute_name
    )
    try:
        OPERATIONS[operation](actor=request.user, compute=compute)
    except DomainError as exc:
        if exc.status_code == 403:
            raise
        messages.error(request, exc.message)
    else:
        past = {"start": "started", "stop": "stopped", "restart": "restarted"}[operation]
        messages.success(request, f"Compute '{compute.name}' {past}.")
    return _done(request, _detail_url(workspace, compute))
