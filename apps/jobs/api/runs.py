"""Jobs API: reading results (the CLI's `studio job list|show|stream|download`, and others).

    GET    workspaces/<ws>/jobs/?experiment=&status=&search=&type=&archived=&order_by=   cursor
    GET    workspaces/<ws>/jobs/<name>/
    PATCH  workspaces/<ws>/jobs/<name>/              display_name, description, tags
    POST   workspaces/<ws>/jobs/<name>/archive/ | restore/
    GET    workspaces/<ws>/jobs/<name>/logs/?after=<seq>&limit=
    GET    workspaces/<ws>/jobs/<name>/logs/download   (user_logs/std_log.txt, streamed)
    GET    workspaces/<ws>/jobs/<name>/metrics/          keys with their latest values
    GET    workspaces/<ws>/jobs/<name>/metrics/<key>/?max_points=   down-sampled history
    GET    workspaces/<ws>/jobs/<name>/files/?path=      the job's artifacts (outputs/, ...)
    GET    workspaces/<ws>/jobs/<name>/files/content?path=   one file, streamed
    GET    workspaces/<ws>/experiments/
    GET    workspaces/<ws>/experiments/<name>/runs/?metrics=&params=&filter=&sort=&cursor=

Submitting (POST workspaces/<ws>/jobs/) and cancelling are in submit.py and lifecycle.py.
"""

from __future__ import annotations

from django.http import StreamingHttpResponse
from django.urls import path
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.workspaces import selectors as ws_selectors
from studio.downloads import file_download
from studio.errors import ValidationError

from .. import selectors
from ..models import Job
from ..services import annotations

# Serializers -------------------------------------------------------------------------------


def duration_s(job: Job) -> float | None:
    if job.start_time_ms is None:
        return None
    if job.end_time_ms is None:
        return None
    return round((job.end_time_ms - job.start_time_ms) / 1000, 3)


class JobOutputSerializer(serializers.Serializer):
    """A job as `az ml job show` prints it (the parts the studio has)."""

    name = serializers.CharField()
    id = serializers.SerializerMethodField()
    display_name = serializers.CharField()
    type = serializers.CharField()
    status = serializers.CharField()
    experiment_name = serializers.CharField(source="experiment.name")
    description = serializers.CharField()
    tags = serializers.DictField()
    compute = serializers.SerializerMethodField()
    parent = serializers.SerializerMethodField()
    created_by = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    start_time_ms = serializers.IntegerField(allow_null=True)
    end_time_ms = serializers.IntegerField(allow_null=True)
    duration_s = serializers.SerializerMethodField()
    exit_code = serializers.IntegerField(allow_null=True)
    error = serializers.CharField()
    archived = serializers.BooleanField()
    terminal = serializers.BooleanField(source="is_terminal")
    run_id = serializers.CharField()

    def get_id(self, job) -> str:
        return str(job.pk)

    def get_compute(self, job) -> str | None:
        return job.compute.name if job.compute_id else None

    def get_parent(self, job) -> str | None:
        return job.parent.name if job.parent_id else None

    def get_created_by(self, job) -> str:
        return job.created_by.username if job.created_by_id else job.mlflow_user

    def get_duration_s(self, job) -> float | None:
        return duration_s(job)


class JobListPageSerializer(serializers.Serializer):
    """A page of the jobs list: `next` (a URL with the cursor, null on the last page)."""

    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = JobOutputSerializer(many=True)


class JobDetailOutputSerializer(JobOutputSerializer):
    """One job in full: what ran (command, environment, inputs, outputs), its timeline, its
    params and latest metrics."""

    command = serializers.SerializerMethodField()
    environment = serializers.SerializerMethodField()
    inputs = serializers.SerializerMethodField()
    outputs = serializers.SerializerMethodField()
    code = serializers.SerializerMethodField()
    status_timeline = serializers.SerializerMethodField()
    params = serializers.SerializerMethodField()
    metrics = serializers.SerializerMethodField()

    def get_command(self, job) -> str:
        return (job.spec or {}).get("command", "")

    def get_environment(self, job):
        return (job.spec or {}).get("environment")

    def get_inputs(self, job) -> list:
        return selectors.job_inputs(job=job)

    def get_outputs(self, job) -> list:
        return selectors.job_outputs(job=job)

    def get_code(self, job) -> str | None:
        return str(job.code_id) if job.code_id else None

    def get_status_timeline(self, job) -> list:
        return [
            {
                "status": c.status,
                "at": c.at.isoformat(),
                "reason": c.reason,
                # time in this status: until the next change, or until now while in it
                "seconds": None if c.spent is None else round(c.spent, 3),
            }
            for c in selectors.job_timeline(job=job)
        ]

    def get_params(self, job) -> dict:
        return {p.key: p.value for p in selectors.job_params(job=job)}

    def get_metrics(self, job) -> dict:
        return {m.key: m.value for m in selectors.job_metric_keys(job=job)}


class JobUpdateInputSerializer(serializers.Serializer):
    display_name = serializers.CharField(required=False, allow_blank=True, max_length=500)
    description = serializers.CharField(required=False, allow_blank=True)
    tags = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)


class ExperimentOutputSerializer(serializers.Serializer):
    id = serializers.CharField(source="pk")
    name = serializers.CharField()
    run_count = serializers.IntegerField()
    last_run = serializers.DateTimeField(allow_null=True)
    tags = serializers.DictField()
    created_at = serializers.DateTimeField()


# Views -------------------------------------------------------------------------------------


def _int(request, name: str, default: int | None) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValidationError.for_field(name, f"Give a whole number, not '{raw}'.") from None


def _csv(request, name: str) -> list[str]:
    raw = request.query_params.get(name, "")
    return [part.strip() for part in raw.split(",") if part.strip()]


class _JobView(APIView):
    def workspace(self, name: str):
        return ws_selectors.workspace_get(actor=self.request.user, name=name)

    def job(self, workspace_name: str, job_name: str) -> Job:
        workspace = self.workspace(workspace_name)
        return selectors.job_get(actor=self.request.user, workspace=workspace, name=job_name)


class JobListView(_JobView):
    """The workspace's jobs, newest first or in `order_by`, by cursor (the job list page's own
    selector and cursor). (submit.py adds POST at the same path.)"""

    @extend_schema(
        parameters=[
            OpenApiParameter("experiment", str),
            OpenApiParameter("status", str, description="One status or a comma list"),
            OpenApiParameter("search", str),
            OpenApiParameter(
                "type",
                str,
                enum=Job.Type.values,
                description="Only jobs of this type (`pipeline`: the Pipelines page's list); "
                "another value is a 400 naming `type`",
            ),
            OpenApiParameter("archived", bool),
            OpenApiParameter("steps", bool, description="Include pipeline steps"),
            OpenApiParameter(
                "order_by",
                str,
                enum=[k for s in selectors.JOB_SORTS for k in (s, f"-{s}")],
                description="Sort key, a leading '-' for descending (default `-created`); "
                "ties by id. Another value is a 400 naming `order_by`",
            ),
            OpenApiParameter("cursor", str, description="`next` carries it"),
            OpenApiParameter("page_size", int, description="1 to 500, default 50"),
        ],
        responses=JobListPageSerializer,
    )
    def get(self, request, workspace_name: str):
        workspace = self.workspace(workspace_name)
        rows, cursor = selectors.job_list_page(
            actor=request.user,
            workspace=workspace,
            experiment=request.query_params.get("experiment", ""),
            status=request.query_params.get("status", ""),
            search=request.query_params.get("search", ""),
            job_type=request.query_params.get("type", ""),
            archived=request.query_params.get("archived", "") == "true",
            include_steps=request.query_params.get("steps", "") == "true",
            order_by=request.query_params.get("order_by", ""),
            cursor=request.query_params.get("cursor", ""),
            size=_page_size(request),
        )
        next_url = None
        if cursor:
            query = request.query_params.copy()
            query["cursor"] = cursor
            next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
        results = JobOutputSerializer(rows, many=True, context={"request": request}).data
        return Response({"next": next_url, "previous": None, "results": results})


def _page_size(request) -> int:
    size = _int(request, "page_size", 50)
    if not 1 <= size <= 500:
        raise ValidationError.for_field("page_size", f"Give 1 to 500, not {size}.")
    return size


class JobDetailView(_JobView):
    @extend_schema(responses=JobDetailOutputSerializer)
    def get(self, request, workspace_name: str, job_name: str):
        return Response(JobDetailOutputSerializer(self.job(workspace_name, job_name)).data)

    @extend_schema(request=JobUpdateInputSerializer, responses=JobDetailOutputSerializer)
    def patch(self, request, workspace_name: str, job_name: str):
        job = self.job(workspace_name, job_name)
        payload = JobUpdateInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        annotations.job_update(actor=request.user, job=job, **payload.validated_data)
        return Response(JobDetailOutputSerializer(self.job(workspace_name, job_name)).data)


class _ArchiveView(_JobView):
    archived = True

    @extend_schema(request=None, responses=JobOutputSerializer)
    def post(self, request, workspace_name: str, job_name: str):
        job = self.job(workspace_name, job_name)
        job = annotations.job_set_archived(actor=request.user, job=job, archived=self.archived)
        return Response(JobOutputSerializer(job).data)


class JobArchiveView(_ArchiveView):
    archived = True


class JobRestoreView(_ArchiveView):
    archived = False


def log_line_data(line) -> dict:
    return {"seq": line.seq, "stream": line.stream, "text": line.text, "ts": line.ts.isoformat()}


class JobLogView(_JobView):
    """Log lines after `after` (a seq), in order, without gaps: follow `cursor` until
    `done` (the job ended and every line was read)."""

    @extend_schema(
        parameters=[OpenApiParameter("after", int), OpenApiParameter("limit", int)],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request, workspace_name: str, job_name: str):
        job = self.job(workspace_name, job_name)
        after = _int(request, "after", 0)
        limit = _int(request, "limit", selectors.LOG_PAGE)
        if after < 0 or limit < 1:
            raise ValidationError.for_field("after", "after ≥ 0 and limit ≥ 1.")
        lines, cursor, done = selectors.job_log_after(job=job, after=after, limit=limit)
        return Response(
            {
                "lines": [log_line_data(line) for line in lines],
                "cursor": cursor,
                "status": job.status,
                "terminal": job.is_terminal,
                "done": done,
            }
        )


def std_log_chunks(job: Job):
    """std_log.txt as Azure ML writes it: the lines, one a line, streamed in blocks."""
    buffer: list[str] = []
    for _seq, text in selectors.job_log_iter(job=job):
        buffer.append(text)
        if len(buffer) >= 2000:
            yield ("\n".join(buffer) + "\n").encode()
            buffer = []
    if buffer:
        yield ("\n".join(buffer) + "\n").encode()


class JobLogDownloadView(_JobView):
    @extend_schema(responses={(200, "text/plain"): OpenApiTypes.BINARY})
    def get(self, request, workspace_name: str, job_name: str):
        job = self.job(workspace_name, job_name)
        response = StreamingHttpResponse(std_log_chunks(job), content_type="text/plain")
        response["Content-Disposition"] = content_disposition_header(True, "std_log.txt")
        return response


class JobMetricListView(_JobView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, workspace_name: str, job_name: str):
        job = self.job(workspace_name, job_name)
        return Response(
            {
                "metrics": [
                    {"key": m.key, "value": m.value, "step": m.step, "timestamp_ms": m.timestamp_ms}
                    for m in selectors.job_metric_keys(job=job)
                ],
                "terminal": job.is_terminal,
            }
        )


class JobMetricDetailView(_JobView):
    """A metric's history, down-sampled on the server to at most `max_points` points (first
    and last kept, each bucket's min and max): `points` are [step, value, timestamp_ms]."""

    @extend_schema(parameters=[OpenApiParameter("max_points", int)], responses=OpenApiTypes.OBJECT)
    def get(self, request, workspace_name: str, job_name: str, key: str):
        from .. import downsample

        job = self.job(workspace_name, job_name)
        max_points = _int(request, "max_points", downsample.DEFAULT_MAX_POINTS)
        if not 4 <= max_points <= downsample.MAX_POINTS_LIMIT:
            raise ValidationError.for_field(
                "max_points", f"Give 4 to {downsample.MAX_POINTS_LIMIT}."
            )
        points, total = selectors.job_metric_series(job=job, key=key, max_points=max_points)
        return Response(
            {
                "key": key,
                "total": total,
                "sampled": total > len(points),
                "points": [p.as_list() for p in points],
                "terminal": job.is_terminal,
            }
        )


class JobFileListView(_JobView):
    """The job's files (./outputs, user_logs, logged artifacts) under `path`; `recursive`
    lists every file below it."""

    @extend_schema(
        parameters=[OpenApiParameter("path", str), OpenApiParameter("recursive", bool)],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request, workspace_name: str, job_name: str):
        job = self.job(workspace_name, job_name)
        folder = request.query_params.get("path", "")
        if request.query_params.get("recursive") == "true":
            files = selectors.job_artifact_walk(job=job, path=folder)
            return Response({"path": folder, "files": [{"path": p, "size": s} for p, s in files]})
        entries = selectors.job_artifact_list(job=job, path=folder)
        return Response(
            {
                "path": folder,
                "entries": [{"name": e.path, "is_dir": e.is_dir, "size": e.size} for e in entries],
            }
        )


class JobFileContentView(_JobView):
    @extend_schema(parameters=[OpenApiParameter("path", str, required=True)])
    def get(self, request, workspace_name: str, job_name: str):
        job = self.job(workspace_name, job_name)
        rel = request.query_params.get("path", "")
        handle = selectors.job_artifact_open(job=job, path=rel)
        return file_download(request, handle, name=rel.rsplit("/", 1)[-1])


class ExperimentListView(_JobView):
    @extend_schema(responses=ExperimentOutputSerializer(many=True))
    def get(self, request, workspace_name: str):
        workspace = self.workspace(workspace_name)
        rows = selectors.experiment_list(
            actor=request.user, workspace=workspace, search=request.query_params.get("search", "")
        )
        return Response({"results": ExperimentOutputSerializer(rows, many=True).data})


class ExperimentRunsView(_JobView):
    """The experiment's runs table: chosen metrics and params as columns, filtered (MLflow's
    grammar: `metrics.acc > 0.9 and params.lr = '0.1'`), sorted and paged by keyset."""

    @extend_schema(
        parameters=[
            OpenApiParameter("metrics", str, description="Comma list of metric names"),
            OpenApiParameter("params", str, description="Comma list of param names"),
            OpenApiParameter("filter", str),
            OpenApiParameter(
                "sort",
                str,
                description="created, name, status, duration, "
                "metrics.<k>, params.<k>; a leading '-' for descending",
            ),
            OpenApiParameter("cursor", str),
            OpenApiParameter("page_size", int),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request, workspace_name: str, name: str):
        workspace = self.workspace(workspace_name)
        experiment = selectors.experiment_get_named(
            actor=request.user, workspace=workspace, name=name
        )
        metrics, params = _csv(request, "metrics"), _csv(request, "params")
        rows, cursor = selectors.run_table(
            actor=request.user,
            workspace=workspace,
            experiment=experiment,
            metrics=metrics,
            params=params,
            filter_string=request.query_params.get("filter", ""),
            sort=request.query_params.get("sort", "-created") or "-created",
            cursor=request.query_params.get("cursor", ""),
            page_size=_int(request, "page_size", selectors.TABLE_PAGE),
            status=request.query_params.get("status", ""),
        )
        return Response(
            {
                "experiment": experiment.name,
                "metrics": metrics,
                "params": params,
                "next_cursor": cursor,
                "results": [
                    {
                        **JobOutputSerializer(r).data,
                        "metrics": dict(zip(metrics, r.metric_values, strict=True)),
                        "params": dict(zip(params, r.param_values, strict=True)),
                    }
                    for r in rows
                ],
            }
        )


JOB = "workspaces/<str:workspace_name>/jobs/<str:job_name>/"

urlpatterns = [
    path("workspaces/<str:workspace_name>/jobs/", JobListView.as_view(), name="job-list"),
    path(JOB, JobDetailView.as_view(), name="job-detail"),
    path(f"{JOB}archive/", JobArchiveView.as_view(), name="job-archive"),
    path(f"{JOB}restore/", JobRestoreView.as_view(), name="job-restore"),
    path(f"{JOB}logs/", JobLogView.as_view(), name="job-logs"),
    path(f"{JOB}logs/download", JobLogDownloadView.as_view(), name="job-logs-download"),
    path(f"{JOB}metrics/", JobMetricListView.as_view(), name="job-metric-list"),
    path(f"{JOB}metrics/<path:key>/", JobMetricDetailView.as_view(), name="job-metric-detail"),
    path(f"{JOB}files/", JobFileListView.as_view(), name="job-file-list"),
    path(f"{JOB}files/content", JobFileContentView.as_view(), name="job-file-content"),
    path(
        "workspaces/<str:workspace_name>/experiments/",
        ExperimentListView.as_view(),
        name="experiment-list",
    ),
    path(
        "workspaces/<str:workspace_name>/experiments/<str:name>/runs/",
        ExperimentRunsView.as_view(),
        name="experiment-runs",
    ),
]
