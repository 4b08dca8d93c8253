"""API views: parse, call a selector or service, serialize. No role logic here."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import api_view
from rest_framework.response import Response

from studio.api import paginated

from .. import selectors, services
from ..models import Membership
from . import serializers as s


class WorkspaceViewSet(viewsets.ViewSet):
    lookup_field = "name"
    lookup_value_regex = r"[^/]+"

    def _roles(self, workspaces) -> dict:
        ids = [w.pk for w in workspaces]
        return dict(
            Membership.objects.filter(user=self.request.user, workspace_id__in=ids).values_list(
                "workspace_id", "role"
            )
        )

    @extend_schema(responses=s.WorkspaceOutputSerializer(many=True))
    def list(self, request):
        qs = selectors.workspace_list(
            actor=request.user, search=request.query_params.get("search", "")
        )
        return paginated(
            self,
            qs,
            s.WorkspaceOutputSerializer,
            ordering="name",
            context=lambda page: {"roles": self._roles(page)},
        )

    @extend_schema(
        request=s.WorkspaceCreateInputSerializer, responses={201: s.WorkspaceOutputSerializer}
    )
    def create(self, request):
        payload = s.WorkspaceCreateInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        workspace = services.workspace_create(actor=request.user, **payload.validated_data)
        out = s.WorkspaceOutputSerializer(workspace, context={"roles": self._roles([workspace])})
        return Response(out.data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=s.WorkspaceOutputSerializer)
    def retrieve(self, request, name=None):
        workspace = selectors.workspace_get(actor=request.user, name=name)
        return Response(
            s.WorkspaceOutputSerializer(workspace, context={"roles": self._roles([workspace])}).data
        )

    @extend_schema(request=s.WorkspaceUpdateInputSerializer, responses=s.WorkspaceOutputSerializer)
    def partial_update(self, request, name=None):
        workspace = selectors.workspace_get(actor=request.user, name=name)
        payload = s.WorkspaceUpdateInputSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        workspace = services.workspace_update(
            actor=request.user, workspace=workspace, **payload.validated_data
        )
        return Response(
            s.WorkspaceOutputSerializer(workspace, context={"roles": self._roles([workspace])}).data
        )

    @extend_schema(responses={204: None})
    def destroy(self, request, name=None):
        workspace = selectors.workspace_get(actor=request.user, name=name)
        services.workspace_delete(actor=request.user, workspace=workspace)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberViewSet(viewsets.ViewSet):
    lookup_field = "username"
    lookup_value_regex = r"[^/]+"

    def _workspace(self, name):
        return selectors.workspace_get(actor=self.request.user, name=name)

    @extend_schema(responses=s.MemberOutputSerializer(many=True))
    def list(self, request, workspace_name=None):
        qs = selectors.member_list(actor=request.user, workspace=self._workspace(workspace_name))
        return paginated(self, qs, s.MemberOutputSerializer, ordering="username")

    @extend_schema(request=s.MemberAddInputSerializer, responses={201: s.MemberOutputSerializer})
    def create(self, request, workspace_name=None):
        workspace = self._workspace(workspace_name)
        payload = s.MemberAddInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        membership = services.member_add(
            actor=request.user,
            workspace=workspace,
            username=payload.validated_data["user"],
            role=payload.validated_data["role"],
        )
        return Response(s.MemberOutputSerializer(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=s.MemberOutputSerializer)
    def retrieve(self, request, workspace_name=None, username=None):
        membership = selectors.member_get(
            actor=request.user, workspace=self._workspace(workspace_name), username=username
        )
        return Response(s.MemberOutputSerializer(membership).data)

    @extend_schema(request=s.MemberUpdateInputSerializer, responses=s.MemberOutputSerializer)
    def partial_update(self, request, workspace_name=None, username=None):
        workspace = self._workspace(workspace_name)
        payload = s.MemberUpdateInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        membership = services.member_update(
            actor=request.user,
            workspace=workspace,
            username=username,
            role=payload.validated_data["role"],
        )
        return Response(s.MemberOutputSerializer(membership).data)

    @extend_schema(responses={204: None})
    def destroy(self, request, workspace_name=None, username=None):
        services.member_remove(
            actor=request.user, workspace=self._workspace(workspace_name), username=username
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class RoleAuditViewSet(viewsets.ViewSet):
    @extend_schema(responses=s.RoleAuditOutputSerializer(many=True))
    def list(self, request, workspace_name=None):
        workspace = selectors.workspace_get(actor=request.user, name=workspace_name)
        qs = selectors.role_audit_list(actor=request.user, workspace=workspace)
        return paginated(self, qs, s.RoleAuditOutputSerializer, ordering=("-created_at", "-id"))


class TokenViewSet(viewsets.ViewSet):
    @extend_schema(responses=s.TokenOutputSerializer(many=True))
    def list(self, request):
        return paginated(self, selectors.token_list(actor=request.user), s.TokenOutputSerializer)

    @extend_schema(
        request=s.TokenCreateInputSerializer, responses={201: s.TokenCreatedOutputSerializer}
    )
    def create(self, request):
        payload = s.TokenCreateInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        token, raw = services.token_create(actor=request.user, **payload.validated_data)
        token.token = raw
        return Response(s.TokenCreatedOutputSerializer(token).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        token = selectors.token_get(actor=request.user, token_id=pk)
        services.token_revoke(actor=request.user, token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(responses=s.MeOutputSerializer)
@api_view(["GET"])
def me(request):
    """Who the presented credentials stand for (the CLI's `studio login` checks with this)."""
    return Response(s.MeOutputSerializer(request.user).data)
