"""Designer HTML routes (Author > Designer): fixed segments (`-/import/`) before a draft id."""

from django.urls import path

from . import views

app_name = "designer"

W = "w/<str:name>/designer/"
D = f"{W}<uuid:draft_id>/"
urlpatterns = [
    path(W, views.draft_list, name="draft-list"),
    path(f"{W}-/new/", views.draft_create, name="draft-create"),
    path(f"{W}-/import/", views.draft_import, name="draft-import"),
    path(f"{W}-/clone/<str:job_name>/", views.draft_clone, name="draft-clone"),
    path(D, views.draft_detail, name="draft-detail"),
    path(f"{D}rename/", views.draft_rename, name="draft-rename"),
    path(f"{D}delete/", views.draft_delete, name="draft-delete"),
    path(f"{D}palette/", views.draft_palette, name="draft-palette"),
    path(f"{D}gesture/", views.draft_gesture, name="draft-gesture"),
    path(f"{D}nodes/<str:node_id>/", views.draft_node, name="draft-node"),
    path(f"{D}settings/", views.draft_settings, name="draft-settings"),
    path(f"{D}validate/", views.draft_validate, name="draft-validate"),
    path(f"{D}history/", views.draft_history, name="draft-history"),
    path(f"{D}export.yml", views.draft_export, name="draft-export"),
    path(f"{D}submit/", views.draft_submit, name="draft-submit"),
]
