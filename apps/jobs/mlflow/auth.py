"""Who calls the MLflow API, and what the credential lets them touch.

Credentials, as the stock client sends them:
- `Authorization: Bearer <token>` (MLFLOW_TRACKING_TOKEN);
- `Authorization: Basic base64(user:token)` (MLFLOW_TRACKING_USERNAME / _PASSWORD), where the
  password is a personal token and the user name must be its owner's.

The user's role in the workspace decides, through `permissions.require` (reads need
job.view, writes job.run): a non-member gets 404 for everything in the workspace, a role
without the action 403.

A run token (an ApiToken with `scope_job_id`, given to a job's container) acts as the job's
creator but only on that job: its params, metrics, tags, inputs, outputs and status, its
experiment (read), the logged models it creates and their files, and its own artifacts.
`Caller.check_*` enforce that scope; anything else is 403.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass, field

from django.http import HttpRequest
from rest_framework import status

from apps.workspaces import permissions
from apps.workspaces.models import Workspace
from apps.workspaces.permissions import Action
from apps.workspaces.services import token_lookup
from studio.errors import DomainError, NotFound, PermissionDenied

from ..models import Job, LoggedModel


class Unauthenticated(DomainError):
    status_code = status.HTTP_401_UNAUTHORIZED
    code = "unauthenticated"


SCOPE_DENIED = "A run token may only use the MLflow calls of its own run."


@dataclass
class Caller:
    """The authenticated user in the URL's workspace, and the job a run token is bound to."""

    user: object
    workspace: Workspace
    scope_job_id: uuid.UUID | None = None
    _scope_experiment_id: int | None = field(default=None, repr=False)

    @property
    def is_run_token(self) -> bool:
        return self.scope_job_id is not None

    def deny_run_token(self) -> None:
        if self.is_run_token:
            raise PermissionDenied(SCOPE_DENIED)

    def check_run(self, run_id) -> None:
        """The run (a UUID or its hex) is the one a run token is bound to."""
        if self.is_run_token and str(run_id).replace("-", "").lower() != self.scope_job_id.hex:
            raise PermissionDenied(SCOPE_DENIED)

    def scope_experiment_id(self) -> int | None:
        """The experiment of a run token's job (one query, then remembered)."""
        if self.is_run_token and self._scope_experiment_id is None:
            self._scope_experiment_id = (
                Job.objects.filter(pk=self.scope_job_id, workspace=self.workspace)
                .values_list("experiment_id", flat=True)
                .first()
            )
            if self._scope_experiment_id is None:
                raise PermissionDenied(SCOPE_DENIED)
        return self._scope_experiment_id

    def check_experiment(self, experiment_id: int) -> None:
        if self.is_run_token and int(experiment_id) != self.scope_experiment_id():
            raise PermissionDenied(SCOPE_DENIED)

    def check_model(self, model: LoggedModel) -> None:
        if self.is_run_token and model.source_job_id != self.scope_job_id:
            raise PermissionDenied(SCOPE_DENIED)


def _credential(request: HttpRequest) -> tuple[str, str | None] | None:
    """(token, user name given with it or None) from the Authorization header."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.strip().partition(" ")
    scheme, value = scheme.lower(), value.strip()
    if scheme in ("bearer", "token") and value:
        return value, None
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthenticated("Malformed Basic credentials.") from None
        username, sep, password = decoded.partition(":")
        if not sep:
            raise Unauthenticated("Malformed Basic credentials.")
        return password, username
    return None


def authenticate(request: HttpRequest, workspace_name: str, action: Action) -> Caller:
    """The caller, after checking the token (one query) and the role in the workspace;
    Unauthenticated (401), NotFound (404, non-member) or PermissionDenied (403)."""
    credential = _credential(request)
    if credential is None:
        raise Unauthenticated(
            "Authentication required: set MLFLOW_TRACKING_TOKEN to a personal token of the "
            "studio (or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD=<token>)."
        )
    raw, username = credential
    token = token_lookup(raw=raw)
    if token is None or (username is not None and username != token.user.get_username()):
        raise Unauthenticated("Invalid, expired or revoked token.")
    workspace = Workspace.objects.filter(name=workspace_name).first()
    if workspace is None:
        raise NotFound(f"Workspace '{workspace_name}' not found.")
    permissions.require(token.user, action, workspace)
    return Caller(user=token.user, workspace=workspace, scope_job_id=token.scope_job_id)
