"""Is the studio healthy? The database answers, the broker answers, and which workers serve
which queues. `/healthz` is the unauthenticated probe for a load balancer (database only);
`/api/v1/health/` gives signed-in users the whole picture."""

from __future__ import annotations

import time

from django.db import connection
from django.http import JsonResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.response import Response


def _check_database() -> dict:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down"; say which
        return {"ok": False, "error": str(exc).splitlines()[0]}
    return {
        "ok": True,
        "vendor": connection.vendor,
        "ms": round((time.perf_counter() - started) * 1000, 1),
    }


def check_broker_and_workers(
    *, url: str | None = None, timeout: float = 1.0
) -> tuple[dict, list[dict]]:
    """Connect to the broker (the configured one, or `url`) and ask the workers which queues
    they serve."""
    from studio.celery import app

    started = time.perf_counter()
    try:
        with app.connection_for_write(url=url) as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
            transport = conn.transport_cls
    except Exception as exc:
        return {"ok": False, "error": str(exc).splitlines()[0]}, []
    broker = {
        "ok": True,
        "transport": str(transport),
        "ms": round((time.perf_counter() - started) * 1000, 1),
    }
    try:
        replies = app.control.inspect(timeout=timeout).active_queues() or {}
    except Exception as exc:
        broker["workers_error"] = str(exc).splitlines()[0]
        replies = {}
    workers = [
        {"name": name, "queues": sorted(q["name"] for q in queues)}
        for name, queues in sorted(replies.items())
    ]
    return broker, workers


def healthz(request):
    database = _check_database()
    return JsonResponse(
        {"status": "ok" if database["ok"] else "down"}, status=200 if database["ok"] else 503
    )


@extend_schema(
    responses=inline_serializer(
        "Health",
        {
            "status": serializers.CharField(),
            "database": serializers.DictField(),
            "broker": serializers.DictField(),
            "workers": serializers.ListField(child=serializers.DictField()),
        },
    )
)
@api_view(["GET"])
def health(request):
    """The database, the broker and the workers that answer, with the queues they serve."""
    database = _check_database()
    broker, workers = check_broker_and_workers()
    ok = database["ok"] and broker["ok"]
    body = {
        "status": "ok" if ok else "degraded",
        "database": database,
        "broker": broker,
        "workers": workers,
    }
    return Response(body, status=200 if ok else 503)
