"""Domain errors, and the two adapters that turn them into responses (API JSON and HTML).

Services raise DomainError subclasses; nothing else decides status codes. Every error body in
the API is `{"code", "message", "fields"}`, where `fields` maps a field path
(`tags.team`, `members[0].role`) to its messages.
"""

from __future__ import annotations

from typing import Any

from django.core import exceptions as django_exceptions
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid"

    def __init__(
        self, message: str, *, fields: dict[str, list[str]] | None = None, code: str | None = None
    ):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if code:
            self.code = code

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "fields": self.fields}


class ValidationError(DomainError):
    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid"

    @classmethod
    def for_field(cls, field: str, message: str) -> ValidationError:
        return cls(f"{field}: {message}", fields={field: [message]})


class NotFound(DomainError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"


class PermissionDenied(DomainError):
    status_code = status.HTTP_403_FORBIDDEN
    code = "permission_denied"


class Conflict(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "conflict"


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as a flat map of field paths to messages."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            path = key if not prefix else f"{prefix}.{key}"
            if key == "non_field_errors":
                path = prefix or "non_field_errors"
            for k, v in _flatten(value, path).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            out[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for i, item in enumerate(detail):
                for k, v in _flatten(item, f"{prefix}[{i}]").items():
                    out.setdefault(k, []).extend(v)
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


def _message_from_fields(fields: dict[str, list[str]]) -> str:
    return "; ".join(f"{path}: {' '.join(msgs)}" for path, msgs in fields.items())


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's exception handler for the whole API: one JSON shape for every error."""
    # Imported here: rest_framework.views reads the API settings, which import this module.
    from rest_framework.views import exception_handler as drf_default_handler

    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status_code)
    if isinstance(exc, django_exceptions.ValidationError):
        fields = _flatten(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
        return Response(
            {"code": "invalid", "message": _message_from_fields(fields), "fields": fields},
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, (Http404, django_exceptions.ObjectDoesNotExist)):
        exc = drf_exceptions.NotFound()
    if isinstance(exc, django_exceptions.PermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    response = drf_default_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, drf_exceptions.ValidationError):
        fields = _flatten(exc.detail)
        body = {"code": "invalid", "message": _message_from_fields(fields), "fields": fields}
    else:
        detail = getattr(exc, "detail", str(exc))
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        body = {"code": code, "message": str(detail), "fields": {}}
    response.data = body
    return response


class DomainErrorMiddleware:
    """The HTML side: a DomainError that escapes a view becomes an error page with its status.

    Forms catch ValidationError themselves and re-render with 422; this is for the rest
    (404 as if absent, 403 for a member whose role does not allow the action, 409).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if request.path.startswith("/api/"):
            return None  # DRF's handler answers there.
        if isinstance(exc, NotFound):
            raise Http404(exc.message)
        if isinstance(exc, DomainError):
            return render(
                request,
                "shared/error.html",
                {"status": exc.status_code, "error": exc},
                status=exc.status_code,
            )
        return None
