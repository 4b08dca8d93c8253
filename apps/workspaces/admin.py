"""Admin pages: the studio's user management for staff (users, and a read-only look at
workspaces and memberships)."""

from django.contrib import admin

from .models import ApiToken, Membership, RoleAuditEntry, UserAuditEntry, VmSize, Workspace


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    readonly_fields = ("user", "role", "created_at")
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # roles are granted by a workspace's Owner, with an audit entry


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ("name", "display_name", "created_by", "created_at")
    search_fields = ("name", "display_name")
    readonly_fields = ("name", "created_by", "created_at", "updated_at")
    exclude = ("vault_key",)
    inlines = [MembershipInline]


@admin.register(RoleAuditEntry)
class RoleAuditEntryAdmin(admin.ModelAdmin):
    list_display = (
        "workspace",
        "actor_username",
        "action",
        "subject_username",
        "old_role",
        "new_role",
        "created_at",
    )
    list_filter = ("action",)

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(UserAuditEntry)
class UserAuditEntryAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor_username", "action", "subject_username", "fields")
    list_filter = ("action",)
    search_fields = ("actor_username", "subject_username")

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("user", "name", "hint", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("user", "name", "hint", "created_at", "last_used_at", "expires_at")
    exclude = ("token_hash",)

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(VmSize)
class VmSizeAdmin(admin.ModelAdmin):
    """The compute size presets: admins add sizes (cores, memory, GPUs) for their machines."""

    list_display = ("name", "cores", "memory_gb", "gpus", "description")
    search_fields = ("name", "description")
