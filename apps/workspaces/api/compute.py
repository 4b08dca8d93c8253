"""Compute API: /api/v1/workspaces/<workspace_name>/computes/ and /api/v1/vm-sizes/.

Create and update take the fields of Azure ML's `az ml compute create` YAML as JSON; the
answer carries `warnings` naming the Azure-only fields that were kept but are not acted on.
An attached engine's credentials go in and never come out (only their names). The views
answer JSON only, so no browsable-API form echoes a submitted key.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from studio.api import paginated
from studio.errors import ValidationError

from .. import selectors
from ..models import Compute, ComputeEvent, ComputeNode, VmSize
from ..selectors import compute as compute_selectors
from ..services import compute as compute_services


class VmSizeOutputSerializer(serializers.ModelSerializer):
    cores = serializers.FloatField()
    memory_gb = serializers.FloatField()

    class Meta:
        model = VmSize
        fields = ["name", "cores", "memory_gb", "gpus", "description"]


class NodeOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = ComputeNode
        fields = ["index", "state", "job_id", "worker", "state_since", "created_at"]


class EventOutputSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_username")

    class Meta:
        model = ComputeEvent
        fields = ["kind", "message", "actor", "created_at"]


def schedules_out(compute: Compute) -> dict:
    """Schedules in Azure's shape, so `show` output can be fed back to `create`."""
    return {
        "compute_start_stop": [
            {
                "action": s["action"],
                "trigger": {"type": "cron", "expression": s["cron"], "time_zone": s["time_zone"]},
            }
            for s in compute.schedules or []
        ]
    }


class ComputeOutputSerializer(serializers.ModelSerializer):
    size = serializers.CharField(source="size.name", default=None)
    size_details = VmSizeOutputSerializer(source="size", default=None)
    assigned_user = serializers.CharField(source="assigned_user.username", default=None)
    created_by = serializers.CharField(source="created_by.username", default=None)
    schedules = serializers.SerializerMethodField()
    nodes = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    tls = serializers.SerializerMethodField()
    credentials_set = serializers.SerializerMethodField()
    engine = serializers.SerializerMethodField()
    remote = serializers.SerializerMethodField()
    studio_url = serializers.SerializerMethodField()
    queue_name = serializers.CharField(read_only=True)

    class Meta:
        model = Compute
        fields = [
            "id",
            "name",
            "type",
            "description",
            "tags",
            "state",
            "size",
            "size_details",
            "min_instances",
            "max_instances",
            "idle_time_before_scale_down",
            "assigned_user",
            "schedules",
            "url",
            "tls",
            "credentials_set",
            "engine",
            "remote",
            "studio_url",
            "nodes",
            "queue_name",
            "extra",
            "created_by",
            "created_at",
            "updated_at",
        ]

    def get_schedules(self, obj) -> dict:
        return schedules_out(obj)

    def get_nodes(self, obj) -> dict:
        busy = getattr(obj, "nodes_busy", None)
        if busy is None:
            counts = {s: 0 for s in ComputeNode.State.values}
            for state in obj.nodes.values_list("state", flat=True):
                counts[state] += 1
        else:
            counts = {"busy": busy, "idle": obj.nodes_idle, "leaving": obj.nodes_leaving}
        return {**counts, "max": obj.max_instances}

    def get_url(self, obj) -> str | None:
        return obj.config.get("url")

    def get_tls(self, obj) -> bool:
        return bool((obj.config.get("tls") or {}).get("enabled"))

    def get_credentials_set(self, obj) -> list[str]:
        return compute_services.credential_names(obj) if obj.type == Compute.Type.ATTACHED else []

    def get_engine(self, obj) -> dict | None:
        return obj.config.get("engine")

    def get_remote(self, obj) -> bool | None:
        """Attached: true (files copied in and out), false (shared), null (by the URL)."""
        return obj.config.get("remote")

    def get_studio_url(self, obj) -> str | None:
        return obj.config.get("studio_url")


class ComputeCreatedOutputSerializer(ComputeOutputSerializer):
    warnings = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta(ComputeOutputSerializer.Meta):
        fields = [*ComputeOutputSerializer.Meta.fields, "warnings"]


SCHEDULES_HELP = (
    "Compute instances: {compute_start_stop: [{action: start|stop, trigger: {type: cron, "
    "expression: '0 8 * * 1-5', time_zone: UTC}}]}"
)


class ComputeInputSerializer(serializers.Serializer):
    """The fields of `az ml compute create` YAML (for the schema: the service checks them,
    and keeps the Azure-only ones, e.g. location or tier, with a warning)."""

    name = serializers.CharField(
        help_text="2 to 32 letters, digits or '-', starting with a letter."
    )
    type = serializers.ChoiceField(choices=["amlcompute", "computeinstance", "local", "attached"])
    description = serializers.CharField(required=False, allow_blank=True)
    tags = serializers.DictField(child=serializers.CharField(), required=False)
    size = serializers.CharField(required=False, help_text="A VM size, e.g. Standard_DS3_v2.")
    min_instances = serializers.IntegerField(required=False, min_value=0)
    max_instances = serializers.IntegerField(required=False, min_value=1)
    idle_time_before_scale_down = serializers.IntegerField(required=False, help_text="Seconds.")
    assigned_user = serializers.CharField(
        required=False, help_text="Compute instances: the member whose jobs it runs."
    )
    schedules = serializers.DictField(required=False, help_text=SCHEDULES_HELP)
    url = serializers.CharField(required=False, help_text="Attached: tcp://host:2376 or ssh://...")
    tls = serializers.DictField(
        required=False, help_text="Attached tcp://: {ca_cert, client_cert, client_key, verify}."
    )
    ssh_private_key = serializers.CharField(required=False, help_text="Attached ssh://: a PEM key.")
    remote = serializers.BooleanField(
        required=False,
        allow_null=True,
        help_text="Attached: copy the job's files to the engine and back (true), share this "
        "machine's folders (false); null: true for tcp:// and ssh://, false for unix://.",
    )
    studio_url = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="Attached: how jobs on that engine reach the studio, e.g. http://10.0.0.2:8000.",
    )


class ComputeUpdateInputSerializer(ComputeInputSerializer):
    name = None
    type = None
    assigned_user = None


def _body(request) -> dict:
    if not isinstance(request.data, dict):
        raise ValidationError("Expected a JSON object of compute fields.")
    return dict(request.data)


def _refetch(request, workspace, compute) -> Compute:
    return compute_selectors.compute_get(actor=request.user, workspace=workspace, name=compute.name)


class ComputeViewSet(viewsets.ViewSet):
    renderer_classes = [JSONRenderer]
    lookup_field = "compute_name"

    def _workspace(self, name):
        return selectors.workspace_get(actor=self.request.user, name=name)

    def _compute(self, workspace_name, compute_name):
        workspace = self._workspace(workspace_name)
        compute = compute_selectors.compute_get(
            actor=self.request.user, workspace=workspace, name=compute_name
        )
        return workspace, compute

    @extend_schema(
        parameters=[OpenApiParameter("type", str, description="Only computes of this type.")],
        responses=ComputeOutputSerializer(many=True),
    )
    def list(self, request, workspace_name=None):
        qs = compute_selectors.compute_list(
            actor=request.user,
            workspace=self._workspace(workspace_name),
            type=request.query_params.get("type") or None,
        )
        return paginated(self, qs, ComputeOutputSerializer, ordering="name")

    @extend_schema(request=ComputeInputSerializer, responses={201: ComputeCreatedOutputSerializer})
    def create(self, request, workspace_name=None):
        workspace = self._workspace(workspace_name)
        compute, warnings = compute_services.compute_create(
            actor=request.user, workspace=workspace, spec=_body(request)
        )
        compute = _refetch(request, workspace, compute)
        compute.warnings = warnings
        return Response(
            ComputeCreatedOutputSerializer(compute).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(responses=ComputeOutputSerializer)
    def retrieve(self, request, workspace_name=None, compute_name=None):
        _, compute = self._compute(workspace_name, compute_name)
        return Response(ComputeOutputSerializer(compute).data)

    @extend_schema(request=ComputeUpdateInputSerializer, responses=ComputeCreatedOutputSerializer)
    def partial_update(self, request, workspace_name=None, compute_name=None):
        workspace, compute = self._compute(workspace_name, compute_name)
        compute, warnings = compute_services.compute_update(
            actor=request.user, compute=compute, changes=_body(request)
        )
        compute = _refetch(request, workspace, compute)
        compute.warnings = warnings
        return Response(ComputeCreatedOutputSerializer(compute).data)

    @extend_schema(responses={204: None})
    def destroy(self, request, workspace_name=None, compute_name=None):
        _, compute = self._compute(workspace_name, compute_name)
        compute_services.compute_delete(actor=request.user, compute=compute)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _operate(self, request, workspace_name, compute_name, service):
        workspace, compute = self._compute(workspace_name, compute_name)
        service(actor=request.user, compute=compute)
        return Response(ComputeOutputSerializer(_refetch(request, workspace, compute)).data)

    @extend_schema(request=None, responses=ComputeOutputSerializer)
    def start(self, request, workspace_name=None, compute_name=None):
        """Start a stopped compute instance."""
        return self._operate(request, workspace_name, compute_name, compute_services.compute_start)

    @extend_schema(request=None, responses=ComputeOutputSerializer)
    def stop(self, request, workspace_name=None, compute_name=None):
        """Stop a running compute instance (refused while its jobs run)."""
        return self._operate(request, workspace_name, compute_name, compute_services.compute_stop)

    @extend_schema(request=None, responses=ComputeOutputSerializer)
    def restart(self, request, workspace_name=None, compute_name=None):
        """Restart a running compute instance (refused while its jobs run)."""
        return self._operate(
            request, workspace_name, compute_name, compute_services.compute_restart
        )

    @extend_schema(responses=NodeOutputSerializer(many=True))
    def nodes(self, request, workspace_name=None, compute_name=None):
        """The compute's nodes: one job slot each, idle, busy or leaving."""
        _, compute = self._compute(workspace_name, compute_name)
        qs = compute_selectors.node_list(actor=request.user, compute=compute)
        return paginated(self, qs, NodeOutputSerializer, ordering="index")

    @extend_schema(responses=EventOutputSerializer(many=True))
    def events(self, request, workspace_name=None, compute_name=None):
        """What happened to the compute: created, updated, started, scale up/down, ..."""
        _, compute = self._compute(workspace_name, compute_name)
        qs = compute_selectors.event_list(actor=request.user, compute=compute)
        return paginated(self, qs, EventOutputSerializer, ordering=("-created_at", "-id"))


class VmSizeViewSet(viewsets.ViewSet):
    @extend_schema(responses=VmSizeOutputSerializer(many=True))
    def list(self, request):
        """The size presets a compute can use (cores and memory: a job's container limits)."""
        qs = compute_selectors.vm_size_list()
        return paginated(self, qs, VmSizeOutputSerializer, ordering="name")
