"""API shapes every asset kind shares. Each kind's module (data.py, environments.py, ...)
subclasses `VersionOutputSerializer` with its own fields and registers it in `VERSION_SERIALIZERS`
(`register(kind, serializer)`), so the shared views of common.py serialize any kind."""

from __future__ import annotations

from rest_framework import serializers

from ..models import Asset

# URL segment of each kind, in the pages and the API: /w/<ws>/data/, /api/v1/workspaces/<ws>/models/
SEGMENTS = {
    "data": "data",
    "environment": "environments",
    "model": "models",
    "component": "components",
}
KIND_OF_SEGMENT = {seg: kind for kind, seg in SEGMENTS.items()}


class AssetOutputSerializer(serializers.ModelSerializer):
    """A name of one kind, with its latest version and how many versions it has."""

    created_by = serializers.CharField(source="created_by.username", default=None)

    class Meta:
        model = Asset
        fields = [
            "name",
            "kind",
            "description",
            "tags",
            "labels",
            "latest_version",
            "version_count",
            "archived",
            "created_at",
            "updated_at",
            "created_by",
        ]


class VersionOutputSerializer(serializers.Serializer):
    """What every version shows; kinds add theirs."""

    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(read_only=True)
    version = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    tags = serializers.DictField(read_only=True)
    properties = serializers.DictField(read_only=True)
    archived = serializers.BooleanField(read_only=True)
    reference = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True)
    created_by_job = serializers.CharField(
        source="created_by_job.name", default=None, read_only=True
    )


class UpdateInputSerializer(serializers.Serializer):
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    tags = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)


VERSION_SERIALIZERS: dict[str, type[serializers.Serializer]] = {}


def register(kind: str, serializer: type[serializers.Serializer]) -> None:
    VERSION_SERIALIZERS[kind] = serializer


def version_serializer(kind: str) -> type[serializers.Serializer]:
    return VERSION_SERIALIZERS.get(kind, VersionOutputSerializer)
