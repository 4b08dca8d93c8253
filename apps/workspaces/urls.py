from django.urls import path

from .views import compute as compute_views
from .views import datastores as ds_views
from .views import secrets as secret_views
from .views import users as user_views
from .views import workspaces as views

app_name = "workspaces"

urlpatterns = [
    path("workspaces/", views.workspace_list, name="workspace-list"),
    path("workspaces/new/", views.workspace_create, name="workspace-create"),
    path("workspaces/switcher/", views.workspace_switcher, name="workspace-switcher"),
    path("w/<str:name>/", views.workspace_home, name="workspace-home"),
    path("w/<str:name>/settings/", views.workspace_settings, name="workspace-settings"),
    path("w/<str:name>/delete/", views.workspace_delete, name="workspace-delete"),
    path("w/<str:name>/access/", views.access_control, name="access-control"),
    path("w/<str:name>/access/add/", views.member_add, name="member-add"),
    path("w/<str:name>/access/users/", views.member_user_search, name="member-user-search"),
    path("w/<str:name>/access/<str:username>/role/", views.member_update, name="member-update"),
    path("w/<str:name>/access/<str:username>/remove/", views.member_remove, name="member-remove"),
    path("w/<str:name>/datastores/", ds_views.datastore_list, name="datastore-list"),
    # '-/new/' (as GitLab's '/-/'): no datastore name can clash with it.
    path("w/<str:name>/datastores/-/new/", ds_views.datastore_create, name="datastore-create"),
    path("w/<str:name>/datastores/<str:ds>/", ds_views.datastore_detail, name="datastore-detail"),
    path("w/<str:name>/datastores/<str:ds>/edit/", ds_views.datastore_edit, name="datastore-edit"),
    path(
        "w/<str:name>/datastores/<str:ds>/set-default/",
        ds_views.datastore_set_default,
        name="datastore-set-default",
    ),
    path(
        "w/<str:name>/datastores/<str:ds>/delete/",
        ds_views.datastore_delete,
        name="datastore-delete",
    ),
    path(
        "w/<str:name>/datastores/<str:ds>/upload/",
        ds_views.datastore_upload,
        name="datastore-upload",
    ),
    path(
        "w/<str:name>/datastores/<str:ds>/download/",
        ds_views.datastore_download,
        name="datastore-download",
    ),
    path(
        "w/<str:name>/datastores/<str:ds>/preview/",
        ds_views.datastore_preview,
        name="datastore-preview",
    ),
    path("w/<str:name>/datastores/<str:ds>/raw/", ds_views.datastore_raw, name="datastore-raw"),
    path(
        "w/<str:name>/datastores/<str:ds>/delete-file/",
        ds_views.datastore_file_delete,
        name="datastore-file-delete",
    ),
    path("w/<str:name>/secrets/", secret_views.secret_list, name="secret-list"),
    path("w/<str:name>/secrets/set/", secret_views.secret_set, name="secret-set"),
    path(
        "w/<str:name>/secrets/<str:secret_name>/delete/",
        secret_views.secret_delete,
        name="secret-delete",
    ),
]

# Manage > Compute (a compute named like a fixed segment cannot clash: creation has its own
# prefix, and every other page hangs below the compute's name).
urlpatterns += [
    path("w/<str:name>/compute/", compute_views.compute_list, name="compute-list"),
    path(
        "w/<str:name>/compute-create/<str:compute_type>/",
        compute_views.compute_create,
        name="compute-create",
    ),
    path(
        "w/<str:name>/compute/<str:compute_name>/",
        compute_views.compute_detail,
        name="compute-detail",
    ),
    path(
        "w/<str:name>/compute/<str:compute_name>/nodes/",
        compute_views.compute_nodes,
        name="compute-nodes",
    ),
    path(
        "w/<str:name>/compute/<str:compute_name>/edit/",
        compute_views.compute_edit,
        name="compute-edit",
    ),
    path(
        "w/<str:name>/compute/<str:compute_name>/delete/",
        compute_views.compute_delete,
        name="compute-delete",
    ),
    path(
        "w/<str:name>/compute/<str:compute_name>/<str:operation>/",
        compute_views.compute_operate,
        name="compute-operate",
    ),
]

# Users (staff only; 404 for everyone else). '-/new/' as for datastores: '-' is a valid user
# name, but no account page hangs a 'new/' below its name.
urlpatterns += [
    path("users/", user_views.user_list, name="user-list"),
    path("users/-/new/", user_views.user_create, name="user-create"),
    path("users/<str:username>/", user_views.user_detail, name="user-detail"),
    path("users/<str:username>/update/", user_views.user_update, name="user-update"),
    path(
        "users/<str:username>/reset-password/",
        user_views.user_password_reset,
        name="user-password-reset",
    ),
]
