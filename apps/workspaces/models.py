"""Workspaces and what belongs to them as resources: members and roles, datastores, the
vault's key, and the personal API tokens that carry a user's roles to the API and CLI."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

# Azure ML workspace names: 3 to 33 characters, letters, digits, '-' and '_', starting with a
# letter or a digit. Kept as the identifier in URLs, the API and the CLI (`-w churn`).
WORKSPACE_NAME_RE = r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$"
workspace_name_validator = RegexValidator(
    WORKSPACE_NAME_RE,
    "3 to 33 letters, digits, '-' or '_', starting with a letter or a digit.",
)
# Datastore names in Azure ML: letters, digits and '_', starting with a letter.
DATASTORE_NAME_RE = r"^[a-zA-Z][a-zA-Z0-9_]{0,254}$"


class Role(models.TextChoices):
    """The five built-in roles of the product. Not a ladder: see permissions.ROLE_ACTIONS."""

    OWNER = "Owner", "Owner"
    CONTRIBUTOR = "Contributor", "Contributor"
    READER = "Reader", "Reader"
    DATA_SCIENTIST = "AzureML Data Scientist", "AzureML Data Scientist"
    COMPUTE_OPERATOR = "AzureML Compute Operator", "AzureML Compute Operator"


class WorkspaceQuerySet(models.QuerySet):
    def with_member(self, user) -> WorkspaceQuerySet:
        return self.filter(memberships__user=user)


class Workspace(models.Model):
    """A team's space: everything else (compute, data, jobs, models) belongs to one."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=33, unique=True, validators=[workspace_name_validator])
    display_name = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True, max_length=5000)
    tags = models.JSONField(default=dict, blank=True)
    # Azure-only fields from `az ml workspace create` YAML, kept as given and never acted on.
    extra = models.JSONField(default=dict, blank=True)
    # The workspace's own Fernet key, encrypted ("wrapped") with the studio's master key.
    vault_key = models.BinaryField(editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def friendly_name(self) -> str:
        return self.display_name or self.name


class Membership(models.Model):
    """A user's role in one workspace. One row per user and workspace."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=40, choices=Role.choices)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["workspace", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="one_role_per_user"),
        ]
        indexes = [models.Index(fields=["user", "role"])]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} in {self.workspace}"


class RoleAuditEntry(models.Model):
    """Who changed whose role in a workspace, and when. Kept even when the user goes."""

    class Action(models.TextChoices):
        ADDED = "added", "added"
        CHANGED = "changed", "changed"
        REMOVED = "removed", "removed"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="role_audit")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_username = models.CharField(max_length=150)
    subject_username = models.CharField(max_length=150)
    action = models.CharField(max_length=10, choices=Action.choices)
    old_role = models.CharField(max_length=40, blank=True)
    new_role = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.actor_username} {self.action} {self.subject_username}"

    @property
    def summary(self) -> str:
        if self.action == self.Action.ADDED:
            return f"added {self.subject_username} as {self.new_role}"
        if self.action == self.Action.REMOVED:
            return f"removed {self.subject_username} ({self.old_role})"
        return f"changed {self.subject_username} from {self.old_role} to {self.new_role}"


class Datastore(models.Model):
    """A named place where a workspace keeps files. The four defaults are local folders."""

    class Type(models.TextChoices):
        LOCAL = "local", "Local folder"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="datastores")
    name = models.CharField(max_length=255)
    type = models.CharField(max_length=20, choices=Type.choices)
    description = models.TextField(blank=True)
    is_default = models.BooleanField(default=False)
    # Non-secret settings only (a folder, an account name, a bucket). Secrets live in the vault.
    config = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="unique_datastore_name"),
            models.UniqueConstraint(
                fields=["workspace"],
                condition=models.Q(is_default=True),
                name="one_default_datastore",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workspace.name}/{self.name}"


class ApiToken(models.Model):
    """A personal API token. Only a SHA-256 of it is kept; the token is shown once.

    Tokens are 256-bit random strings, so a fast hash is enough (as GitHub does) and keeps
    every API call free of a slow password hash.
    """

    PREFIX = "stu_"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters, shown in lists so a user can tell tokens apart.
    hint = models.CharField(max_length=12, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "name"],
                condition=models.Q(revoked_at__isnull=True),
                name="unique_active_token_name",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    @property
    def is_active(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()
