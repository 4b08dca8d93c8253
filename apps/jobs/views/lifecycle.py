"""Job pages: the Cancel button (POST w/<ws>/jobs/<job>/cancel/)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import NoReverseMatch, path, reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from apps.workspaces.views.workspaces import workspace_view
from studio.errors import Conflict
from studio.htmx import is_partial

from .. import selectors
from ..services import lifecycle


def _job_url(workspace, job) -> str:
    for name in ("jobs:job-detail", "jobs:job-list"):
        try:
            kwargs = {"name": workspace.name}
            if name == "jobs:job-detail":
                kwargs["job_name"] = job.name
            return reverse(name, kwargs=kwargs)
        except NoReverseMatch:
            continue
    return reverse("workspaces:workspace-home", kwargs={"name": workspace.name})


@workspace_view()
@require_POST
def job_cancel(request, workspace, job: str):
    job_row = selectors.job_get(actor=request.user, workspace=workspace, name=job)
    try:
        job_row = lifecycle.job_cancel(actor=request.user, job=job_row)
    except Conflict as exc:
        messages.warning(request, exc.message)
    else:
        messages.success(request, f"Job '{job_row.name}': {job_row.get_status_display()}.")
    url = _job_url(workspace, job_row)
    if is_partial(request):
        return HttpResponseClientRedirect(url)
    return redirect(url)


urlpatterns = [
    path("w/<str:name>/jobs/<str:job>/cancel/", job_cancel, name="job-cancel"),
]
