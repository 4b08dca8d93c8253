"""API of code snapshots (the `code` folder of a job or a component, frozen as a zip):

    POST  workspaces/<ws>/code/        upload a zip: the raw body (Content-Type
                                       application/zip or application/octet-stream, with a
                                       Content-Length), or multipart/form-data with a `file`
    GET   workspaces/<ws>/code/<id>/   one snapshot and its manifest (files, sizes, SHA-256)

The same files give the same snapshot (its id comes back again), so a client may upload
before every job. The CLI zips with studio/codezip.py (`studio.cli.code.upload_code`).
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.workspaces import selectors as ws_selectors
from apps.workspaces.api.datastores import LengthRequired
from apps.workspaces.permissions import Action
from studio.errors import ValidationError

from ..services import code as code_services
from ..services import components as component_services

UPLOAD_CHUNK = 2**20


class CodeSnapshotOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    content_hash = serializers.CharField(read_only=True)
    file_count = serializers.IntegerField(read_only=True)
    size_bytes = serializers.IntegerField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True)


class CodeSnapshotDetailSerializer(CodeSnapshotOutputSerializer):
    manifest = serializers.ListField(child=serializers.DictField(), read_only=True)


class _BodyReader:
    """The WSGI request body as a file that ends after Content-Length bytes, and complains
    when the client stops sending before that."""

    def __init__(self, raw, size: int):
        self.raw = raw
        self.remaining = size
        self.size = size

    def read(self, n: int = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        want = self.remaining if n is None or n < 0 else min(n, self.remaining)
        data = self.raw.read(min(want, UPLOAD_CHUNK))
        if not data:
            raise ValidationError.for_field(
                "body", f"The upload ended after {self.size - self.remaining} of {self.size} bytes."
            )
        self.remaining -= len(data)
        return data


def _raw_body(request) -> _BodyReader:
    raw = request._request  # the WSGI request: its body is read as a stream
    length = raw.META.get("CONTENT_LENGTH") or ""
    if not length and "chunked" in raw.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        raise LengthRequired("Send the zip with a Content-Length header.")
    if length and not length.isdigit():
        raise ValidationError.for_field("Content-Length", "Not a number of bytes.")
    size = int(length or 0)
    if size == 0:
        raise ValidationError.for_field("code", "is empty: send a zip of the code folder.")
    return _BodyReader(raw, size)


class CodeSnapshotListView(APIView):
    """Upload a zipped code folder; answer with its snapshot (the same one when the same
    files were uploaded before)."""

    @extend_schema(
        request={
            "application/zip": OpenApiTypes.BINARY,
            "application/octet-stream": OpenApiTypes.BINARY,
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
            },
        },
        responses={201: CodeSnapshotOutputSerializer},
    )
    def post(self, request, workspace_name: str):
        # Who may upload is known before the body is read.
        workspace = ws_selectors.workspace_get(
            actor=request.user, name=workspace_name, action=Action.ASSET_CREATE
        )
        content_type = request.content_type.split(";")[0].strip().lower()
        if content_type == "multipart/form-data":
            upload = request.FILES.get("file")
            if upload is None:
                raise ValidationError.for_field("file", "is required: the zip of the code folder.")
            fileobj = upload
        else:
            fileobj = _raw_body(request)
        snapshot = code_services.snapshot_create(
            actor=request.user, workspace=workspace, fileobj=fileobj
        )
        return Response(CodeSnapshotOutputSerializer(snapshot).data, status=status.HTTP_201_CREATED)


class CodeSnapshotDetailView(APIView):
    @extend_schema(responses=CodeSnapshotDetailSerializer)
    def get(self, request, workspace_name: str, snapshot_id: str):
        workspace = ws_selectors.workspace_get(actor=request.user, name=workspace_name)
        snapshot = component_services.snapshot_get(
            actor=request.user, workspace=workspace, snapshot_id=snapshot_id
        )
        return Response(CodeSnapshotDetailSerializer(snapshot).data)


urlpatterns = [
    path(
        "workspaces/<str:workspace_name>/code/",
        CodeSnapshotListView.as_view(),
        name="code-list",
    ),
    path(
        "workspaces/<str:workspace_name>/code/<str:snapshot_id>/",
        CodeSnapshotDetailView.as_view(),
        name="code-detail",
    ),
]
