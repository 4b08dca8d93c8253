"""Reads of compute targets, their nodes and events, and the VM size presets; scoped by
permissions (compute.view: every member role)."""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet

from studio.errors import NotFound, ValidationError

from .. import permissions
from ..models import Compute, ComputeEvent, ComputeNode, VmSize, Workspace
from ..permissions import Action

# The tabs of Manage > Compute, as in Azure ML studio.
TABS = {
    "instances": (Compute.Type.COMPUTEINSTANCE,),
    "clusters": (Compute.Type.AMLCOMPUTE,),
    "attached": (Compute.Type.ATTACHED, Compute.Type.LOCAL),
}


def _with_node_counts(qs: QuerySet[Compute]) -> QuerySet[Compute]:
    state = ComputeNode.State
    return qs.select_related("workspace", "size", "assigned_user", "created_by").annotate(
        nodes_busy=Count("nodes", filter=Q(nodes__state=state.BUSY), distinct=True),
        nodes_idle=Count("nodes", filter=Q(nodes__state=state.IDLE), distinct=True),
        nodes_leaving=Count("nodes", filter=Q(nodes__state=state.LEAVING), distinct=True),
    )


def compute_list(
    *, actor, workspace: Workspace, type: str | None = None, types: tuple[str, ...] = ()
) -> QuerySet[Compute]:
    """The workspace's computes, each with its node counts, optionally of one type."""
    permissions.require(actor, Action.COMPUTE_VIEW, workspace)
    qs = Compute.objects.filter(workspace=workspace)
    if type:
        if type not in Compute.Type.values:
            choices = ", ".join(Compute.Type.values)
            raise ValidationError.for_field("type", f"Unknown type {type!r}; one of {choices}.")
        qs = qs.filter(type=type)
    if types:
        qs = qs.filter(type__in=types)
    return _with_node_counts(qs).order_by("name")


def compute_get(*, actor, workspace: Workspace, name: str, for_update: bool = False) -> Compute:
    """One compute with its node counts. `for_update` also requires the right to change it:
    compute.update, or workspace.update for the serverless compute (a workspace setting)."""
    permissions.require(actor, Action.COMPUTE_VIEW, workspace)
    compute = (
        _with_node_counts(Compute.objects.filter(workspace=workspace, name=name))
        .prefetch_related(Prefetch("nodes", queryset=ComputeNode.objects.order_by("index")))
        .first()
    )
    if compute is None:
        raise NotFound(f"Compute '{name}' not found in workspace '{workspace.name}'.")
    compute.workspace = workspace
    if for_update:
        serverless = compute.type == Compute.Type.SERVERLESS
        action = Action.WORKSPACE_UPDATE if serverless else Action.COMPUTE_UPDATE
        permissions.require(actor, action, workspace)
    return compute


def serverless_get(*, actor, workspace: Workspace) -> Compute | None:
    permissions.require(actor, Action.COMPUTE_VIEW, workspace)
    qs = Compute.objects.filter(workspace=workspace, type=Compute.Type.SERVERLESS)
    return _with_node_counts(qs).first()


def node_list(*, actor, compute: Compute) -> QuerySet[ComputeNode]:
    permissions.require(actor, Action.COMPUTE_VIEW, compute.workspace)
    return ComputeNode.objects.filter(compute=compute).order_by("index")


def event_list(*, actor, compute: Compute) -> QuerySet[ComputeEvent]:
    permissions.require(actor, Action.COMPUTE_VIEW, compute.workspace)
    return ComputeEvent.objects.filter(compute=compute).order_by("-created_at", "-id")


def compute_counts(*, actor, workspace: Workspace) -> dict[str, int]:
    """How many computes of each tab, for the tab labels and the home tile."""
    permissions.require(actor, Action.COMPUTE_VIEW, workspace)
    rows = Compute.objects.filter(workspace=workspace).values("type").annotate(n=Count("id"))
    by_type = {row["type"]: row["n"] for row in rows}
    return {tab: sum(by_type.get(t, 0) for t in types) for tab, types in TABS.items()}


def vm_size_list() -> QuerySet[VmSize]:
    """The size presets (not workspace data: any signed-in user may list them)."""
    return VmSize.objects.order_by("cores", "memory_gb", "name")
