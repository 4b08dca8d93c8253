"""API of the environments kind (create, build, build log, the list's `?kind=` filter);
list, show, update, archive and restore come from common.py.

    GET   workspaces/<ws>/environments/?kind=custom|curated|anonymous  only that kind

    POST  workspaces/<ws>/environments/                              create (JSON: Azure's
          environment YAML fields; `conda_file` as text or a mapping, `pip_requirements` as the
          text of a requirements file, `build: {snapshot: <code snapshot id>, dockerfile_path}`
          for a Docker build context uploaded with POST workspaces/<ws>/code/)
    POST  workspaces/<ws>/environments/<name>/versions/<v>/build/    (re)build on a worker
          (`{"force": true}` rebuilds an image that exists)
    GET   workspaces/<ws>/environments/<name>/versions/<v>/build/?after=N
          the newest build and its log lines after N
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from studio.errors import NotFound, ValidationError

from .. import selectors
from ..models import Kind
from ..services import components as component_services
from ..services import environments as env_services
from .common import LIST_PARAMETERS, AssetListView, _AssetView, refuse_unknown_fields
from .serializers import AssetOutputSerializer, VersionOutputSerializer, register

SEG = "environments"


class EnvironmentVersionOutputSerializer(VersionOutputSerializer):
    source = serializers.CharField(read_only=True)
    image = serializers.CharField(read_only=True)
    conda_file = serializers.CharField(read_only=True)
    pip_requirements = serializers.CharField(read_only=True)
    build = serializers.SerializerMethodField()
    os_type = serializers.CharField(read_only=True)
    inference_config = serializers.DictField(read_only=True)
    spec_hash = serializers.CharField(read_only=True)
    image_tag = serializers.SerializerMethodField()
    is_anonymous = serializers.BooleanField(read_only=True)
    is_curated = serializers.BooleanField(read_only=True)

    def get_build(self, row) -> dict | None:
        if row.build_context_id is None:
            return None
        return {"snapshot": str(row.build_context_id), "dockerfile_path": row.dockerfile_path}

    def get_image_tag(self, row) -> str:
        return env_services.image_tag(row)


register(Kind.ENVIRONMENT, EnvironmentVersionOutputSerializer)


class BuildOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    status = serializers.CharField(read_only=True)
    image_tag = serializers.CharField(read_only=True)
    spec_hash = serializers.CharField(read_only=True)
    forced = serializers.BooleanField(read_only=True)
    engine = serializers.CharField(read_only=True)
    failed_step = serializers.CharField(read_only=True)
    error = serializers.CharField(read_only=True)
    log_seq = serializers.IntegerField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    started_at = serializers.DateTimeField(read_only=True)
    finished_at = serializers.DateTimeField(read_only=True)


class EnvironmentCreateInputSerializer(serializers.Serializer):
    name = serializers.JSONField()
    version = serializers.JSONField(required=False, allow_null=True)
    description = serializers.JSONField(required=False, allow_null=True)
    tags = serializers.JSONField(required=False, allow_null=True)
    image = serializers.JSONField(required=False, allow_null=True)
    conda_file = serializers.JSONField(required=False, allow_null=True)
    pip_requirements = serializers.JSONField(required=False, allow_null=True)
    build = serializers.JSONField(required=False, allow_null=True)
    os_type = serializers.JSONField(required=False, allow_null=True)
    inference_config = serializers.JSONField(required=False, allow_null=True)


def _check_fields(data) -> None:
    if isinstance(data, dict):
        env_services.refuse_conda_as_spec(data)
    refuse_unknown_fields(data, EnvironmentCreateInputSerializer, "an environment")


class EnvironmentListView(AssetListView):
    segment = SEG

    @extend_schema(
        responses=AssetOutputSerializer(many=True),
        parameters=[
            *LIST_PARAMETERS,
            OpenApiParameter(
                "kind",
                str,
                enum=list(selectors.ENVIRONMENT_KINDS),
                description="Only custom, curated or anonymous (inline) environments; "
                "without it, all.",
            ),
        ],
    )
    def get(self, request, workspace_name: str):
        return super().get(request, workspace_name)

    def list_filters(self, request) -> dict:
        return {"environment_kind": request.query_params.get("kind", "").strip()}

    @extend_schema(
        request=EnvironmentCreateInputSerializer,
        responses={201: EnvironmentVersionOutputSerializer},
    )
    def post(self, request, workspace_name: str):
        workspace = self.workspace(workspace_name)
        _check_fields(request.data)
        body = EnvironmentCreateInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        build = data.get("build")
        snapshot, dockerfile_path = None, ""
        if build is not None:
            if not isinstance(build, dict) or not build.get("snapshot"):
                raise ValidationError.for_field(
                    "build.path",
                    "upload the build context first (POST .../code/) and send "
                    "build: {snapshot: <id>}.",
                )
            try:
                snapshot = component_services.snapshot_get(
                    actor=request.user, workspace=workspace, snapshot_id=build["snapshot"]
                )
            except NotFound as exc:
                raise ValidationError.for_field("build.path", exc.message) from None
            dockerfile_path = build.get("dockerfile_path") or ""
        row = env_services.environment_create(
            actor=request.user,
            workspace=workspace,
            name=data["name"],
            version=data.get("version"),
            description=data.get("description") or "",
            tags=data.get("tags"),
            image=data.get("image") or "",
            conda_file=data.get("conda_file"),
            pip_requirements=data.get("pip_requirements"),
            build_context=snapshot,
            dockerfile_path=dockerfile_path,
            os_type=data.get("os_type") or "linux",
            inference_config=data.get("inference_config"),
        )
        return Response(
            EnvironmentVersionOutputSerializer(row).data, status=status.HTTP_201_CREATED
        )


class EnvironmentBuildView(_AssetView):
    segment = SEG

    @extend_schema(
        parameters=[OpenApiParameter("after", int, description="Log lines after this seq.")],
        responses=BuildOutputSerializer,
    )
    def get(self, request, workspace_name: str, name: str, version: str):
        row = self.row(workspace_name, name, version)
        try:
            after = int(request.query_params.get("after") or 0)
        except ValueError:
            raise ValidationError.for_field("after", "must be a whole number.") from None
        build = env_services.build_latest(actor=request.user, env=row)
        if build is None:
            raise NotFound(f"Environment {row.name}:{row.version} has not been built here yet.")
        lines = env_services.build_log(actor=request.user, build=build, after=after)
        body = BuildOutputSerializer(build).data
        body["lines"] = [{"seq": line.seq, "text": line.text} for line in lines]
        return Response(body)

    @extend_schema(request=None, responses={202: BuildOutputSerializer})
    def post(self, request, workspace_name: str, name: str, version: str):
        row = self.row(workspace_name, name, version)
        force = request.data.get("force") if isinstance(request.data, dict) else False
        if force not in (None, True, False, "true", "false", "1", "0"):
            raise ValidationError.for_field("force", "must be true or false.")
        build = env_services.build_request(
            actor=request.user, env=row, force=force in (True, "true", "1")
        )
        return Response(BuildOutputSerializer(build).data, status=status.HTTP_202_ACCEPTED)


urlpatterns = [
    path(
        f"workspaces/<str:workspace_name>/{SEG}/",
        EnvironmentListView.as_view(),
        name="environment-list",
    ),
    path(
        f"workspaces/<str:workspace_name>/{SEG}/<str:name>/versions/<str:version>/build/",
        EnvironmentBuildView.as_view(),
        name="environment-build",
    ),
]
