from django.urls import path

from . import compute as compute_api
from . import datastores, secrets, users, views

workspaces = views.WorkspaceViewSet.as_view({"get": "list", "post": "create"})
workspace = views.WorkspaceViewSet.as_view(
    {"get": "retrieve", "patch": "partial_update", "delete": "destroy"}
)
members = views.MemberViewSet.as_view({"get": "list", "post": "create"})
member = views.MemberViewSet.as_view(
    {"get": "retrieve", "patch": "partial_update", "delete": "destroy"}
)

urlpatterns = [
    path("me/", views.me, name="me"),
    path(
        "tokens/", views.TokenViewSet.as_view({"get": "list", "post": "create"}), name="token-list"
    ),
    path(
        "tokens/<uuid:pk>/", views.TokenViewSet.as_view({"delete": "destroy"}), name="token-detail"
    ),
    path("workspaces/", workspaces, name="workspace-list"),
    path("workspaces/<str:name>/", workspace, name="workspace-detail"),
    path("workspaces/<str:workspace_name>/members/", members, name="member-list"),
    path("workspaces/<str:workspace_name>/members/<str:username>/", member, name="member-detail"),
    path(
        "workspaces/<str:workspace_name>/role-audit/",
        views.RoleAuditViewSet.as_view({"get": "list"}),
        name="role-audit-list",
    ),
    path(
        "workspaces/<str:workspace_name>/datastores/",
        datastores.DatastoreListView.as_view(),
        name="datastore-list",
    ),
    path(
        "workspaces/<str:workspace_name>/datastores/<str:name>/",
        datastores.DatastoreDetailView.as_view(),
        name="datastore-detail",
    ),
    path(
        "workspaces/<str:workspace_name>/datastores/<str:name>/set-default/",
        datastores.DatastoreSetDefaultView.as_view(),
        name="datastore-set-default",
    ),
    path(
        "workspaces/<str:workspace_name>/datastores/<str:name>/files/",
        datastores.DatastoreFileListView.as_view(),
        name="datastore-file-list",
    ),
    path(
        "workspaces/<str:workspace_name>/datastores/<str:name>/files/content",
        datastores.DatastoreFileContentView.as_view(),
        name="datastore-file-content",
    ),
    path(
        "workspaces/<str:workspace_name>/secrets/",
        secrets.SecretViewSet.as_view({"get": "list", "post": "create"}),
        name="secret-list",
    ),
    path(
        "workspaces/<str:workspace_name>/secrets/<str:secret_name>/",
        secrets.SecretViewSet.as_view({"get": "retrieve", "put": "update", "delete": "destroy"}),
        name="secret-detail",
    ),
    path(
        "workspaces/<str:workspace_name>/secret-audit/",
        secrets.SecretAuditViewSet.as_view({"get": "list"}),
        name="secret-audit-list",
    ),
]

# Compute: /api/v1/workspaces/<ws>/computes/... and /api/v1/vm-sizes/
_computes = "workspaces/<str:workspace_name>/computes/"
_compute = _computes + "<str:compute_name>/"
_ops = {op: compute_api.ComputeViewSet.as_view({"post": op}) for op in ("start", "stop", "restart")}
urlpatterns += [
    path("vm-sizes/", compute_api.VmSizeViewSet.as_view({"get": "list"}), name="vm-size-list"),
    path(
        _computes,
        compute_api.ComputeViewSet.as_view({"get": "list", "post": "create"}),
        name="compute-list",
    ),
    path(
        _compute,
        compute_api.ComputeViewSet.as_view(
            {"get": "retrieve", "patch": "partial_update", "delete": "destroy"}
        ),
        name="compute-detail",
    ),
    path(_compute + "start/", _ops["start"], name="compute-start"),
    path(_compute + "stop/", _ops["stop"], name="compute-stop"),
    path(_compute + "restart/", _ops["restart"], name="compute-restart"),
    path(
        _compute + "nodes/",
        compute_api.ComputeViewSet.as_view({"get": "nodes"}),
        name="compute-nodes",
    ),
    path(
        _compute + "events/",
        compute_api.ComputeViewSet.as_view({"get": "events"}),
        name="compute-events",
    ),
]

# Users (staff only): /api/v1/users/...
urlpatterns += [
    path(
        "users/",
        users.UserViewSet.as_view({"get": "list", "post": "create"}),
        name="user-list",
    ),
    path(
        "users/<str:username>/",
        users.UserViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="user-detail",
    ),
    path(
        "users/<str:username>/reset-password/",
        users.UserViewSet.as_view({"post": "reset_password"}),
        name="user-reset-password",
    ),
    path(
        "users/<str:username>/audit/",
        users.UserViewSet.as_view({"get": "audit"}),
        name="user-audit",
    ),
]
