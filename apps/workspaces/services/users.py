"""Writes to user accounts, for staff only (permissions.require_staff: anyone else gets
NotFound, as if user management did not exist).

Passwords go through Django's AUTH_PASSWORD_VALIDATORS; a generated one is returned to the
caller once and never stored in the clear, so no page or endpoint can show it again.
A staff member cannot deactivate themselves or drop their own staff flag (the studio would
risk having no one left to manage it), and only a superuser may change a superuser's account
(resetting its password would hand its powers to whoever reset it).

Every change writes UserAuditEntry rows in its own transaction (one per action: created,
deactivated, reactivated, staff_granted, staff_revoked, password_reset, updated with the
names of the changed fields), so a refused or rolled-back change leaves none. Values are not
recorded, and a password never is.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction

from studio.errors import Conflict, NotFound, PermissionDenied, ValidationError

from .. import permissions
from ..models import UserAuditEntry

log = logging.getLogger(__name__)
User = get_user_model()

UPDATABLE_FIELDS = ("is_active", "is_staff", "email", "full_name")
GENERATED_PASSWORD_BYTES = 15  # 20 URL-safe characters, about 120 bits


def _split_full_name(full_name: Any) -> tuple[str, str]:
    """'Rita van Dijk' -> ('Rita', 'van Dijk'): Django keeps a first and a last name and
    shows them joined by a space (get_full_name), so the split is invisible to users."""
    if full_name is not None and not isinstance(full_name, str):
        raise ValidationError.for_field("full_name", "Must be a string.")
    words = (full_name or "").split()
    if len(" ".join(words)) > 150:
        raise ValidationError.for_field("full_name", "At most 150 characters.")
    return (words[0], " ".join(words[1:])) if words else ("", "")


def _clean(user) -> None:
    """The model's own validation (user name characters and length, email format), with
    errors named after the fields that callers send."""
    try:
        user.full_clean(exclude=["password"], validate_unique=False)
    except DjangoValidationError as exc:
        fields: dict[str, list[str]] = {}
        for name, messages in exc.message_dict.items():
            key = "full_name" if name in ("first_name", "last_name") else name
            fields.setdefault(key, []).extend(str(m) for m in messages)
        message = "; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items())
        raise ValidationError(message, fields=fields) from None


def _validate_password(password: str, user) -> None:
    try:
        password_validation.validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise ValidationError.for_field("password", " ".join(exc.messages)) from None


def _generate_password(user) -> str:
    """A random password that the configured validators accept (a random one fails only by
    freak chance, e.g. resembling the user name: then draw again)."""
    for _ in range(10):
        password = secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)
        try:
            password_validation.validate_password(password, user=user)
        except DjangoValidationError:
            continue
        return password
    raise ValidationError.for_field(  # only with validators no random password can pass
        "password", "The password validators refuse every generated password; give one."
    )


def _audit(actor, user, action: str, fields: list[str] | None = None) -> None:
    UserAuditEntry.objects.create(
        actor=actor,
        actor_username=actor.get_username(),
        user=user,
        subject_username=user.get_username(),
        action=action,
        fields=list(fields or []),
    )


ADMIN_FORM_FIELDS = ("password1", "password2", "usable_password", "username")


def user_audit_record(*, actor, user, fields, created: bool = False) -> None:
    """Record in the user's History a change made outside these services, by Django's own
    admin pages (`fields`: the form's changed fields), as the services record theirs: a
    creation with the fields given, a password change as a reset (never its value), the
    active and staff flags as their own actions, anything else as "updated". The caller's
    transaction holds the change and its entry together."""
    Action = UserAuditEntry.Action
    names = [f for f in fields if f not in ADMIN_FORM_FIELDS]
    if created:
        given = [f for f in names if f != "password"]
        _audit(actor, user, Action.CREATED, given)
        return
    if "password" in names:
        _audit(actor, user, Action.PASSWORD_RESET)
    _audit_changes(actor, user, [f for f in names if f != "password"])


def _audit_changes(actor, user, changed: list[str]) -> None:
    """The entries of a change of these fields: the active and staff flags as their own
    actions, any other fields together as "updated"."""
    Action = UserAuditEntry.Action
    if "is_active" in changed:
        _audit(actor, user, Action.REACTIVATED if user.is_active else Action.DEACTIVATED)
    if "is_staff" in changed:
        _audit(actor, user, Action.STAFF_GRANTED if user.is_staff else Action.STAFF_REVOKED)
    profile = [f for f in changed if f not in ("is_active", "is_staff")]
    if profile:
        _audit(actor, user, Action.UPDATED, profile)


def _locked(username: str):
    user = User.objects.select_for_update().filter(username=username).first()
    if user is None:
        raise NotFound(f"User '{username}' not found.")
    return user


def _require_may_change(actor, user) -> None:
    if user.is_superuser and not actor.is_superuser:
        raise PermissionDenied(
            f"'{user.username}' is a superuser; only a superuser can change that account."
        )


@transaction.atomic
def user_create(
    *,
    actor,
    username: str,
    email: str = "",
    full_name: str = "",
    password: str | None = None,
    generate_password: bool = False,
    is_staff: bool = False,
) -> tuple[Any, str | None]:
    """Create an active account. Give a password, or ask for a generated one: the
    generated password is returned (shown to the staff member once), else None."""
    permissions.require_staff(actor)
    if password and generate_password:
        raise ValidationError.for_field(
            "password", "Give a password or ask for a generated one, not both."
        )
    if not password and not generate_password:
        raise ValidationError.for_field("password", "Give a password, or ask for a generated one.")
    first, last = _split_full_name(full_name)
    user = User(
        username=(username or "").strip(),
        email=(email or "").strip(),
        first_name=first,
        last_name=last,
        is_active=True,
        is_staff=bool(is_staff),
    )
    _clean(user)
    taken = Conflict(
        f"A user named '{user.username}' already exists.",
        fields={"username": ["This user name is taken."]},
    )
    if User.objects.filter(username__iexact=user.username).exists():
        raise taken
    if generate_password:
        password = _generate_password(user)
    else:
        _validate_password(password or "", user)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise taken from None
    given = [
        f
        for f, v in (("email", user.email), ("full_name", first), ("is_staff", user.is_staff))
        if v
    ]
    _audit(actor, user, UserAuditEntry.Action.CREATED, given)
    log.info("user %s created by %s", user.username, actor.username)
    return user, (password if generate_password else None)


@transaction.atomic
def user_update(*, actor, username: str, **changes: Any):
    """Change an account's is_active, is_staff, email or full_name (any subset)."""
    permissions.require_staff(actor)
    unknown = sorted(set(changes) - set(UPDATABLE_FIELDS))
    if unknown:
        fields = {f: ["This field cannot be changed here."] for f in unknown}
        raise ValidationError(f"Cannot change {', '.join(unknown)}.", fields=fields)
    user = _locked(username)
    _require_may_change(actor, user)
    for flag in ("is_active", "is_staff"):
        if flag in changes and not isinstance(changes[flag], bool):
            raise ValidationError.for_field(flag, "Must be true or false.")
    if user.pk == actor.pk and changes.get("is_active") is False:
        raise Conflict(
            "You cannot deactivate your own account; ask another staff member.",
            fields={"is_active": ["You cannot deactivate yourself."]},
        )
    if user.pk == actor.pk and changes.get("is_staff") is False:
        raise Conflict(
            "You cannot remove your own staff flag; ask another staff member.",
            fields={"is_staff": ["You cannot remove your own staff flag."]},
        )
    before = {f: _value(user, f) for f in UPDATABLE_FIELDS}
    for field, value in changes.items():
        if field == "full_name":
            user.first_name, user.last_name = _split_full_name(value)
        elif field == "email":
            user.email = (value or "").strip()
        else:
            setattr(user, field, value)
    _clean(user)
    changed = [f for f in UPDATABLE_FIELDS if _value(user, f) != before[f]]
    if not changed:
        return user
    user.save()
    _audit_changes(actor, user, changed)
    log.info("user %s changed by %s: %s", user.username, actor.username, changed)
    return user


def _value(user, field: str):
    return user.get_full_name() if field == "full_name" else getattr(user, field)


@transaction.atomic
def user_password_reset(*, actor, username: str) -> tuple[Any, str]:
    """Give the account a new generated password; returns it (to be shown once)."""
    permissions.require_staff(actor)
    user = _locked(username)
    _require_may_change(actor, user)
    password = _generate_password(user)
    user.set_password(password)
    user.save(update_fields=["password"])
    _audit(actor, user, UserAuditEntry.Action.PASSWORD_RESET)
    log.info("password of user %s reset by %s", user.username, actor.username)
    return user, password


__all__ = ["UPDATABLE_FIELDS", "user_create", "user_password_reset", "user_update"]
