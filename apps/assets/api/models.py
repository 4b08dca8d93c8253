"""API of the models kind (create and download); list, show, update, archive and restore come
from common.py.

    POST workspaces/<ws>/models/                       JSON: {name, version?, type?, path, ...}
                                                       with path a datastore URI, a job output
                                                       (azureml://jobs/...), runs:/ or models:/
    POST workspaces/<ws>/models/?spec=<json>&filename=<name>[&folder=true]
                                                       raw body: a local file, or a folder as a
                                                       zip (streamed to the default datastore)
    GET  workspaces/<ws>/models/<name>/versions/<v>/download/   the files as a zip (streamed)
"""

from __future__ import annotations

import json

from django.http import StreamingHttpResponse
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.response import Response

from apps.workspaces import permissions
from apps.workspaces.permissions import Action
from studio.errors import ValidationError

from ..models import Kind
from ..services import models as model_services
from .common import AssetListView, _AssetView
from .serializers import VersionOutputSerializer, register

SPEC_KEYS = ("name", "version", "type", "path", "description", "tags", "properties", "stage")


class ModelVersionOutputSerializer(VersionOutputSerializer):
    type = serializers.CharField(read_only=True)
    path = serializers.CharField(read_only=True)
    size_bytes = serializers.IntegerField(read_only=True, allow_null=True)
    file_count = serializers.IntegerField(read_only=True, allow_null=True)
    flavors = serializers.DictField(read_only=True)
    signature = serializers.DictField(read_only=True)
    input_example = serializers.JSONField(read_only=True)
    stage = serializers.CharField(read_only=True)
    source = serializers.CharField(read_only=True)
    run_id = serializers.CharField(read_only=True)
    logged_model_id = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True)


register(Kind.MODEL, ModelVersionOutputSerializer)


class ModelCreateInputSerializer(serializers.Serializer):
    """The model YAML's keys (`az ml model create --file`)."""

    name = serializers.JSONField()
    version = serializers.JSONField(required=False, allow_null=True)
    type = serializers.JSONField(required=False, allow_null=True)
    path = serializers.JSONField(required=False)
    description = serializers.JSONField(required=False, allow_null=True)
    tags = serializers.JSONField(required=False, allow_null=True)
    properties = serializers.JSONField(required=False, allow_null=True)
    stage = serializers.JSONField(required=False, allow_null=True)


class RawUploadParser(BaseParser):
    """A file or zip as the raw body: the view reads the stream itself."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream


def _spec(data: dict) -> dict:
    unknown = sorted(set(data) - set(SPEC_KEYS))
    if unknown:
        raise ValidationError.for_field(unknown[0], "is not a key of a model.")
    spec = {k: v for k, v in data.items() if v is not None}
    if "stage" in spec and not isinstance(spec["stage"], str):
        raise ValidationError.for_field("stage", "must be a string.")
    return spec


class ModelListView(AssetListView):
    parser_classes = [JSONParser, RawUploadParser]

    @extend_schema(
        request=ModelCreateInputSerializer,
        responses=ModelVersionOutputSerializer,
        parameters=[
            OpenApiParameter("spec", str, description="Upload: the model's keys as JSON."),
            OpenApiParameter("filename", str, description="Upload: the file or folder name."),
            OpenApiParameter("folder", bool, description="Upload: the body is a zipped folder."),
        ],
    )
    def post(self, request, workspace_name: str):
        workspace = self.workspace(workspace_name)
        if "spec" in request.query_params:
            return self._upload(request, workspace)
        if not isinstance(request.data, dict):
            raise ValidationError("Send the model's keys as a JSON object.")
        spec = _spec(dict(request.data))
        if "path" not in spec:
            raise ValidationError.for_field(
                "path", "is required: a local file or folder, or a URI."
            )
        row = model_services.model_create(actor=request.user, workspace=workspace, **spec)
        return Response(ModelVersionOutputSerializer(row).data, status=201)

    def _upload(self, request, workspace):
        permissions.require(request.user, Action.ASSET_CREATE, workspace)
        try:
            data = json.loads(request.query_params["spec"])
        except ValueError:
            raise ValidationError.for_field("spec", "is not valid JSON.") from None
        if not isinstance(data, dict):
            raise ValidationError.for_field("spec", "must be a JSON object.")
        spec = _spec(data)
        spec.pop("path", None)
        row = model_services.model_create_from_upload(
            actor=request.user,
            workspace=workspace,
            fileobj=request.stream if request.stream is not None else request,
            filename=request.query_params.get("filename", ""),
            folder=request.query_params.get("folder") in ("1", "true", "True"),
            **spec,
        )
        return Response(ModelVersionOutputSerializer(row).data, status=201)


class ModelDownloadView(_AssetView):
    segment = "models"

    @extend_schema(responses={(200, "application/zip"): bytes})
    def get(self, request, workspace_name: str, name: str, version: str):
        row = self.row(workspace_name, name, version)
        return zip_response(row)


def zip_response(row) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        model_services.download_zip(row), content_type="application/zip"
    )
    response["Content-Disposition"] = f'attachment; filename="{row.name}-{row.version}.zip"'
    return response


_BASE = "workspaces/<str:workspace_name>/models/"

urlpatterns = [
    path(_BASE, ModelListView.as_view(segment="models"), name="model-list"),
    path(
        _BASE + "<str:name>/versions/<str:version>/download/",
        ModelDownloadView.as_view(),
        name="model-download",
    ),
]
