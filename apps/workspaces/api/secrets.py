"""The vault's API: /api/v1/workspaces/<workspace_name>/secrets/ and .../secret-audit/.

Values go in (POST, PUT) and never come out: every response carries names and metadata
only. The views answer JSON only, so no browsable-API form can echo a submitted value.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from studio.api import paginated

from .. import selectors
from ..models import Secret, SecretAccess
from ..selectors import secrets as secret_selectors
from ..services import secrets as secret_services

VALUE_HELP = (
    "The secret's value (at most 64 KiB). Write-only: encrypted at rest and never returned."
)


class SecretOutputSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None)
    updated_by = serializers.CharField(source="updated_by.username", default=None)

    class Meta:
        model = Secret
        fields = ["name", "description", "created_at", "created_by", "updated_at", "updated_by"]


class SecretSetInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=127)
    value = serializers.CharField(
        write_only=True,
        trim_whitespace=False,
        help_text=VALUE_HELP,
        style={"input_type": "password"},
    )
    description = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        help_text="Left out: a new secret gets none, a replaced one keeps its own.",
    )


class SecretPutInputSerializer(SecretSetInputSerializer):
    name = None  # the name is in the URL


class SecretAuditOutputSerializer(serializers.ModelSerializer):
    secret = serializers.CharField(source="secret_name")
    actor = serializers.CharField(
        source="actor_username", help_text="A user name, or 'system' for a read by a job."
    )

    class Meta:
        model = SecretAccess
        fields = ["secret", "kind", "actor", "purpose", "created_at"]


def _saved(secret: Secret) -> Response:
    # secret_set stamps a new secret's created_at and updated_at with the same instant.
    created = secret.created_at == secret.updated_at
    return Response(
        SecretOutputSerializer(secret).data,
        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
    )


class SecretViewSet(viewsets.ViewSet):
    renderer_classes = [JSONRenderer]
    lookup_field = "secret_name"
    lookup_value_regex = r"[^/]+"

    def _workspace(self, name):
        return selectors.workspace_get(actor=self.request.user, name=name)

    @extend_schema(responses=SecretOutputSerializer(many=True))
    def list(self, request, workspace_name=None):
        """The workspace's secrets: names and metadata, never values."""
        workspace = self._workspace(workspace_name)
        qs = secret_selectors.secret_list(actor=request.user, workspace=workspace)
        return paginated(self, qs, SecretOutputSerializer, ordering="name")

    @extend_schema(
        request=SecretSetInputSerializer,
        responses={201: SecretOutputSerializer, 200: SecretOutputSerializer},
    )
    def create(self, request, workspace_name=None):
        """Create a secret, or replace the value of the one with that name (200)."""
        workspace = self._workspace(workspace_name)
        payload = SecretSetInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        secret = secret_services.secret_set(
            actor=request.user, workspace=workspace, **payload.validated_data
        )
        return _saved(secret)

    @extend_schema(responses=SecretOutputSerializer)
    def retrieve(self, request, workspace_name=None, secret_name=None):
        """One secret's metadata (never its value)."""
        secret = secret_selectors.secret_get(
            actor=request.user, workspace=self._workspace(workspace_name), name=secret_name
        )
        return Response(SecretOutputSerializer(secret).data)

    @extend_schema(
        request=SecretPutInputSerializer,
        responses={201: SecretOutputSerializer, 200: SecretOutputSerializer},
    )
    def update(self, request, workspace_name=None, secret_name=None):
        """Set the secret of this name: create it (201) or replace its value (200)."""
        workspace = self._workspace(workspace_name)
        payload = SecretPutInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        secret = secret_services.secret_set(
            actor=request.user, workspace=workspace, name=secret_name, **payload.validated_data
        )
        return _saved(secret)

    @extend_schema(responses={204: None})
    def destroy(self, request, workspace_name=None, secret_name=None):
        secret_services.secret_delete(
            actor=request.user, workspace=self._workspace(workspace_name), name=secret_name
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class SecretAuditViewSet(viewsets.ViewSet):
    renderer_classes = [JSONRenderer]

    @extend_schema(
        parameters=[OpenApiParameter("secret", str, description="Only this secret's entries.")],
        responses=SecretAuditOutputSerializer(many=True),
    )
    def list(self, request, workspace_name=None):
        """The vault's audit trail, newest first: sets, deletes, and reads by the system."""
        workspace = selectors.workspace_get(actor=request.user, name=workspace_name)
        qs = secret_selectors.secret_audit_list(
            actor=request.user,
            workspace=workspace,
            secret_name=request.query_params.get("secret", ""),
        )
        return paginated(self, qs, SecretAuditOutputSerializer, ordering=("-created_at", "-id"))
