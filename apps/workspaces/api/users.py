"""User accounts' API, for staff only (anyone else gets 404, as if it did not exist):
/api/v1/users/ (list, create), /api/v1/users/<username>/ (retrieve, partial update) and
/api/v1/users/<username>/reset-password/ and /api/v1/users/<username>/audit/ (the account's
history, newest first).

A password goes in (create) and a generated one comes out exactly once (create with
`generate_password`, reset-password); no other answer carries one. JSON only, so no
browsable-API form can echo a submitted password.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from studio.api import paginated

from ..models import UserAuditEntry
from ..selectors import users as selectors
from ..services import users as services


class UserOutputSerializer(serializers.Serializer):
    username = serializers.CharField()
    full_name = serializers.CharField()
    email = serializers.CharField()
    is_active = serializers.BooleanField()
    is_staff = serializers.BooleanField()
    is_superuser = serializers.BooleanField()
    last_login = serializers.DateTimeField(allow_null=True)
    date_joined = serializers.DateTimeField()
    workspace_count = serializers.IntegerField(help_text="Workspaces where the user has a role.")


class UserWithPasswordOutputSerializer(UserOutputSerializer):
    password = serializers.CharField(
        allow_null=True,
        help_text="The generated password: shown in this answer only, never again. "
        "Null when the caller gave the password.",
    )


class UserAuditOutputSerializer(serializers.Serializer):
    created_at = serializers.DateTimeField()
    actor = serializers.CharField(source="actor_username", help_text="Who made the change.")
    user = serializers.CharField(source="subject_username", help_text="Whose account.")
    action = serializers.ChoiceField(choices=UserAuditEntry.Action.choices)
    fields = serializers.ListField(
        child=serializers.CharField(),
        help_text="The names of the fields changed (updated) or given (created); never values.",
    )


class UserCreateInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    email = serializers.CharField(max_length=254, required=False, allow_blank=True, default="")
    full_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    password = serializers.CharField(
        write_only=True,
        required=False,
        trim_whitespace=False,
        allow_blank=True,
        style={"input_type": "password"},
        help_text="Checked by the studio's password validators. Or set generate_password.",
    )
    generate_password = serializers.BooleanField(
        required=False, default=False, help_text="Generate a password, returned once."
    )
    is_staff = serializers.BooleanField(required=False, default=False)


class UserUpdateInputSerializer(serializers.Serializer):
    is_active = serializers.BooleanField(required=False)
    is_staff = serializers.BooleanField(required=False)
    email = serializers.CharField(max_length=254, required=False, allow_blank=True)
    full_name = serializers.CharField(max_length=150, required=False, allow_blank=True)

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {f: ["This field cannot be changed here."] for f in unknown}
            )
        if not attrs:
            raise serializers.ValidationError(
                "Nothing to change: send is_active, is_staff, email or full_name."
            )
        return attrs


class UserViewSet(viewsets.ViewSet):
    renderer_classes = [JSONRenderer]
    lookup_field = "username"
    lookup_value_regex = r"[^/]+"

    def _one(self, username: str) -> dict:
        user = selectors.user_get(actor=self.request.user, username=username)
        return dict(UserOutputSerializer(user).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("search", str, description="Part of a user name, full name or email.")
        ],
        responses=UserOutputSerializer(many=True),
    )
    def list(self, request):
        """Every account, by user name."""
        qs = selectors.user_list(actor=request.user, search=request.query_params.get("search", ""))
        return paginated(self, qs, UserOutputSerializer, ordering="username")

    @extend_schema(
        request=UserCreateInputSerializer, responses={201: UserWithPasswordOutputSerializer}
    )
    def create(self, request):
        """Create an account with a given or a generated password."""
        selectors.user_list(actor=request.user)  # non-staff: 404 before any validation
        payload = UserCreateInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        user, generated = services.user_create(actor=request.user, **payload.validated_data)
        body = {**self._one(user.username), "password": generated}
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(responses=UserOutputSerializer)
    def retrieve(self, request, username=None):
        return Response(self._one(username))

    @extend_schema(request=UserUpdateInputSerializer, responses=UserOutputSerializer)
    def partial_update(self, request, username=None):
        """Deactivate or reactivate, make or unmake staff, change email or full name. Your
        own account cannot be deactivated or lose its staff flag (409)."""
        selectors.user_get(actor=request.user, username=username)
        payload = UserUpdateInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.user_update(actor=request.user, username=username, **payload.validated_data)
        return Response(self._one(username))

    @extend_schema(request=None, responses=UserWithPasswordOutputSerializer)
    def reset_password(self, request, username=None):
        """Give the account a new generated password, returned in this answer only."""
        user, password = services.user_password_reset(actor=request.user, username=username)
        return Response({**self._one(user.username), "password": password})

    @extend_schema(responses=UserAuditOutputSerializer(many=True))
    def audit(self, request, username=None):
        """The account's history, newest first: who created, deactivated, reactivated, made
        or unmade staff, reset the password of, or changed it (which fields)."""
        user = selectors.user_get(actor=request.user, username=username)
        qs = selectors.user_audit_list(actor=request.user, user=user)
        return paginated(self, qs, UserAuditOutputSerializer, ordering=("-created_at", "-id"))
