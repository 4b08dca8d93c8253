"""HTML pages every asset kind shares: the list of names (search, sort, paging, archived
toggle, bulk archive), a name's page (its latest version), a version's page (the kind's own
panel, the versions, lineage), and the archive, restore and tags actions.

The list reads one `Asset` row per name (latest version and count kept on the row), so a
page costs the same number of queries at 10 versions or 10,000.
"""

from __future__ import annotations

from urllib.parse import quote

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import path, register_converter, reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from apps.workspaces.forms import format_tags, parse_tags
from apps.workspaces.permissions import Action
from apps.workspaces.views.workspaces import workspace_view
from studio.errors import ValidationError
from studio.htmx import HtmxHttpRequest, is_partial, vary_on_htmx

from .. import selectors
from ..api.serializers import KIND_OF_SEGMENT, SEGMENTS
from ..models import Kind
from ..services import versions as services

PAGE_SIZE = 50
VERSIONS_PAGE_SIZE = 50
SORTS = {
    "name": ("name",),
    "-name": ("-name",),
    "updated": ("updated_at", "name"),
    "-updated": ("-updated_at", "name"),
    "versions": ("version_count", "name"),
    "-versions": ("-version_count", "name"),
}
TITLES = {
    Kind.DATA: ("Data", "data asset"),
    Kind.ENVIRONMENT: ("Environments", "environment"),
    Kind.MODEL: ("Models", "model"),
    Kind.COMPONENT: ("Components", "component"),
}
EMPTY_TEXT = {
    Kind.DATA: "Register a file, a folder or a table: upload it, point at a datastore path, "
    "or give a URL. Jobs then name it as azureml:<name>@latest.",
    Kind.ENVIRONMENT: "An environment is the image a job runs in: an image, an image plus pip "
    "or conda packages, or a Docker build context. Curated ones are added on first use.",
    Kind.MODEL: "Register a model from files, a datastore path or a job's output; "
    "MLflow's register_model lands here too.",
    Kind.COMPONENT: "A component is a reusable command with typed inputs and outputs, "
    "an environment and code: the steps of pipelines.",
}


ENVIRONMENT_TABS = [
    ("custom", "Custom environments"),
    ("curated", "Curated environments"),
    ("anonymous", "Anonymous environments"),
]
ENVIRONMENT_EMPTY_TEXT = {
    "curated": "A curated environment is added to the workspace the first time a job or "
    "component names it (environment: azureml:<curated name>@latest).",
    "anonymous": "An anonymous environment is kept for each environment written inline in a "
    "job's or component's YAML.",
}


def _kind(segment: str) -> str:
    return KIND_OF_SEGMENT[segment]


def create_initial(request, form_class) -> dict:
    """A create form's initial values from the query string (?name=…&type=…), as the
    "+ New version" action of a name's page links to it; only fields the form has, and a
    choice only when it is one of the field's choices."""
    initial = {}
    for key in ("name", "type"):
        value = request.GET.get(key, "").strip()
        field = form_class.base_fields.get(key)
        if not value or field is None:
            continue
        choices = getattr(field, "choices", None)
        if choices is not None and value not in {str(c[0]) for c in choices}:
            continue
        initial[key] = value
    return initial


def _new_version_url(request, workspace, kind: str, asset, row) -> str:
    """The create form with this name (and the latest version's type) filled in. A
    component's form takes YAML, which carries the name itself."""
    url = reverse(f"assets:{kind}-create", args=[workspace.name])
    if kind == Kind.COMPONENT:
        return url
    url += f"?name={quote(asset.name)}"
    latest = row
    if asset.latest_version and asset.latest_version != row.version:
        latest = selectors.version_get(
            actor=request.user,
            workspace=workspace,
            kind=kind,
            name=asset.name,
            version=asset.latest_version,
        )
    type_ = getattr(latest, "type", "")
    return url + (f"&type={quote(type_)}" if type_ else "")


def _base_context(workspace, kind: str) -> dict:
    title, noun = TITLES[kind]
    return {
        "workspace": workspace,
        "kind": kind,
        "segment": SEGMENTS[kind],
        "title": title,
        "noun": noun,
        "create_url": reverse(f"assets:{kind}-create", args=[workspace.name]),
        "columns_template": f"assets/{kind}_columns.html",
        "panel_template": f"assets/{kind}_panel.html",
        "empty_text": EMPTY_TEXT[kind],
    }


@workspace_view()
def asset_list(request: HtmxHttpRequest, workspace, segment: str):
    kind = _kind(segment)
    search = request.GET.get("q", "").strip()
    sort = request.GET.get("sort", "name")
    if sort not in SORTS:
        sort = "name"
    show_archived = request.GET.get("archived") == "1"
    environment_kind = ""
    if kind == Kind.ENVIRONMENT:
        # Azure's two tabs; anonymous (inline) ones only by link (?kind=anonymous).
        environment_kind = request.GET.get("kind", "")
        if environment_kind not in selectors.ENVIRONMENT_KINDS:
            environment_kind = "custom"
    qs = selectors.asset_list(
        actor=request.user,
        workspace=workspace,
        kind=kind,
        search=search,
        include_archived=show_archived,
        environment_kind=environment_kind,
    ).order_by(*SORTS[sort], "id")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        **_base_context(workspace, kind),
        "page": page,
        "assets": page.object_list,
        "search": search,
        "sort": sort,
        "show_archived": show_archived,
        "environment_kind": environment_kind,
        "environment_tabs": [
            (value, label)
            for value, label in ENVIRONMENT_TABS
            if value != "anonymous" or environment_kind == "anonymous"
        ]
        if environment_kind
        else [],
        # Kept on the sort and page links and the search form.
        "list_query": f"&kind={environment_kind}" if environment_kind else "",
    }
    if environment_kind in ENVIRONMENT_EMPTY_TEXT:
        context["empty_text"] = ENVIRONMENT_EMPTY_TEXT[environment_kind]
        context["empty_noun"] = f"{environment_kind} environment"
    template = "assets/asset_list.html"
    if is_partial(request):
        template += "#results"
    return vary_on_htmx(render(request, template, context))


@require_POST
@workspace_view()
def asset_bulk_archive(request: HtmxHttpRequest, workspace, segment: str):
    """Archive (or restore) the names ticked on the list page."""
    kind = _kind(segment)
    archived = request.POST.get("action", "archive") != "restore"
    names = request.POST.getlist("names")
    done = []
    for name in names:
        asset = selectors.asset_get(actor=request.user, workspace=workspace, kind=kind, name=name)
        services.asset_set_archived(actor=request.user, asset=asset, archived=archived)
        done.append(name)
    if done:
        verb = "Archived" if archived else "Restored"
        messages.success(request, f"{verb} {', '.join(done)}.")
    return redirect(reverse("assets:asset-list", args=[workspace.name, segment]))


@workspace_view()
def version_detail(
    request: HtmxHttpRequest, workspace, segment: str, asset_name: str, version: str = ""
):
    """A version's page; without a version, the name's latest (or newest, when all are
    archived)."""
    kind = _kind(segment)
    asset = selectors.asset_get(actor=request.user, workspace=workspace, kind=kind, name=asset_name)
    all_versions = selectors.version_list(actor=request.user, asset=asset)
    if not version:
        version = asset.latest_version or (all_versions.values_list("version", flat=True).first())
        if not version:
            raise selectors.NotFound(f"'{asset_name}' has no versions.")
    row = selectors.version_get(
        actor=request.user, workspace=workspace, kind=kind, name=asset_name, version=version
    )
    tab = request.GET.get("tab", "details")
    # Version links are this plus "<version>/" (one reverse() for a page of 100 links).
    versions_base = (
        reverse("assets:asset-detail", args=[workspace.name, segment, asset_name]) + "versions/"
    )
    latest = asset.latest_version
    context = {
        **_base_context(workspace, kind),
        "asset": asset,
        "row": row,
        "tab": tab if tab in ("details", "versions", "lineage") else "details",
        "tags_text": format_tags(row.tags),
    }
    partial = is_partial(request) and request.GET.get("tab")
    if not partial:
        context["new_version_url"] = _new_version_url(request, workspace, kind, asset, row)
        # The version switcher's newest 100 options, ready to print: (url, label, selected).
        context["version_choices"] = [
            (
                f"{versions_base}{quote(v)}/",
                v + (" (archived)" if archived else "") + (" (latest)" if v == latest else ""),
                v == row.version,
            )
            for v, archived in all_versions.values_list("version", "archived")[:100]
        ]
    if context["tab"] == "versions":
        paginator = Paginator(all_versions, VERSIONS_PAGE_SIZE)
        paginator.count = asset.version_count  # kept on the row: no COUNT(*) of 10,000 rows
        page = paginator.get_page(request.GET.get("page"))
        page.object_list = selectors.version_page(
            actor=request.user,
            asset=asset,
            offset=(page.number - 1) * VERSIONS_PAGE_SIZE,
            limit=VERSIONS_PAGE_SIZE,
        )
        for v in page.object_list:
            v.url = f"{versions_base}{quote(v.version)}/"
            v.is_latest = v.version == latest
        context["versions_page"] = page
    if context["tab"] == "lineage":
        uses = list(selectors.used_by(actor=request.user, row=row))
        for use in uses:
            use.url = reverse("jobs:job-detail", args=[workspace.name, use.job.name])
        context["uses"] = uses
        job = row.created_by_job
        context["created_by_job_url"] = (
            reverse("jobs:job-detail", args=[workspace.name, job.name]) if job else None
        )
    template = "assets/version_detail.html"
    if partial:
        template += "#tab"
    return vary_on_htmx(render(request, template, context))


def _row(request, workspace, segment, asset_name, version):
    return selectors.version_get(
        actor=request.user,
        workspace=workspace,
        kind=_kind(segment),
        name=asset_name,
        version=version,
    )


def _version_url(workspace, segment, asset_name, version) -> str:
    return reverse("assets:version-detail", args=[workspace.name, segment, asset_name, version])


@require_POST
@workspace_view()
def version_archive(request, workspace, segment: str, asset_name: str, version: str):
    row = _row(request, workspace, segment, asset_name, version)
    archived = request.resolver_match.url_name == "version-archive"
    services.version_set_archived(actor=request.user, row=row, archived=archived)
    messages.success(
        request, f"{'Archived' if archived else 'Restored'} {asset_name} version {version}."
    )
    return redirect(_version_url(workspace, segment, asset_name, version))


class TagsForm(forms.Form):
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    tags = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, help_text="key=value, one a line"
    )

    def clean_tags(self):
        return parse_tags(self.cleaned_data["tags"])


@workspace_view(Action.ASSET_UPDATE)
def version_edit(request: HtmxHttpRequest, workspace, segment: str, asset_name: str, version: str):
    """Edit a version's description and tags (inline on its page)."""
    row = _row(request, workspace, segment, asset_name, version)
    form = TagsForm(
        request.POST or None,
        initial={"description": row.description, "tags": format_tags(row.tags)},
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.version_update(
                    actor=request.user,
                    row=row,
                    description=form.cleaned_data["description"],
                    tags=form.cleaned_data["tags"],
                )
            except ValidationError as exc:
                form.add_error(None, exc.message)
            else:
                url = _version_url(workspace, segment, asset_name, version)
                return HttpResponseClientRedirect(url) if is_partial(request) else redirect(url)
        status = 422
    context = {**_base_context(workspace, _kind(segment)), "row": row, "form": form}
    template = "assets/version_edit.html"
    if is_partial(request):
        template += "#form"
    return vary_on_htmx(render(request, template, context, status=status))


class SegmentConverter:
    """Only the four kinds' segments: /w/<ws>/jobs/ and the like are other apps' pages."""

    regex = "|".join(SEGMENTS.values())

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(SegmentConverter, "assetseg")
_seg = "<assetseg:segment>"

urlpatterns = [
    path(f"w/<str:name>/{_seg}/", asset_list, name="asset-list"),
    path(f"w/<str:name>/{_seg}/-/archive/", asset_bulk_archive, name="asset-bulk-archive"),
    path(f"w/<str:name>/{_seg}/<str:asset_name>/", version_detail, name="asset-detail"),
    path(
        f"w/<str:name>/{_seg}/<str:asset_name>/versions/<str:version>/",
        version_detail,
        name="version-detail",
    ),
    path(
        f"w/<str:name>/{_seg}/<str:asset_name>/versions/<str:version>/edit/",
        version_edit,
        name="version-edit",
    ),
    path(
        f"w/<str:name>/{_seg}/<str:asset_name>/versions/<str:version>/archive/",
        version_archive,
        name="version-archive",
    ),
    path(
        f"w/<str:name>/{_seg}/<str:asset_name>/versions/<str:version>/restore/",
        version_archive,
        name="version-restore",
    ),
]
