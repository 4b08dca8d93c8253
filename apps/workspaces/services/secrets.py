"""The workspace vault (Azure's Key Vault): set and delete secrets, and hand their values to
the system (the job runner, deployments) when a spec asks for them by name.

Values are write-only. They are encrypted with the workspace's own Fernet key (vault.py) and
leave this module decrypted only through `secret_values_for` / `secret_env_for`, which take
no actor: no user, whatever their role, reads a value back. Every change and every read is
written to the audit trail (SecretAccess). Nothing here logs a value. See docs/vault.md.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from cryptography.fernet import InvalidToken
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from studio.errors import Conflict, NotFound, ValidationError

from .. import permissions, vault
from ..models import SECRET_NAME_RE, Secret, SecretAccess, Workspace
from ..permissions import Action

log = logging.getLogger(__name__)

MAX_VALUE_BYTES = 64 * 1024
MAX_DESCRIPTION = 500
SYSTEM_ACTOR = "system"
# The names a job may give the environment variables that carry its secrets.
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_NAME = re.compile(SECRET_NAME_RE)
NAME_RULE = "1 to 127 letters, digits, '-' or '_', starting with a letter."
SECRETS_EXAMPLE = "secrets: {DB_PASSWORD: db-password}"


def _check_name(name: Any, *, field: str = "name") -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not _SECRET_NAME.match(name):
        raise ValidationError.for_field(field, f"A secret name is {NAME_RULE}")
    return name


@sensitive_variables("value")
def _check_value(value: Any) -> str:
    # The messages never quote the value: errors travel to pages, API bodies and logs.
    if not isinstance(value, str) or value == "":
        raise ValidationError.for_field("value", "Give the secret a value (a non-empty string).")
    if len(value.encode()) > MAX_VALUE_BYTES:
        raise ValidationError.for_field("value", "A secret value is at most 64 KiB.")
    if "\x00" in value:
        raise ValidationError.for_field(
            "value", "A secret value cannot contain a NUL character (no environment can carry it)."
        )
    return value


def _audit(workspace: Workspace, name: str, kind: str, actor: str, purpose: str = "") -> None:
    SecretAccess.objects.create(
        workspace=workspace,
        secret_name=name,
        kind=kind,
        actor_username=actor,
        purpose=purpose[:300],
    )


@sensitive_variables("value")
@transaction.atomic
def secret_set(
    *, actor, workspace: Workspace, name: str, value: str, description: str | None = None
) -> Secret:
    """Create a secret, or replace the value of the one with that name. A `description` of
    None keeps the current one. Returns the secret (never its value): it was created when
    `created_at == updated_at`."""
    permissions.require(actor, Action.SECRET_MANAGE, workspace)
    name = _check_name(name)
    value = _check_value(value)
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise ValidationError.for_field("description", "At most 500 characters.")
    ciphertext = vault.workspace_cipher(workspace.vault_key).encrypt(value.encode())
    now = timezone.now()
    secret = Secret.objects.select_for_update().filter(workspace=workspace, name=name).first()
    if secret is None:
        _refuse_case_twin(workspace, name)
        secret = Secret(workspace=workspace, name=name, created_by=actor, created_at=now)
        purpose = "created"
    else:
        purpose = "value replaced"
    secret.ciphertext = ciphertext
    if description is not None or secret.pk is None:
        secret.description = (description or "").strip()
    secret.updated_at, secret.updated_by = now, actor
    try:
        with transaction.atomic():
            secret.save()
    except IntegrityError:
        raise Conflict(
            f"Secret '{name}' was created by someone else at the same moment; try again.",
            fields={"name": ["Created concurrently; try again."]},
        ) from None
    _audit(workspace, name, SecretAccess.Kind.SET, actor.get_username(), purpose)
    log.info("secret %s/%s %s by %s", workspace.name, name, purpose, actor.get_username())
    return secret


def _refuse_case_twin(workspace: Workspace, name: str) -> None:
    """Key Vault names are case-insensitive; two secrets differing only in case would be a
    trap (which one does `DB-Password` mean?), so the second is refused."""
    twin = Secret.objects.filter(workspace=workspace, name__iexact=name).first()
    if twin is not None:
        raise Conflict(
            f"Secret '{twin.name}' already exists; names are case-insensitive.",
            fields={"name": [f"'{twin.name}' exists; use that name to replace its value."]},
        )


@transaction.atomic
def secret_delete(*, actor, workspace: Workspace, name: str) -> None:
    """Delete a secret. Jobs that ask for it afterwards are refused at submission."""
    permissions.require(actor, Action.SECRET_MANAGE, workspace)
    deleted, _ = Secret.objects.filter(workspace=workspace, name=name).delete()
    if not deleted:
        raise NotFound(f"Secret '{name}' not found in workspace '{workspace.name}'.")
    _audit(workspace, name, SecretAccess.Kind.DELETE, actor.get_username())
    log.info("secret %s/%s deleted by %s", workspace.name, name, actor.get_username())


def _missing(workspace: Workspace, names: Iterable[str]) -> set[str]:
    wanted = set(names)
    found = set(
        Secret.objects.filter(workspace=workspace, name__in=wanted).values_list("name", flat=True)
    )
    return wanted - found


def _missing_message(workspace: Workspace, name: str) -> str:
    return (
        f"No secret named '{name}' in workspace '{workspace.name}'; set it on the Secrets page "
        f"or with `studio workspace secret set --name {name}`."
    )


@transaction.atomic
def secret_values_for(*, workspace: Workspace, names: Iterable[str], purpose: str) -> dict:
    """The decrypted values of the named secrets, for the system only (the job runner,
    deployments): no actor, never routed. Each read is audited as actor "system" with the
    purpose ("job 3f2a…"). All or nothing: a missing secret raises ValidationError naming
    `secrets.<name>` for each one, and nothing is read."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    rows = {s.name: s for s in Secret.objects.filter(workspace=workspace, name__in=wanted)}
    missing = [n for n in wanted if n not in rows]
    if missing:
        fields = {f"secrets.{n}": [_missing_message(workspace, n)] for n in missing}
        raise ValidationError("; ".join(f"{k}: {v[0]}" for k, v in fields.items()), fields=fields)
    cipher = vault.workspace_cipher(workspace.vault_key)
    values = {}
    for name in wanted:
        try:
            values[name] = cipher.decrypt(bytes(rows[name].ciphertext)).decode()
        except InvalidToken:
            raise ValidationError.for_field(
                f"secrets.{name}",
                "cannot be decrypted: it was stored under another master key "
                "(STUDIO_MASTER_KEY); set it again.",
            ) from None
    SecretAccess.objects.bulk_create(
        SecretAccess(
            workspace=workspace,
            secret_name=name,
            kind=SecretAccess.Kind.READ,
            actor_username=SYSTEM_ACTOR,
            purpose=purpose[:300],
        )
        for name in wanted
    )
    log.info("secrets %s of %s read for %s", ", ".join(wanted), workspace.name, purpose)
    return values


def secret_env_for(
    *, workspace: Workspace, refs: Mapping[str, str], purpose: str, field: str = "secrets"
) -> dict[str, str]:
    """The environment a spec's `secrets:` mapping (from `parse_secret_refs`) asks for:
    {ENV_VAR: value}. A missing secret is reported at the spec's own key
    (`secrets.DB_PASSWORD`, `jobs.train.secrets.DB_PASSWORD`), so the CLI can point at its
    YAML line."""
    missing = _missing(workspace, refs.values())
    if missing:
        fields = {
            f"{field}.{env}": [_missing_message(workspace, name)]
            for env, name in refs.items()
            if name in missing
        }
        raise ValidationError("; ".join(f"{k}: {v[0]}" for k, v in fields.items()), fields=fields)
    values = secret_values_for(workspace=workspace, names=refs.values(), purpose=purpose)
    return {env: values[name] for env, name in refs.items()}


def parse_secret_refs(
    value: Any, *, field: str = "secrets", taken: Collection[str] = ()
) -> dict[str, str]:
    """Validate a spec's `secrets:` key: a mapping of environment variable names to secret
    names (`secrets: {DB_PASSWORD: db-password}`), as on a command job, a sweep job, a
    pipeline step (`field="jobs.train.secrets"`) or a deployment. `taken` holds the
    variables the spec already sets under `environment_variables`; a variable may come from
    one place only. Every problem is reported at once, each at its own field path."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError.for_field(
            field,
            "must be a mapping of environment variable names to secret names, "
            f"e.g. `{SECRETS_EXAMPLE}`.",
        )
    refs: dict[str, str] = {}
    fields: dict[str, list[str]] = {}
    for env, name in value.items():
        path = f"{field}.{env}"
        if not isinstance(env, str) or not ENV_NAME_RE.match(env):
            fields[path] = [
                "is not an environment variable name: letters, digits and '_', "
                "not starting with a digit."
            ]
        elif env in taken:
            fields[path] = [
                f"{env} is also set under environment_variables; set it in one place only."
            ]
        elif not isinstance(name, str) or not _SECRET_NAME.match(name.strip()):
            fields[path] = [f"must name a workspace secret: {NAME_RULE}"]
        else:
            refs[env] = name.strip()
    if fields:
        raise ValidationError("; ".join(f"{k}: {v[0]}" for k, v in fields.items()), fields=fields)
    return refs


__all__ = [
    "ENV_NAME_RE",
    "MAX_VALUE_BYTES",
    "parse_secret_refs",
    "secret_delete",
    "secret_env_for",
    "secret_set",
    "secret_values_for",
]
