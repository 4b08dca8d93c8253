"""Designer reads: drafts, their history, the components and data a graph refers to (in two
queries whatever the draft's size), and the palette."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from apps.assets.models import Asset, ComponentVersion, DataVersion, Kind
from apps.workspaces import permissions
from apps.workspaces.models import Compute, Workspace
from apps.workspaces.permissions import Action
from studio.errors import NotFound

from .models import Draft, DraftChange


def draft_list(*, actor, workspace: Workspace, q: str = "") -> QuerySet[Draft]:
    permissions.require(actor, Action.PIPELINE_VIEW, workspace)
    rows = Draft.objects.filter(workspace=workspace).select_related("updated_by", "last_job")
    if q:
        rows = rows.filter(name__icontains=q)
    return rows


def draft_get(*, actor, workspace: Workspace, draft_id, action=Action.PIPELINE_VIEW) -> Draft:
    permissions.require(actor, action, workspace)
    try:
        found = Draft.objects.filter(workspace=workspace, id=str(draft_id)).first()
    except Exception:  # noqa: BLE001 - a malformed id is a missing draft
        found = None
    if found is None:
        raise NotFound(f"No draft '{draft_id}' in '{workspace.name}'.")
    found.workspace = workspace
    return found


def change_list(*, draft: Draft, limit: int = 50) -> QuerySet[DraftChange]:
    return (
        DraftChange.objects.filter(draft=draft)
        .select_related("actor")
        .defer("graph")
        .order_by("-revision")[:limit]
    )


def split_ref(ref: str) -> tuple[str, str]:
    """`azureml:name:version` → (name, version)."""
    name, _, version = ref.removeprefix("azureml:").rpartition(":")
    return name, version


@dataclass
class Refs:
    """The rows a graph's nodes name, by their `ref`."""

    components: dict[str, ComponentVersion]
    data: dict[str, DataVersion]


def _by_refs(model, workspace: Workspace, refs: set[str]) -> dict:
    if not refs:
        return {}
    q = Q()
    for ref in refs:
        name, version = split_ref(ref)
        q |= Q(name=name, version=version)
    rows = model.objects.filter(workspace=workspace).filter(q)
    return {f"azureml:{r.name}:{r.version}": r for r in rows}


def refs_of(workspace: Workspace, nodes) -> Refs:
    """The components and data versions of these nodes (a dict of node id → node, or an
    iterable of nodes), two queries at most."""
    values = nodes.values() if isinstance(nodes, dict) else nodes
    comp, data = set(), set()
    for node in values:
        (data if node.get("kind") == "data" else comp).add(node.get("ref", ""))
    return Refs(
        components=_by_refs(ComponentVersion, workspace, comp),
        data=_by_refs(DataVersion, workspace, data),
    )


def compute_names(workspace: Workspace) -> list[str]:
    return list(
        Compute.objects.filter(workspace=workspace).order_by("name").values_list("name", flat=True)
    )


@dataclass
class PaletteItem:
    kind: str  # "data" | "component"
    name: str
    label: str
    ref: str  # of the latest version
    type: str
    description: str
    versions: list[str]


def palette(*, actor, workspace: Workspace, q: str = "") -> dict[str, list[PaletteItem]]:
    """Data assets, the workspace's command components, its pipeline components (registered
    sub-pipelines, placed as one node) and the built-in components, each at its latest
    version (a component's other versions listed to pick from); `q` filters names."""
    permissions.require(actor, Action.PIPELINE_VIEW, workspace)
    assets = Asset.objects.filter(
        workspace=workspace, kind__in=(Kind.DATA, Kind.COMPONENT), archived=False
    ).exclude(latest_version="")
    if q:
        assets = assets.filter(Q(name__icontains=q) | Q(description__icontains=q))
    assets = list(assets.order_by("name")[:300])
    data_ids = [a.id for a in assets if a.kind == Kind.DATA]
    comp_ids = [a.id for a in assets if a.kind == Kind.COMPONENT]
    latest = {(a.id, a.latest_version) for a in assets}
    data_rows = [
        r
        for r in DataVersion.objects.filter(asset_id__in=data_ids).only(
            "asset_id", "name", "version", "type", "description"
        )
        if (r.asset_id, r.version) in latest
    ]
    comp_versions: dict = {}
    comp_latest: dict = {}
    for r in (
        ComponentVersion.objects.filter(asset_id__in=comp_ids, archived=False)
        .only("asset_id", "name", "version", "display_name", "description", "is_builtin", "type")
        .order_by("-created_at")
    ):
        comp_versions.setdefault(r.asset_id, []).append(r.version)
        if (r.asset_id, r.version) in latest:
            comp_latest[r.asset_id] = r
    groups: dict[str, list[PaletteItem]] = {
        "data": [], "components": [], "pipelines": [], "builtin": []
    }  # fmt: skip
    for r in sorted(data_rows, key=lambda r: r.name):
        groups["data"].append(
            PaletteItem(
                "data",
                r.name,
                r.name,
                f"azureml:{r.name}:{r.version}",
                r.type,
                r.description,
                [r.version],
            )  # fmt: skip
        )
    for asset_id, r in sorted(comp_latest.items(), key=lambda kv: kv[1].name):
        if r.type not in (ComponentVersion.Type.COMMAND, ComponentVersion.Type.PIPELINE):
            continue
        item = PaletteItem(
            "component", r.name, r.display_name or r.name, f"azureml:{r.name}:{r.version}",
            r.type, r.description, comp_versions.get(asset_id, [r.version]),
        )  # fmt: skip
        if r.is_builtin:
            groups["builtin"].append(item)
        else:
            groups["pipelines" if r.type == "pipeline" else "components"].append(item)
    groups["builtin"].sort(key=lambda i: i.label.lower())
    return groups
