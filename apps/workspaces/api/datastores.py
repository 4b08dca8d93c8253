"""API of datastores and their files: parse, call a selector or service, serialize.

    GET/POST          workspaces/<ws>/datastores/
    GET/PATCH/DELETE  workspaces/<ws>/datastores/<ds>/
    POST              workspaces/<ws>/datastores/<ds>/set-default/
    GET               workspaces/<ws>/datastores/<ds>/files/?path=&cursor=&limit=
    GET/PUT/DELETE    workspaces/<ws>/datastores/<ds>/files/content?path=

Uploads (PUT) take the file as the raw request body, read in chunks and streamed to storage;
downloads stream back the same way. Credentials go in and never come out.
"""

from __future__ import annotations

from urllib.parse import urlencode

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from studio.api import paginated
from studio.downloads import file_download
from studio.errors import DomainError, ValidationError

from .. import selectors, storage
from ..permissions import Action
from ..selectors import datastores as datastore_selectors
from ..services import datastores as datastore_services

UPLOAD_CHUNK = 2**20


class LengthRequired(DomainError):
    status_code = status.HTTP_411_LENGTH_REQUIRED
    code = "length_required"


# Serializers -------------------------------------------------------------------------------


class DatastoreOutputSerializer(serializers.Serializer):
    """A datastore as `az ml datastore show` prints it; credentials only by their kind."""

    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(read_only=True)
    type = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    tags = serializers.DictField(child=serializers.CharField(), read_only=True)
    is_default = serializers.BooleanField(read_only=True)
    account_name = serializers.CharField(source="config.account_name", read_only=True)
    container_name = serializers.CharField(source="config.container_name", read_only=True)
    endpoint = serializers.CharField(source="config.endpoint", read_only=True)
    protocol = serializers.CharField(source="config.protocol", read_only=True)
    account_url = serializers.CharField(source="config.account_url", read_only=True)
    bucket = serializers.CharField(source="config.bucket", read_only=True)
    endpoint_url = serializers.CharField(source="config.endpoint_url", read_only=True)
    region = serializers.CharField(source="config.region", read_only=True)
    path = serializers.CharField(source="config.path", read_only=True)
    credential_kind = serializers.CharField(
        read_only=True,
        help_text="none, account_key, sas_token or access_key. The values are never returned.",
    )
    uri = serializers.SerializerMethodField()
    extra = serializers.DictField(read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def get_uri(self, obj) -> str:
        return f"azureml://datastores/{obj.name}"


class DatastoreCreateInputSerializer(serializers.Serializer):
    """The fields of an `az ml datastore create` YAML (azure_blob), or of our s3 and local
    types. Settings of another type are refused by the service, naming the field."""

    name = serializers.CharField(max_length=255)
    type = serializers.CharField(max_length=20, help_text="azure_blob, s3 or local")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    tags = serializers.DictField(
        child=serializers.CharField(allow_blank=True), required=False, default=dict
    )
    account_name = serializers.CharField(required=False, allow_blank=True)
    container_name = serializers.CharField(required=False, allow_blank=True)
    endpoint = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="core.windows.net (default), or the account's full URL (Azurite).",
    )
    protocol = serializers.CharField(required=False, allow_blank=True, help_text="https or wasbs")
    account_url = serializers.CharField(required=False, allow_blank=True)
    bucket = serializers.CharField(required=False, allow_blank=True)
    endpoint_url = serializers.CharField(required=False, allow_blank=True)
    region = serializers.CharField(required=False, allow_blank=True)
    path = serializers.CharField(required=False, allow_blank=True)
    credentials = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text="{account_key} or {sas_token} (azure_blob); "
        "{access_key_id, secret_access_key} (s3). Write-only.",
    )
    extra = serializers.DictField(required=False, default=dict)


class DatastoreUpdateInputSerializer(serializers.Serializer):
    description = serializers.CharField(required=False, allow_blank=True)
    tags = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    credentials = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text="New credentials (tested before they are saved); {} for none. Write-only.",
    )


class FileEntrySerializer(serializers.Serializer):
    name = serializers.CharField()
    path = serializers.CharField()
    is_dir = serializers.BooleanField()
    size = serializers.IntegerField(allow_null=True)
    modified = serializers.DateTimeField(allow_null=True)
    uri = serializers.CharField()


FileListSerializer = inline_serializer(
    "DatastoreFileList",
    fields={
        "path": serializers.CharField(),
        "next": serializers.CharField(allow_null=True),
        "next_cursor": serializers.CharField(allow_null=True),
        "results": FileEntrySerializer(many=True),
    },
)
PATH_PARAM = OpenApiParameter(
    "path", str, description="Path in the datastore, '/'-separated", required=True
)


def _entry_data(store_name: str, entry: storage.Entry) -> dict:
    return {**entry.as_dict(), "uri": storage.uri(store_name, entry.path)}


# Views -------------------------------------------------------------------------------------


class _DatastoreMixin:
    def datastore(self, workspace_name: str, name: str, action: Action = Action.DATASTORE_VIEW):
        workspace = selectors.workspace_get(actor=self.request.user, name=workspace_name)
        return datastore_selectors.datastore_get(
            actor=self.request.user, workspace=workspace, name=name, action=action
        )


class DatastoreListView(APIView):
    @extend_schema(responses=DatastoreOutputSerializer(many=True))
    def get(self, request, workspace_name: str):
        workspace = selectors.workspace_get(actor=request.user, name=workspace_name)
        qs = datastore_selectors.datastore_list(actor=request.user, workspace=workspace)
        return paginated(
            self, qs.select_related("created_by"), DatastoreOutputSerializer, ordering="name"
        )

    @extend_schema(
        request=DatastoreCreateInputSerializer, responses={201: DatastoreOutputSerializer}
    )
    def post(self, request, workspace_name: str):
        workspace = selectors.workspace_get(actor=request.user, name=workspace_name)
        payload = DatastoreCreateInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        datastore = datastore_services.datastore_create(
            actor=request.user, workspace=workspace, **payload.validated_data
        )
        return Response(DatastoreOutputSerializer(datastore).data, status=status.HTTP_201_CREATED)


class DatastoreDetailView(_DatastoreMixin, APIView):
    @extend_schema(responses=DatastoreOutputSerializer)
    def get(self, request, workspace_name: str, name: str):
        datastore = self.datastore(workspace_name, name)
        return Response(DatastoreOutputSerializer(datastore).data)

    @extend_schema(request=DatastoreUpdateInputSerializer, responses=DatastoreOutputSerializer)
    def patch(self, request, workspace_name: str, name: str):
        datastore = self.datastore(workspace_name, name)
        payload = DatastoreUpdateInputSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        datastore = datastore_services.datastore_update(
            actor=request.user, datastore=datastore, **payload.validated_data
        )
        return Response(DatastoreOutputSerializer(datastore).data)

    @extend_schema(responses={204: None})
    def delete(self, request, workspace_name: str, name: str):
        datastore = self.datastore(workspace_name, name)
        datastore_services.datastore_delete(actor=request.user, datastore=datastore)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DatastoreSetDefaultView(_DatastoreMixin, APIView):
    @extend_schema(request=None, responses=DatastoreOutputSerializer)
    def post(self, request, workspace_name: str, name: str):
        datastore = self.datastore(workspace_name, name)
        datastore = datastore_services.datastore_set_default(
            actor=request.user, datastore=datastore
        )
        return Response(DatastoreOutputSerializer(datastore).data)


class DatastoreFileListView(_DatastoreMixin, APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("path", str, description="Folder ('' for the root)"),
            OpenApiParameter("cursor", str, description="`next_cursor` of the previous page"),
            OpenApiParameter("limit", int, description="Entries a page (1 to 1000, 100)"),
        ],
        responses=FileListSerializer,
    )
    def get(self, request, workspace_name: str, name: str):
        datastore = self.datastore(workspace_name, name, Action.DATASTORE_READ_FILES)
        path = storage.clean_path(request.query_params.get("path", ""))
        try:
            limit = int(request.query_params.get("limit", 100))
        except ValueError:
            raise ValidationError.for_field("limit", "Must be a whole number.") from None
        entries, cursor = datastore_selectors.datastore_file_list(
            actor=request.user,
            datastore=datastore,
            path=path,
            cursor=request.query_params.get("cursor") or None,
            limit=limit,
        )
        nxt = None
        if cursor:
            query = urlencode({"path": path, "cursor": cursor, "limit": limit})
            nxt = request.build_absolute_uri(f"{request.path}?{query}")
        return Response(
            {
                "path": path,
                "next": nxt,
                "next_cursor": cursor,
                "results": [_entry_data(datastore.name, e) for e in entries],
            }
        )


class DatastoreFileContentView(_DatastoreMixin, APIView):
    """One file: download (GET), upload with the raw body (PUT), delete (DELETE)."""

    @extend_schema(
        parameters=[PATH_PARAM],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
    )
    def get(self, request, workspace_name: str, name: str):
        datastore = self.datastore(workspace_name, name, Action.DATASTORE_READ_FILES)
        entry, handle = datastore_selectors.datastore_file_open(
            actor=request.user, datastore=datastore, path=request.query_params.get("path", "")
        )
        return download_response(request, entry, handle)

    @extend_schema(
        parameters=[PATH_PARAM],
        request={"application/octet-stream": OpenApiTypes.BINARY},
        responses={201: FileEntrySerializer},
    )
    def put(self, request, workspace_name: str, name: str):
        datastore = self.datastore(workspace_name, name, Action.DATASTORE_WRITE_FILES)
        raw = request._request  # the WSGI request: its body is read as a stream
        length = raw.META.get("CONTENT_LENGTH") or ""
        if not length and "chunked" in raw.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            # WSGI servers hand Django no length for a chunked body: it would read as empty.
            raise LengthRequired("Send the file with a Content-Length header.")
        if length and not length.isdigit():
            raise ValidationError.for_field("Content-Length", "Not a number of bytes.")
        size = int(length or 0)  # no length and no chunks: an empty body (RFC 9112)
        path = request.query_params.get("path", "")
        with datastore_services.datastore_file_writer(
            actor=request.user, datastore=datastore, path=path, size_hint=size
        ) as upload:
            remaining = size
            while remaining > 0:
                data = raw.read(min(UPLOAD_CHUNK, remaining))
                if not data:
                    raise ValidationError.for_field(
                        "body", f"The upload ended after {size - remaining} of {size} bytes."
                    )
                upload.write(data)
                remaining -= len(data)
        entry = datastore_selectors.datastore_file_stat(
            actor=request.user, datastore=datastore, path=upload.path
        )
        return Response(_entry_data(datastore.name, entry), status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[PATH_PARAM], responses={204: None})
    def delete(self, request, workspace_name: str, name: str):
        datastore = self.datastore(workspace_name, name, Action.DATASTORE_WRITE_FILES)
        datastore_services.datastore_file_delete(
            actor=request.user, datastore=datastore, path=request.query_params.get("path", "")
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


def download_response(request, entry: storage.Entry, handle, *, content_type: str | None = None):
    """A streamed response of a file, whole or the byte range asked (studio/downloads.py): an
    attachment unless `content_type` is given (an image shown inline); never sniffed by the
    browser, never run as a page."""
    return file_download(
        request, handle, name=entry.name, size=entry.size, modified=entry.modified,
        content_type=content_type or "application/octet-stream", attachment=not content_type,
    )  # fmt: skip
