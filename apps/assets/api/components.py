"""API of the components kind: create (POST workspaces/<ws>/components/); list, show, update,
archive and restore come from common.py.

The list answers each name with its latest version's `type` (command or pipeline).

The body is the component YAML as JSON (what `studio component create --file` sends, local
`code` already uploaded and replaced by the snapshot id, plus `command_line`: the line of
the file where the command starts, so placeholder errors name it; `?dry_run=true` checks
and stores nothing). Or `{"yaml": "<text>",
"code": "<snapshot id>"}`: the server parses the YAML and errors name its lines.
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from apps.workspaces import selectors as ws_selectors
from studio.errors import ValidationError

from ..models import ComponentVersion, Kind
from ..services import components as component_services
from . import serializers as asset_serializers
from .common import LIST_PARAMETERS, AssetListView


class ComponentOutputSerializer(asset_serializers.VersionOutputSerializer):
    """A component version: its interface, command, environment and code."""

    type = serializers.CharField(read_only=True)
    display_name = serializers.CharField(read_only=True)
    is_deterministic = serializers.BooleanField(read_only=True)
    command = serializers.CharField(read_only=True)
    inputs = serializers.DictField(read_only=True)
    outputs = serializers.DictField(read_only=True)
    environment = serializers.SerializerMethodField()
    code = serializers.SerializerMethodField()
    resources = serializers.SerializerMethodField()
    distribution = serializers.SerializerMethodField()
    jobs = serializers.SerializerMethodField()
    is_builtin = serializers.BooleanField(read_only=True)

    def get_environment(self, row) -> str | None:
        return row.environment.reference if row.environment_id else None

    def get_code(self, row) -> dict | None:
        if not row.code_id:
            return None
        code = row.code
        return {
            "id": str(code.pk),
            "content_hash": code.content_hash,
            "file_count": code.file_count,
            "size_bytes": code.size_bytes,
        }

    def get_resources(self, row) -> dict:
        return (row.spec or {}).get("resources") or {}

    def get_distribution(self, row) -> dict:
        return (row.spec or {}).get("distribution") or {}

    def get_jobs(self, row) -> dict | None:
        """A pipeline component's steps, their component references frozen at creation."""
        if row.type != ComponentVersion.Type.PIPELINE:
            return None
        return (row.spec or {}).get("jobs") or {}


class ComponentAssetOutputSerializer(asset_serializers.AssetOutputSerializer):
    """A component name in the list, with its latest version's type (command, pipeline)."""

    type = serializers.SerializerMethodField()

    class Meta(asset_serializers.AssetOutputSerializer.Meta):
        fields = [*asset_serializers.AssetOutputSerializer.Meta.fields, "type"]

    def get_type(self, asset) -> str | None:
        return self.context.get("types", {}).get(asset.pk)


def latest_types(assets) -> dict:
    """{asset id: its latest version's type}, in one query for a page of names."""
    wanted = {a.pk: a.latest_version for a in assets}
    rows = ComponentVersion.objects.filter(asset_id__in=list(wanted)).values_list(
        "asset_id", "version", "type"
    )
    return {a: t for a, v, t in rows if wanted.get(a) == v}


asset_serializers.register(Kind.COMPONENT, ComponentOutputSerializer)

CREATE_BODY = inline_serializer(
    "ComponentCreateInput",
    {
        "name": serializers.CharField(),
        "version": serializers.CharField(required=False),
        "type": serializers.CharField(required=False, default="command"),
        "display_name": serializers.CharField(required=False),
        "description": serializers.CharField(required=False),
        "tags": serializers.DictField(required=False),
        "properties": serializers.DictField(required=False),
        "is_deterministic": serializers.BooleanField(required=False, default=True),
        "command": serializers.CharField(required=False, help_text="A command component's."),
        "inputs": serializers.DictField(required=False),
        "outputs": serializers.DictField(required=False),
        "environment": serializers.JSONField(required=False),
        "jobs": serializers.DictField(
            required=False, help_text="A pipeline component's steps (`type: pipeline`)."
        ),
        "code": serializers.CharField(required=False, help_text="A code snapshot id."),
        "resources": serializers.DictField(required=False),
        "distribution": serializers.DictField(required=False),
        "command_line": serializers.IntegerField(required=False),
        "yaml": serializers.CharField(required=False, help_text="Or: the YAML text."),
    },
)


def _command_line(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError.for_field("command_line", "must be a line number (1 or more).")
    return value


def _checked(row) -> dict:
    """What a dry run answers: the checked interface, nothing stored."""
    out = {
        "name": row.name,
        "version": row.version,
        "type": row.type,
        "command": row.command,
        "inputs": row.inputs,
        "outputs": row.outputs,
        "environment": row.spec.get("environment"),
    }
    if row.type == ComponentVersion.Type.PIPELINE:
        out["jobs"] = row.spec.get("jobs")
    return out


class ComponentListView(AssetListView):
    segment = "components"

    list_serializer = ComponentAssetOutputSerializer

    @staticmethod
    def list_context(page) -> dict:
        """Each name's latest version's `type` (one query for the page)."""
        return {"types": latest_types(page)}

    @extend_schema(responses=ComponentAssetOutputSerializer(many=True), parameters=LIST_PARAMETERS)
    def get(self, request, workspace_name: str):
        """The component names, each with its latest version's `type`."""
        return super().get(request, workspace_name)

    @extend_schema(request=CREATE_BODY, responses={201: ComponentOutputSerializer})
    def post(self, request, workspace_name: str):
        workspace = ws_selectors.workspace_get(actor=request.user, name=workspace_name)
        body = request.data
        if not isinstance(body, dict):
            raise ValidationError("Send the component as a JSON object.")
        body = body.dict() if hasattr(body, "dict") else dict(body)  # a form's QueryDict
        if "yaml" in body:
            text = body["yaml"]
            if not isinstance(text, str) or not text.strip():
                raise ValidationError.for_field("yaml", "is empty: paste the component's YAML.")
            row = component_services.component_create_from_yaml(
                actor=request.user, workspace=workspace, text=text, code=body.get("code") or None
            )
        else:
            line = _command_line(body.pop("command_line", None))
            dry_run = request.query_params.get("dry_run") in ("1", "true", "True")
            row = component_services.component_create(
                actor=request.user,
                workspace=workspace,
                data=body,
                command_line=line,
                dry_run=dry_run,
            )
            if dry_run:
                return Response(_checked(row))
        return Response(ComponentOutputSerializer(row).data, status=status.HTTP_201_CREATED)


urlpatterns = [
    path(
        "workspaces/<str:workspace_name>/components/",
        ComponentListView.as_view(),
        name="component-list",
    ),
]
