"""Admin pages: the studio's user management for staff (users, and a read-only look at
workspaces and memberships)."""

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db import transaction

from .models import ApiToken, Membership, RoleAuditEntry, UserAuditEntry, VmSize, Workspace
from .services import users as user_services


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


class AuditedUserAdmin(UserAdmin):
    """Django's user admin, with every account change also in the user's History (the Users
    page, /api/v1/users/<name>/audit/, `studio user audit`), in the same transaction."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        user_services.user_audit_record(
            actor=request.user, user=obj, fields=form.changed_data, created=not change
        )

    def user_change_password(self, request, id, form_url=""):
        with transaction.atomic():
            response = super().user_change_password(request, id, form_url)
            if request.method == "POST" and response.status_code == 302:
                user = self.get_object(request, unquote(id))
                user_services.user_audit_record(actor=request.user, user=user, fields=["password"])
        return response


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, AuditedUserAdmin)
