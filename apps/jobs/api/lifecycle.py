"""Jobs API: cancel. POST /api/v1/workspaces/<ws>/jobs/<name>/cancel/ (`az ml job cancel`)."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.workspaces import selectors as workspace_selectors

from .. import selectors
from ..services import lifecycle

STATUS_OUT = inline_serializer(
    "JobCancelOutput",
    {
        "name": serializers.CharField(),
        "status": serializers.CharField(),
        "queue_position": serializers.IntegerField(allow_null=True),
    },
)


def job_status_data(job) -> dict:
    return {
        "name": job.name,
        "status": job.status,
        "queue_position": lifecycle.queue_position(job),
    }


class JobCancelView(APIView):
    @extend_schema(request=None, responses={200: STATUS_OUT})
    def post(self, request, workspace_name: str, name: str):
        """Cancel the job: Canceled at once when it has not started, else CancelRequested
        and its container stopped (409 when it has already ended)."""
        workspace = workspace_selectors.workspace_get(actor=request.user, name=workspace_name)
        job = selectors.job_get(actor=request.user, workspace=workspace, name=name)
        job = lifecycle.job_cancel(actor=request.user, job=job)
        return Response(job_status_data(job))


urlpatterns = [
    path(
        "workspaces/<str:workspace_name>/jobs/<str:name>/cancel/",
        JobCancelView.as_view(),
        name="job-cancel",
    ),
]
