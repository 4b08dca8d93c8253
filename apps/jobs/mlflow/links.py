"""The MLflow client prints links into its UI: `<tracking URI>/#/experiments/<id>/runs/<run>`.
With the studio as the tracking server, that is `/mlflow/<workspace>/#/…`. The browser does not
send the part after `#`, so this page reads it (static/js/mlflow-link.js) and asks again with
`?experiment=&run=`, which is answered with a redirect to the studio's own page of that run or
experiment. Scoped as every page: a non-member gets 404."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render

from apps.workspaces import selectors as ws_selectors
from apps.workspaces.permissions import Action
from studio.errors import NotFound, ValidationError

from .. import selectors


@login_required
def ui_link(request, workspace_name: str):
    workspace = ws_selectors.workspace_get(
        actor=request.user, name=workspace_name, action=Action.JOB_VIEW
    )
    request.workspace = workspace
    run_id = request.GET.get("run", "").strip()
    experiment_id = request.GET.get("experiment", "").strip()
    try:
        if run_id:
            job = selectors.run_get(
                actor=request.user, workspace=workspace, run_id=run_id, with_data=False
            )
            return redirect("jobs:job-detail", workspace.name, job.name)
        if experiment_id:
            experiment = selectors.experiment_get(
                actor=request.user, workspace=workspace, experiment_id=experiment_id
            )
            return redirect("jobs:experiment-detail", workspace.name, experiment.name)
    except (NotFound, ValidationError):
        raise Http404("No such run or experiment in this workspace.") from None
    return render(request, "jobs/mlflow_link.html", {"workspace": workspace})
