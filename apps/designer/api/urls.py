"""Designer API routes under /api/v1/workspaces/<ws>/designer/."""

from django.urls import path

from . import views

P = "workspaces/<str:workspace_name>/designer/drafts/"
urlpatterns = [
    path(P, views.DraftListView.as_view(), name="designer-draft-list"),
    path(f"{P}-/import/", views.DraftImportView.as_view(), name="designer-draft-import"),
    path(f"{P}<uuid:draft_id>/", views.DraftDetailView.as_view(), name="designer-draft-detail"),
    path(
        f"{P}<uuid:draft_id>/export/", views.DraftExportView.as_view(), name="designer-draft-export"
    ),  # fmt: skip
    path(
        f"{P}<uuid:draft_id>/submit/", views.DraftSubmitView.as_view(), name="designer-draft-submit"
    ),  # fmt: skip
]
