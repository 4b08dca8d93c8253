"""API every asset kind shares (<seg> is data, environments, models or components):

    GET    workspaces/<ws>/<seg>/?search=&archived=&order=     the names, latest version each
    GET    workspaces/<ws>/<seg>/<name>/                       one name
    PATCH  workspaces/<ws>/<seg>/<name>/                       its description, tags
    POST   workspaces/<ws>/<seg>/<name>/archive/ | restore/    every version at once
    GET    workspaces/<ws>/<seg>/<name>/versions/              its versions, newest first
    GET    workspaces/<ws>/<seg>/<name>/versions/<v>/          one version (`latest` works)
    PATCH  workspaces/<ws>/<seg>/<name>/versions/<v>/          its description, tags
    POST   workspaces/<ws>/<seg>/<name>/versions/<v>/archive/ | restore/

Creating is each kind's own (POST workspaces/<ws>/<seg>/ in the kind's module).
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.workspaces import selectors as ws_selectors
from studio.api import paginated
from studio.errors import ValidationError

from .. import selectors
from ..models import Kind
from ..services import versions as version_services
from .serializers import (
    KIND_OF_SEGMENT,
    SEGMENTS,
    AssetOutputSerializer,
    UpdateInputSerializer,
    version_serializer,
)


def kind_of(segment: str) -> str:
    return KIND_OF_SEGMENT[segment]


class _AssetView(APIView):
    segment = ""

    @property
    def kind(self) -> str:
        return kind_of(self.segment)

    def workspace(self, name: str):
        return ws_selectors.workspace_get(actor=self.request.user, name=name)

    def asset(self, workspace_name: str, name: str):
        workspace = self.workspace(workspace_name)
        return selectors.asset_get(
            actor=self.request.user, workspace=workspace, kind=self.kind, name=name
        )

    def row(self, workspace_name: str, name: str, version: str):
        workspace = self.workspace(workspace_name)
        if version == "latest":
            return selectors.resolve(
                actor=self.request.user,
                workspace=workspace,
                kind=self.kind,
                ref=f"{name}@latest",
                field="version",
            )
        return selectors.version_get(
            actor=self.request.user, workspace=workspace, kind=self.kind, name=name, version=version
        )


def refuse_unknown_fields(data, serializer_class, what: str) -> None:
    """A create body must be a JSON object of the kind's YAML fields (its input serializer's,
    plus `$schema` and `datastore`): anything else is refused, naming the field."""
    if not isinstance(data, dict):
        raise ValidationError.for_field("body", "send a JSON object.")
    known = set(serializer_class().fields) | {"$schema", "datastore"}
    for key in data:
        if key not in known:
            raise ValidationError.for_field(key, f"'{key}' is not a field of {what}.")


ORDERINGS = {"name": "name", "-name": "-name", "updated": "updated_at", "-updated": "-updated_at"}


LIST_PARAMETERS = [
    OpenApiParameter("search", str, description="Part of the name or description."),
    OpenApiParameter("archived", bool, description="Include archived names."),
    OpenApiParameter("order", str, enum=list(ORDERINGS)),
]


class AssetListView(_AssetView):
    @extend_schema(responses=AssetOutputSerializer(many=True), parameters=LIST_PARAMETERS)
    def get(self, request, workspace_name: str):
        workspace = self.workspace(workspace_name)
        order = request.query_params.get("order", "name")
        if order not in ORDERINGS:
            raise ValidationError.for_field("order", f"one of: {', '.join(ORDERINGS)}.")
        qs = selectors.asset_list(
            actor=request.user,
            workspace=workspace,
            kind=self.kind,
            search=request.query_params.get("search", "").strip(),
            include_archived=request.query_params.get("archived") in ("1", "true", "True"),
            **self.list_filters(request),
        )
        return paginated(
            self,
            qs,
            self.list_serializer,
            ordering=(ORDERINGS[order], "id"),
            context=self.list_context,
        )

    list_serializer = AssetOutputSerializer
    list_context = None  # a kind's extra serializer context, from the page's rows

    def list_filters(self, request) -> dict:
        """A kind's own filters of the list (environments: `?kind=`)."""
        return {}


class AssetDetailView(_AssetView):
    @extend_schema(responses=AssetOutputSerializer)
    def get(self, request, workspace_name: str, name: str):
        return Response(AssetOutputSerializer(self.asset(workspace_name, name)).data)

    @extend_schema(request=UpdateInputSerializer, responses=AssetOutputSerializer)
    def patch(self, request, workspace_name: str, name: str):
        data = UpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        asset = version_services.asset_update(
            actor=request.user, asset=self.asset(workspace_name, name), **data.validated_data
        )
        return Response(AssetOutputSerializer(asset).data)


class AssetArchiveView(_AssetView):
    archived = True

    @extend_schema(request=None, responses=AssetOutputSerializer)
    def post(self, request, workspace_name: str, name: str):
        asset = version_services.asset_set_archived(
            actor=request.user, asset=self.asset(workspace_name, name), archived=self.archived
        )
        return Response(AssetOutputSerializer(asset).data)


class VersionListView(_AssetView):
    def get(self, request, workspace_name: str, name: str):
        asset = self.asset(workspace_name, name)
        qs = selectors.version_list(actor=request.user, asset=asset)
        return paginated(self, qs, version_serializer(self.kind), ordering=("-created_at", "-id"))


class VersionDetailView(_AssetView):
    def get(self, request, workspace_name: str, name: str, version: str):
        row = self.row(workspace_name, name, version)
        return Response(version_serializer(self.kind)(row).data)

    @extend_schema(request=UpdateInputSerializer)
    def patch(self, request, workspace_name: str, name: str, version: str):
        data = UpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = version_services.version_update(
            actor=request.user,
            row=self.row(workspace_name, name, version),
            **data.validated_data,
        )
        return Response(version_serializer(self.kind)(row).data)


class VersionArchiveView(_AssetView):
    archived = True

    @extend_schema(request=None)
    def post(self, request, workspace_name: str, name: str, version: str):
        row = version_services.version_set_archived(
            actor=request.user, row=self.row(workspace_name, name, version), archived=self.archived
        )
        return Response(version_serializer(self.kind)(row).data)


def _routes(kind: str) -> list:
    seg = SEGMENTS[kind]
    base = f"workspaces/<str:workspace_name>/{seg}/"
    one = base + "<str:name>/"
    ver = one + "versions/<str:version>/"

    def view(cls, **kw):
        return cls.as_view(segment=seg, **kw)

    return [
        path(base, view(AssetListView), name=f"{kind}-list"),
        path(one, view(AssetDetailView), name=f"{kind}-detail"),
        path(one + "archive/", view(AssetArchiveView), name=f"{kind}-archive"),
        path(one + "restore/", view(AssetArchiveView, archived=False), name=f"{kind}-restore"),
        path(one + "versions/", view(VersionListView), name=f"{kind}-version-list"),
        path(ver, view(VersionDetailView), name=f"{kind}-version-detail"),
        path(ver + "archive/", view(VersionArchiveView), name=f"{kind}-version-archive"),
        path(
            ver + "restore/",
            view(VersionArchiveView, archived=False),
            name=f"{kind}-version-restore",
        ),
    ]


urlpatterns = [route for kind in Kind.values for route in _routes(kind)]
