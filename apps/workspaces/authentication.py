"""API authentication by personal token: `Authorization: Bearer stu_...` (what the MLflow
client sends for MLFLOW_TRACKING_TOKEN) or `Authorization: Token stu_...`."""

from __future__ import annotations

from rest_framework import authentication, exceptions

from . import services


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keywords = ("bearer", "token")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        user = services.token_authenticate(raw=header[1])
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        return user, header[1]

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="studio"'


try:
    from drf_spectacular.extensions import OpenApiAuthenticationExtension

    class ApiTokenScheme(OpenApiAuthenticationExtension):
        """Describes personal tokens in the OpenAPI schema (a bearer token)."""

        target_class = "apps.workspaces.authentication.ApiTokenAuthentication"
        name = "tokenAuth"

        def get_security_definition(self, auto_schema):
            return {
                "type": "http",
                "scheme": "bearer",
                "description": "A personal API token (stu_...).",
            }

except ImportError:  # pragma: no cover - drf-spectacular is a pinned dependency
    pass
