"""Jobs API: submit a command job.

    POST workspaces/<ws>/jobs/              the commandJob YAML document as JSON → 201, the job
    POST workspaces/<ws>/jobs/?dry_run=true check it (code and local paths may still be on
                                            the client's machine) → 200; nothing is created

Errors are `{code, message, fields}` with field paths such as `inputs.data.path`, which the
CLI maps back to YAML lines. GET on the same path is the job list (apps/jobs/api/runs.py):
when runs.py defines `JobListView`, this view extends it so both methods share one route.
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.workspaces import selectors as ws_selectors
from apps.workspaces.permissions import Action

from ..services import submit as submit_services
from . import runs

_Base = getattr(runs, "JobListView", APIView)


class JobSubmitOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(read_only=True)
    display_name = serializers.CharField(read_only=True)
    type = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True)
    experiment_name = serializers.CharField(source="experiment.name", read_only=True)
    compute = serializers.CharField(source="compute.name", default=None, read_only=True)
    code = serializers.UUIDField(source="code_id", default=None, read_only=True)
    description = serializers.CharField(read_only=True)
    tags = serializers.DictField(read_only=True)
    spec = serializers.DictField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True)
    studio_url = serializers.SerializerMethodField()

    def get_studio_url(self, job) -> str:
        request = self.context.get("request")
        link = f"/w/{job.workspace.name}/jobs/{job.name}/"
        return request.build_absolute_uri(link) if request is not None else link


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes")


class JobListCreateView(_Base):
    """Submit a command job from its YAML document (as JSON)."""

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={201: JobSubmitOutputSerializer, 200: OpenApiTypes.OBJECT},
        parameters=[
            OpenApiParameter(
                "dry_run", bool, description="Only check the document; create nothing."
            )
        ],
    )
    def post(self, request, workspace_name: str):
        workspace = ws_selectors.workspace_get(
            actor=request.user, name=workspace_name, action=Action.JOB_VIEW
        )
        if _truthy(request.query_params.get("dry_run")):
            checked = submit_services.job_check(
                actor=request.user, workspace=workspace, document=request.data
            )
            return Response(checked, status=status.HTTP_200_OK)
        job = submit_services.job_submit(
            actor=request.user, workspace=workspace, document=request.data
        )
        body = JobSubmitOutputSerializer(job, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)


urlpatterns = [
    path("workspaces/<str:workspace_name>/jobs/", JobListCreateView.as_view(), name="job-list"),
]
