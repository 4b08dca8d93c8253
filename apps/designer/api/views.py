"""Designer drafts API, under /api/v1/workspaces/<ws>/designer/:

    GET    drafts/                 the drafts (name, revision, nodes, last run)
    POST   drafts/                 {name, description?} → 201, an empty draft
    POST   drafts/-/import/        {name, yaml} → 201, a draft from pipeline YAML (refused whole
                                   with the reason and line when any part is wrong)
    GET    drafts/<id>/            one draft with its graph
    PATCH  drafts/<id>/            {name?, description?}
    DELETE drafts/<id>/
    GET    drafts/<id>/export/     the draft as pipeline YAML (text)
    POST   drafts/<id>/submit/     {compute?, experiment_name?} → 201, the pipeline job

Errors are `{code, message, fields}` (studio/errors.py).
"""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.workspaces import selectors as ws_selectors
from apps.workspaces.permissions import Action

from .. import drafts, pipeline_yaml, selectors


class DraftOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    revision = serializers.IntegerField(read_only=True)
    head_revision = serializers.IntegerField(read_only=True)
    node_count = serializers.SerializerMethodField()
    last_job = serializers.CharField(source="last_job.name", default=None, read_only=True)
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True)
    updated_by = serializers.CharField(source="updated_by.username", default=None, read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def get_node_count(self, draft) -> int:
        return len((draft.graph or {}).get("nodes") or {})


class DraftDetailSerializer(DraftOutputSerializer):
    graph = serializers.DictField(read_only=True)


class DraftCreateInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255, allow_blank=True, required=False, default="")
    description = serializers.CharField(allow_blank=True, required=False, default="")


class DraftImportInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255, allow_blank=True, required=False, default="")
    yaml = serializers.CharField(
        allow_blank=True, required=False, default="", trim_whitespace=False
    )


class DraftSubmitInputSerializer(serializers.Serializer):
    compute = serializers.CharField(allow_blank=True, required=False, default="")
    experiment_name = serializers.CharField(allow_blank=True, required=False, default="")


def _workspace(request, name: str):
    return ws_selectors.workspace_get(actor=request.user, name=name, action=Action.PIPELINE_VIEW)


def _draft(request, workspace_name: str, draft_id):
    workspace = _workspace(request, workspace_name)
    return selectors.draft_get(actor=request.user, workspace=workspace, draft_id=draft_id)


class DraftListView(APIView):
    @extend_schema(responses=DraftOutputSerializer(many=True))
    def get(self, request, workspace_name: str):
        workspace = _workspace(request, workspace_name)
        rows = selectors.draft_list(
            actor=request.user, workspace=workspace, q=request.GET.get("q", "")
        )
        return Response(DraftOutputSerializer(rows[:500], many=True).data)

    @extend_schema(request=DraftCreateInputSerializer, responses={201: DraftDetailSerializer})
    def post(self, request, workspace_name: str):
        workspace = _workspace(request, workspace_name)
        data = DraftCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        draft = drafts.draft_create(actor=request.user, workspace=workspace, **data.validated_data)
        return Response(DraftDetailSerializer(draft).data, status=status.HTTP_201_CREATED)


class DraftImportView(APIView):
    @extend_schema(request=DraftImportInputSerializer, responses={201: DraftDetailSerializer})
    def post(self, request, workspace_name: str):
        workspace = _workspace(request, workspace_name)
        data = DraftImportInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        draft = pipeline_yaml.draft_import(
            actor=request.user, workspace=workspace, name=data.validated_data["name"],
            text=data.validated_data["yaml"],
        )  # fmt: skip
        return Response(DraftDetailSerializer(draft).data, status=status.HTTP_201_CREATED)


class DraftDetailView(APIView):
    @extend_schema(responses=DraftDetailSerializer)
    def get(self, request, workspace_name: str, draft_id):
        return Response(DraftDetailSerializer(_draft(request, workspace_name, draft_id)).data)

    @extend_schema(request=DraftCreateInputSerializer, responses=DraftDetailSerializer)
    def patch(self, request, workspace_name: str, draft_id):
        draft = _draft(request, workspace_name, draft_id)
        data = DraftCreateInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        given = data.validated_data
        draft = drafts.draft_rename(
            actor=request.user, draft=draft, name=given.get("name") or draft.name,
            description=request.data.get("description"),
        )  # fmt: skip
        return Response(DraftDetailSerializer(draft).data)

    def delete(self, request, workspace_name: str, draft_id):
        drafts.draft_delete(actor=request.user, draft=_draft(request, workspace_name, draft_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class DraftExportView(APIView):
    @extend_schema(responses={200: OpenApiTypes.STR})
    def get(self, request, workspace_name: str, draft_id):
        draft = _draft(request, workspace_name, draft_id)
        text = pipeline_yaml.draft_export(actor=request.user, draft=draft)
        return HttpResponse(text, content_type="application/yaml; charset=utf-8")


class DraftSubmitView(APIView):
    @extend_schema(request=DraftSubmitInputSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request, workspace_name: str, draft_id):
        draft = _draft(request, workspace_name, draft_id)
        data = DraftSubmitInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = pipeline_yaml.draft_submit(
            actor=request.user, draft=draft, compute=data.validated_data["compute"],
            experiment=data.validated_data["experiment_name"],
        )  # fmt: skip
        body = {"name": job.name, "status": job.status, "type": job.type,
                "studio_url": f"/w/{job.workspace.name}/jobs/{job.name}/pipeline/"}  # fmt: skip
        return Response(body, status=status.HTTP_201_CREATED)
