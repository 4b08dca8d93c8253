"""API shapes for workspaces, members, the role audit and tokens (datastores: datastores.py)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework import serializers

from ..models import ApiToken, Membership, Role, RoleAuditEntry, Workspace


class WorkspaceOutputSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Workspace
        fields = [
            "id",
            "name",
            "display_name",
            "description",
            "tags",
            "extra",
            "created_at",
            "updated_at",
            "role",
        ]

    def get_role(self, obj) -> str | None:
        roles = self.context.get("roles") or {}
        return roles.get(obj.pk)


class WorkspaceCreateInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=33)
    display_name = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )
    description = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=5000
    )
    tags = serializers.DictField(
        child=serializers.CharField(allow_blank=True), required=False, default=dict
    )
    extra = serializers.DictField(required=False, default=dict)


class WorkspaceUpdateInputSerializer(serializers.Serializer):
    display_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    tags = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    extra = serializers.DictField(required=False)


class MemberOutputSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username")

    class Meta:
        model = Membership
        fields = ["user", "role", "created_at"]


class MemberAddInputSerializer(serializers.Serializer):
    user = serializers.CharField(max_length=150)
    role = serializers.CharField(max_length=40, help_text=f"One of: {', '.join(Role.values)}")


class MemberUpdateInputSerializer(serializers.Serializer):
    role = serializers.CharField(max_length=40, help_text=f"One of: {', '.join(Role.values)}")


class RoleAuditOutputSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_username")
    user = serializers.CharField(source="subject_username")

    class Meta:
        model = RoleAuditEntry
        fields = ["actor", "action", "user", "old_role", "new_role", "created_at"]


class TokenOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "hint", "created_at", "last_used_at", "expires_at"]


class TokenCreatedOutputSerializer(TokenOutputSerializer):
    token = serializers.CharField(help_text="The token itself. Shown once, never again.")

    class Meta(TokenOutputSerializer.Meta):
        fields = [*TokenOutputSerializer.Meta.fields, "token"]


class TokenCreateInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    expires_in_days = serializers.IntegerField(
        required=False, min_value=1, max_value=3650, allow_null=True
    )


class MeOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = get_user_model()
        fields = ["username", "email", "is_staff"]
