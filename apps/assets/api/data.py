"""API of the data kind (create and what only data has); list, show, update, archive and
restore come from common.py.

    POST   workspaces/<ws>/data/                          create from a datastore URI or a URL,
                                                          or from an upload ({"upload": token})
    POST   workspaces/<ws>/data/-/uploads/?datastore=     start an upload: {"upload": token}
    PUT    workspaces/<ws>/data/-/uploads/<token>/?path=&folder=1
                                                          one file, the raw body, streamed
    DELETE workspaces/<ws>/data/-/uploads/<token>/        give up an upload (its files go)
    GET    workspaces/<ws>/data/<name>/versions/<v>/download/   the file, or a zip of the folder
    GET    workspaces/<ws>/data/<name>/versions/<v>/preview/    first rows / listing
    POST   workspaces/<ws>/data/<name>/versions/<v>/profile/    compute the profile (a worker)
"""

from __future__ import annotations

from django.http import StreamingHttpResponse
from django.urls import path
from django.utils.http import content_disposition_header
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from apps.workspaces.api.datastores import LengthRequired
from studio.downloads import file_download
from studio.errors import ValidationError

from .. import selectors_data
from ..models import Kind
from ..services import data as data_services
from .common import AssetListView, _AssetView, refuse_unknown_fields
from .serializers import VersionOutputSerializer, register

SEG = "data"


class DataVersionOutputSerializer(VersionOutputSerializer):
    type = serializers.CharField(read_only=True)
    path = serializers.CharField(read_only=True)
    datastore = serializers.CharField(source="datastore.name", default=None, read_only=True)
    content_hash = serializers.CharField(read_only=True)
    size_bytes = serializers.IntegerField(read_only=True, allow_null=True)
    file_count = serializers.IntegerField(read_only=True, allow_null=True)
    mltable = serializers.CharField(read_only=True)
    profile = serializers.DictField(read_only=True)
    profile_status = serializers.CharField(read_only=True)


register(Kind.DATA, DataVersionOutputSerializer)


class DataCreateInputSerializer(serializers.Serializer):
    """The fields of Azure ML's data YAML; `path` is a datastore URI or an http(s) URL, or
    `upload` names the files uploaded with /data/-/uploads/."""

    name = serializers.JSONField()
    version = serializers.JSONField(required=False, allow_null=True)
    type = serializers.JSONField(required=False, allow_null=True)
    path = serializers.JSONField(required=False, allow_null=True)
    upload = serializers.CharField(required=False, allow_blank=True)
    description = serializers.JSONField(required=False, allow_null=True)
    tags = serializers.JSONField(required=False, allow_null=True)


def _unknown_fields(data) -> None:
    refuse_unknown_fields(data, DataCreateInputSerializer, "a data asset")


class DataListView(AssetListView):
    @extend_schema(request=DataCreateInputSerializer, responses={201: DataVersionOutputSerializer})
    def post(self, request, workspace_name: str):
        workspace = self.workspace(workspace_name)
        _unknown_fields(request.data)
        body = DataCreateInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        common = {
            "actor": request.user,
            "name": data["name"],
            "version": data.get("version"),
            "type": data.get("type"),
            "description": data.get("description") or "",
            "tags": data.get("tags"),
        }
        if data.get("upload"):
            staged = data_services.upload_get(
                actor=request.user, workspace=workspace, token=data["upload"]
            )
            try:
                row = data_services.data_create_upload(staged=staged, **common)
            finally:
                staged.cleanup()
        else:
            row = data_services.data_create(workspace=workspace, path=data.get("path"), **common)
        return Response(DataVersionOutputSerializer(row).data, status=status.HTTP_201_CREATED)


class UploadStartView(_AssetView):
    segment = SEG

    @extend_schema(request=None, responses={201: dict})
    def post(self, request, workspace_name: str):
        staged = data_services.upload_begin(
            actor=request.user,
            workspace=self.workspace(workspace_name),
            datastore=request.query_params.get("datastore") or None,
        )
        body = {"upload": staged.token, "datastore": staged.datastore.name}
        return Response(body, status=status.HTTP_201_CREATED)


class UploadFileView(_AssetView):
    segment = SEG

    @extend_schema(request={"application/octet-stream": bytes}, responses={201: dict})
    def put(self, request, workspace_name: str, token: str):
        staged = data_services.upload_get(
            actor=request.user, workspace=self.workspace(workspace_name), token=token
        )
        raw = request._request  # the WSGI request: its body is read as a stream
        length = raw.META.get("CONTENT_LENGTH") or ""
        if not length and "chunked" in raw.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            raise LengthRequired("Send the file with a Content-Length header.")
        if length and not length.isdigit():
            raise ValidationError.for_field("Content-Length", "Not a number of bytes.")
        folder = request.query_params.get("folder") in ("1", "true")
        entry = staged.put(
            request.query_params.get("path", ""), raw, folder=folder, size=int(length or 0)
        )
        return Response(entry, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, workspace_name: str, token: str):
        staged = data_services.upload_get(
            actor=request.user, workspace=self.workspace(workspace_name), token=token
        )
        staged.cleanup()
        return Response(status=status.HTTP_204_NO_CONTENT)


def stream_response(request, name: str, size: int | None, body, content_type: str):
    """A download: a file object whole or by byte range (studio/downloads.py), or chunks
    (a folder's zip, whose size is not known before it is built)."""
    if hasattr(body, "read"):
        return file_download(request, body, name=name, size=size, content_type=content_type)
    response = StreamingHttpResponse(body, content_type=content_type)
    if size is not None:
        response["Content-Length"] = str(size)
    response["Content-Disposition"] = content_disposition_header(True, name)
    response["X-Content-Type-Options"] = "nosniff"
    return response


class DownloadView(_AssetView):
    segment = SEG

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request, workspace_name: str, name: str, version: str):
        row = self.row(workspace_name, name, version)
        return stream_response(request, *selectors_data.data_download(actor=request.user, row=row))


class PreviewView(_AssetView):
    segment = SEG

    def get(self, request, workspace_name: str, name: str, version: str):
        row = self.row(workspace_name, name, version)
        preview = selectors_data.data_preview(actor=request.user, row=row)
        return Response(
            {
                "kind": preview.kind,
                "message": preview.message,
                "file": preview.file,
                "columns": [{"name": n, "type": t} for n, t in preview.columns],
                "rows": preview.rows,
                "files": [
                    {"name": e.name, "path": e.path, "is_dir": e.is_dir, "size": e.size}
                    for e in preview.files
                ],
                "more_files": preview.more_files,
            }
        )


class ProfileView(_AssetView):
    segment = SEG

    @extend_schema(request=None, responses={202: DataVersionOutputSerializer})
    def post(self, request, workspace_name: str, name: str, version: str):
        row = data_services.data_profile_request(
            actor=request.user, row=self.row(workspace_name, name, version)
        )
        return Response(DataVersionOutputSerializer(row).data, status=status.HTTP_202_ACCEPTED)


_base = f"workspaces/<str:workspace_name>/{SEG}/"
_ver = _base + "<str:name>/versions/<str:version>/"

urlpatterns: list = [
    path(_base, DataListView.as_view(segment=SEG), name="data-list"),
    path(_base + "-/uploads/", UploadStartView.as_view(), name="data-upload-start"),
    path(_base + "-/uploads/<str:token>/", UploadFileView.as_view(), name="data-upload-file"),
    path(_ver + "download/", DownloadView.as_view(), name="data-download"),
    path(_ver + "preview/", PreviewView.as_view(), name="data-preview"),
    path(_ver + "profile/", ProfileView.as_view(), name="data-profile"),
]
