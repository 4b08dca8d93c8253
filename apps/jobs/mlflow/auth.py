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
experiment (read), the logged models it creates and their files, its own artifacts, and
the workspace's registered model versions (read, so a scoring job loads `models:/<name>/<n>`).
`Caller.check_*` enforce that scope; anything else is 403.
"""

from __future__ import annotations

import base64
import binascii
import functools
import uuid
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import connection
from django.http import HttpRequest
from django.utils import timezone
from rest_framework import status

from apps.workspaces import permissions
from apps.workspaces.models import ApiToken, Membership, Workspace
from apps.workspaces.permissions import Action
from apps.workspaces.services import LAST_USED_RESOLUTION, token_lookup
from apps.workspaces.services.workspaces import _hash_token
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
    """The caller, after checking the token and the role in the workspace (one query for a
    member; see `_member`); Unauthenticated (401), NotFound (404, non-member) or
    PermissionDenied (403)."""
    credential = _credential(request)
    if credential is None:
        raise Unauthenticated(
            "Authentication required: set MLFLOW_TRACKING_TOKEN to a personal token of the "
            "studio (or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD=<token>)."
        )
    raw, username = credential
    caller = _member(raw, username, workspace_name)
    if caller is None:  # not a valid token of a member: the slow path names the error
        token = token_lookup(raw=raw)
        if token is None or (username is not None and username != token.user.get_username()):
            raise Unauthenticated("Invalid, expired or revoked token.")
        workspace = Workspace.objects.filter(name=workspace_name).first()
        if workspace is None:
            raise NotFound(f"Workspace '{workspace_name}' not found.")
        caller = Caller(user=token.user, workspace=workspace, scope_job_id=token.scope_job_id)
    permissions.require(caller.user, action, caller.workspace)
    return caller


def _member(raw: str, username: str | None, workspace_name: str) -> Caller | None:
    """The hot path of every MLflow call (a log-metric is a request per point): the token,
    its user, the user's membership of the workspace and the workspace in one query, where
    token_lookup, the workspace and the role took three. The role is remembered on the
    workspace (as permissions.role_of does), so `require` here and in the service costs no
    query. None when anything is amiss (unknown, revoked or expired token, inactive user,
    wrong Basic user name, non-member, no workspace): `authenticate` then takes the slow
    path, whose answers are the reference."""
    if not raw.startswith(ApiToken.PREFIX):
        return None
    sql, params, fields = _member_query(connection.alias)
    given = {_WORKSPACE: workspace_name, _TOKEN: _hash_token(raw)}
    with connection.cursor() as cursor:
        cursor.execute(sql, [given.get(p, p) if isinstance(p, str) else p for p in params])
        row = cursor.fetchone()
    if row is None:
        return None
    values = [_converted(field, value) for field, value in zip(fields, row, strict=True)]
    role, token_id, expires_at, last_used_at, scope_job_id = values[:5]
    workspace = _instance(Workspace, values[5 : 5 + len(_concrete(Workspace))])
    user = _instance(get_user_model(), values[5 + len(_concrete(Workspace)) :])
    now = timezone.now()
    if expires_at is not None and expires_at <= now:
        return None
    if username is not None and username != user.get_username():
        return None
    if last_used_at is None or now - last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token_id).update(last_used_at=now)  # as token_lookup does
    workspace.__dict__.setdefault("_role_cache", {})[user.pk] = role  # see permissions.role_of
    return Caller(user=user, workspace=workspace, scope_job_id=scope_job_id)


_WORKSPACE, _TOKEN = "\x00workspace name", "\x00token hash"  # placeholders in the cached SQL


def _concrete(model) -> list:
    return list(model._meta.concrete_fields)


@functools.cache
def _member_query(alias: str) -> tuple[str, tuple, list]:
    """The member query's SQL, made by the ORM once per process (making it costs more than
    running it), its parameters with placeholders, and the field of each column."""
    token = [ApiToken._meta.get_field(n) for n in ("id", "expires_at", "last_used_at")]
    token.append(ApiToken._meta.get_field("scope_job_id"))
    columns = [("role", Membership._meta.get_field("role"))]
    columns += [(f"user__api_tokens__{f.name}", f) for f in token]
    columns += [(f"workspace__{f.name}", f) for f in _concrete(Workspace)]
    columns += [(f"user__{f.name}", f) for f in _concrete(get_user_model())]
    qs = (
        Membership.objects.using(alias)
        .filter(
            workspace__name=_WORKSPACE,
            user__api_tokens__token_hash=_TOKEN,
            user__api_tokens__revoked_at__isnull=True,
            user__is_active=True,
        )
        .order_by()
        .values_list(*(name for name, _ in columns))[:1]
    )
    sql, params = qs.query.get_compiler(alias).as_sql()
    return sql, tuple(params), [field for _, field in columns]


def _converted(field, value):
    """A column's value as the ORM would give it (SQLite keeps UUIDs, datetimes and JSON as
    text; PostgreSQL JSON too)."""
    col = field.get_col(field.model._meta.db_table)
    for convert in connection.ops.get_db_converters(col) + field.get_db_converters(connection):
        value = convert(value, col, connection)
    return value


def _instance(model, values: list):
    return model.from_db(connection.alias, [f.attname for f in _concrete(model)], values)
