"""Job pages: the Cancel button (POST w/<ws>/jobs/<job>/cancel/), and the job lists' bulk
Cancel, Archive and Restore of the ticked jobs (POST w/<ws>/jobs/-/bulk/)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import NoReverseMatch, path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from apps.workspaces import permissions
from apps.workspaces.permissions import Action
from apps.workspaces.views.workspaces import workspace_view
from studio.errors import Conflict, NotFound
from studio.htmx import is_partial

from .. import selectors
from ..services import annotations, lifecycle

BULK_MAX = 200  # jobs one bulk action takes (a page of the list is 50)
BULK_ACTIONS = {
    "cancel": (Action.JOB_CANCEL, "Cancel requested for"),
    "archive": (Action.JOB_UPDATE, "Archived"),
    "restore": (Action.JOB_UPDATE, "Restored"),
}


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


@workspace_view()
@require_POST
def job_bulk(request, workspace):
    """Cancel, archive or restore the jobs ticked on a job list (`job`, at most BULK_MAX),
    then back to the list as it was (`next`). A role without the action is refused (403)
    before anything changes; each job is done on its own, and one that cannot be (a job that
    has ended has nothing to cancel) is named in a warning while the others go ahead."""
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("jobs:job-list", args=[workspace.name])
    action = request.POST.get("action", "")
    if action not in BULK_ACTIONS:
        messages.error(request, "Choose Cancel, Archive or Restore.")
        return redirect(back)
    needed, verb = BULK_ACTIONS[action]
    permissions.require(request.user, needed, workspace)
    names = list(dict.fromkeys(request.POST.getlist("job")))
    if not names:
        messages.warning(request, "Tick the jobs first.")
        return redirect(back)
    if len(names) > BULK_MAX:
        messages.error(request, f"At most {BULK_MAX} jobs at once.")
        return redirect(back)
    done, refused = [], []
    for name in names:
        try:
            job = selectors.job_get(actor=request.user, workspace=workspace, name=name)
            if action == "cancel":
                lifecycle.job_cancel(actor=request.user, job=job)
            else:
                annotations.job_set_archived(
                    actor=request.user, job=job, archived=action == "archive"
                )
        except (Conflict, NotFound) as exc:
            refused.append(f"{name} ({exc.message})")
        else:
            done.append(name)
    if done:
        messages.success(request, f"{verb} {', '.join(done)}.")
    if refused:
        messages.warning(request, f"Not done: {'; '.join(refused)}")
    return redirect(back)


urlpatterns = [
    path("w/<str:name>/jobs/-/bulk/", job_bulk, name="job-bulk"),
    path("w/<str:name>/jobs/<str:job>/cancel/", job_cancel, name="job-cancel"),
]
