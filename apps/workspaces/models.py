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


class UserAuditEntry(models.Model):
    """Who changed which user account, how, and when: one row per change, written by
    services/users.py in the same transaction. Names are copied so the row outlives both
    accounts. Never holds a password: a reset is recorded as the action alone."""

    class Action(models.TextChoices):
        CREATED = "created", "created"
        DEACTIVATED = "deactivated", "deactivated"
        REACTIVATED = "reactivated", "reactivated"
        STAFF_GRANTED = "staff_granted", "staff granted"
        STAFF_REVOKED = "staff_revoked", "staff revoked"
        PASSWORD_RESET = "password_reset", "password reset"
        UPDATED = "updated", "updated"

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_username = models.CharField(max_length=150)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="account_audit"
    )
    subject_username = models.CharField(max_length=150)
    action = models.CharField(max_length=20, choices=Action.choices)
    # The names (never the values) of the fields changed ("updated") or given ("created").
    fields = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.actor_username} {self.action} {self.subject_username}"

    @property
    def summary(self) -> str:
        named = ", ".join(f.replace("_", " ") for f in self.fields)
        if self.action == self.Action.CREATED:
            return f"created the account ({named})" if named else "created the account"
        if self.action == self.Action.UPDATED:
            return f"changed {named}"
        return {
            self.Action.DEACTIVATED: "deactivated the account",
            self.Action.REACTIVATED: "reactivated the account",
            self.Action.STAFF_GRANTED: "made them staff",
            self.Action.STAFF_REVOKED: "removed their staff flag",
            self.Action.PASSWORD_RESET: "reset the password",
        }.get(self.action, self.action)


class Datastore(models.Model):
    """A named place where a workspace keeps files: a local folder (the four defaults), an
    Azure Blob container or an S3 bucket. Credentials are encrypted with the workspace's
    vault key and never shown back."""

    class Type(models.TextChoices):
        LOCAL = "local", "Local folder"
        AZURE_BLOB = "azure_blob", "Azure Blob Storage"
        S3 = "s3", "S3-compatible"

    class CredentialKind(models.TextChoices):
        NONE = "none", "None (anonymous or identity)"
        ACCOUNT_KEY = "account_key", "Account key"
        SAS_TOKEN = "sas_token", "SAS token"
        ACCESS_KEY = "access_key", "Access key and secret"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="datastores")
    name = models.CharField(max_length=255)
    type = models.CharField(max_length=20, choices=Type.choices)
    description = models.TextField(blank=True)
    tags = models.JSONField(default=dict, blank=True)
    is_default = models.BooleanField(default=False)
    # Non-secret settings only (a folder, an account name, a container, a bucket, an
    # endpoint URL). Secrets go to `credentials`.
    config = models.JSONField(default=dict, blank=True)
    credential_kind = models.CharField(
        max_length=20, choices=CredentialKind.choices, default=CredentialKind.NONE
    )
    # JSON of the secret values, encrypted with the workspace's vault key (Fernet token).
    credentials = models.BinaryField(default=b"", blank=True, editable=False)
    # Azure-only fields from `az ml datastore create` YAML, kept as given.
    extra = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

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


# Key Vault secret names: 1 to 127 letters, digits and '-'. We also allow '_' so a name can
# match the environment variable it becomes.
SECRET_NAME_RE = r"^[A-Za-z][A-Za-z0-9_-]{0,126}$"


class Secret(models.Model):
    """A workspace secret (Azure's Key Vault). The value is write-only: encrypted with the
    workspace's vault key, never returned by a page, the API or the CLI."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="secrets")
    name = models.CharField(
        max_length=127,
        validators=[
            RegexValidator(
                SECRET_NAME_RE, "1 to 127 letters, digits, '-' or '_', starting with a letter."
            )
        ],
    )
    ciphertext = models.BinaryField(editable=False)
    description = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="unique_secret_name"),
        ]

    def __str__(self) -> str:
        return f"{self.workspace.name}/{self.name}"


class SecretAccess(models.Model):
    """One read of a secret's value by the system (a job, a deployment, a datastore check),
    or a change to it by a user. The audit trail of the vault."""

    class Kind(models.TextChoices):
        READ = "read", "read"
        SET = "set", "set"
        DELETE = "delete", "delete"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="secret_audit")
    secret_name = models.CharField(max_length=127)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # Who or what: a user name, or "system" with the purpose saying which job or check.
    actor_username = models.CharField(max_length=150)
    purpose = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.actor_username} {self.kind} {self.secret_name}"


class VmSize(models.Model):
    """A compute size preset (Azure's VM sizes): the CPU and memory limits a job's container
    gets on a node of that size. Seeded with common Azure sizes; admins add their own."""

    name = models.CharField(max_length=64, unique=True)
    cores = models.DecimalField(max_digits=6, decimal_places=2)
    memory_gb = models.DecimalField(max_digits=8, decimal_places=2)
    gpus = models.PositiveSmallIntegerField(default=0)
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["cores", "memory_gb", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.cores} cores, {self.memory_gb} GiB)"


# Azure ML compute names: 2 to 16 characters (24 for instances), letters, digits and '-',
# starting with a letter. We allow up to 32 everywhere.
COMPUTE_NAME_RE = r"^[a-zA-Z][a-zA-Z0-9-]{1,31}$"


class Compute(models.Model):
    """A compute target of a workspace. Each one is a Celery queue (`queue_name`); the workers
    that serve that queue run its jobs, at most `max_instances` at once (one job a node)."""

    class Type(models.TextChoices):
        LOCAL = "local", "Local (process on a worker)"
        AMLCOMPUTE = "amlcompute", "Compute cluster"
        COMPUTEINSTANCE = "computeinstance", "Compute instance"
        SERVERLESS = "serverless", "Serverless"
        ATTACHED = "attached", "Attached Docker engine"

    class State(models.TextChoices):
        SUCCEEDED = "Succeeded", "Succeeded"  # a cluster's provisioning state: ready
        RUNNING = "Running", "Running"
        STARTING = "Starting", "Starting"
        STOPPING = "Stopping", "Stopping"
        STOPPED = "Stopped", "Stopped"
        FAILED = "Failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="computes")
    name = models.CharField(
        max_length=32,
        validators=[
            RegexValidator(
                COMPUTE_NAME_RE,
                "2 to 32 letters, digits or '-', starting with a letter.",
            )
        ],
    )
    type = models.CharField(max_length=20, choices=Type.choices)
    description = models.TextField(blank=True)
    tags = models.JSONField(default=dict, blank=True)
    size = models.ForeignKey(VmSize, null=True, blank=True, on_delete=models.PROTECT)
    min_instances = models.PositiveIntegerField(default=0)
    max_instances = models.PositiveIntegerField(default=1)
    idle_time_before_scale_down = models.PositiveIntegerField(default=120)  # seconds
    state = models.CharField(max_length=20, choices=State.choices, default=State.SUCCEEDED)
    # A compute instance belongs to one user: only their jobs run on it.
    assigned_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Compute instance schedules: [{"action": "start"|"stop", "cron": "0 8 * * 1-5",
    # "time_zone": "UTC"}], carried out by Celery beat.
    schedules = models.JSONField(default=list, blank=True)
    # Non-secret settings (an attached engine's URL, a TLS flag). Secrets go to `credentials`.
    config = models.JSONField(default=dict, blank=True)
    credentials = models.BinaryField(default=b"", blank=True, editable=False)
    extra = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="unique_compute_name"),
            models.CheckConstraint(
                condition=models.Q(min_instances__lte=models.F("max_instances")),
                name="compute_min_le_max",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workspace.name}/{self.name}"

    @property
    def queue_name(self) -> str:
        """The Celery queue of this compute: `<workspace>.<compute>`, both names immutable.
        A worker on another machine joins with `celery -A studio worker -Q churn.cpu-cluster`."""
        return f"{self.workspace.name}.{self.name}"


class ComputeNode(models.Model):
    """One node (job slot) of a compute. A node is idle, busy with one job, or leaving (being
    released after idling past `idle_time_before_scale_down`)."""

    class State(models.TextChoices):
        IDLE = "idle", "idle"
        BUSY = "busy", "busy"
        LEAVING = "leaving", "leaving"

    compute = models.ForeignKey(Compute, on_delete=models.CASCADE, related_name="nodes")
    index = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.IDLE)
    # The job holding the node. A plain UUID: the jobs app owns jobs and points back here.
    job_id = models.UUIDField(null=True, blank=True)
    worker = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    state_since = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["compute", "index"]
        constraints = [
            models.UniqueConstraint(fields=["compute", "index"], name="unique_node_index"),
        ]

    def __str__(self) -> str:
        return f"{self.compute} node {self.index} ({self.state})"


class ComputeEvent(models.Model):
    """What happened to a compute, with its time: created, updated, started, stopped,
    scaled up or down (a node added or released)."""

    class Kind(models.TextChoices):
        CREATED = "created", "created"
        UPDATED = "updated", "updated"
        STARTED = "started", "started"
        STOPPED = "stopped", "stopped"
        RESTARTED = "restarted", "restarted"
        SCALE_UP = "scale_up", "scale up"
        SCALE_DOWN = "scale_down", "scale down"
        SCHEDULE = "schedule", "schedule"

    compute = models.ForeignKey(Compute, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    message = models.CharField(max_length=500)
    actor_username = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["compute", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.compute}: {self.kind} {self.message}"


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
    # A run token: valid only for the MLflow calls of this one job, revoked when it ends.
    # The job's container gets it as MLFLOW_TRACKING_TOKEN.
    scope_job_id = models.UUIDField(null=True, blank=True, editable=False)

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
