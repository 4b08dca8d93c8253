"""HTML pages and HTMX fragments of workspaces, access control and tokens.

Views parse, call a selector or a service, and render. Role checks live in the services and
selectors (permissions.py); a view only catches ValidationError to re-render its form.
"""

from __future__ import annotations

import functools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from studio.errors import Conflict, DomainError, ValidationError
from studio.htmx import HtmxHttpRequest, is_partial, vary_on_htmx

from .. import forms, permissions, selectors, services
from ..permissions import Action
from ..selectors import datastores as datastore_selectors


def workspace_view(action: Action = Action.WORKSPACE_VIEW):
    """Resolve <name> to the workspace (404 for non-members, 403 for a role without the
    action) and hand it to the view; pages read it from request.workspace."""

    def decorator(view):
        @functools.wraps(view)
        @login_required
        def wrapper(request, name: str, *args, **kwargs):
            request.workspace = selectors.workspace_get(
                actor=request.user, name=name, action=action
            )
            return view(request, request.workspace, *args, **kwargs)

        return wrapper

    return decorator


def _form_errors(form, exc: DomainError) -> None:
    """Put a service's field errors next to the fields of the form."""
    placed = False
    for field, msgs in exc.fields.items():
        key = field.split(".")[0]
        if key in form.fields:
            for msg in msgs:
                form.add_error(key, msg)
            placed = True
    if not placed:
        form.add_error(None, exc.message)


@login_required
def home(request):
    workspaces = list(selectors.workspace_list(actor=request.user)[:2])
    if len(workspaces) == 1:
        return redirect("workspaces:workspace-home", name=workspaces[0].name)
    return redirect("workspaces:workspace-list")


@login_required
@require_GET
def workspace_list(request: HtmxHttpRequest):
    search = request.GET.get("q", "").strip()
    workspaces = selectors.workspace_list(actor=request.user, search=search)
    context = {"workspaces": workspaces, "q": search}
    if is_partial(request):
        return vary_on_htmx(render(request, "workspaces/workspace_list.html#rows", context))
    return vary_on_htmx(render(request, "workspaces/workspace_list.html", context))


@login_required
@require_GET
def workspace_switcher(request: HtmxHttpRequest):
    """The top bar's search-as-you-type list of workspaces."""
    search = request.GET.get("q", "").strip()
    workspaces = selectors.workspace_list(actor=request.user, search=search)[:20]
    return render(
        request, "shared/_workspace_switcher_results.html", {"results": workspaces, "q": search}
    )


@login_required
@require_http_methods(["GET", "POST"])
def workspace_create(request: HtmxHttpRequest):
    form = forms.WorkspaceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            workspace = services.workspace_create(actor=request.user, **form.cleaned_data)
        except (ValidationError, Conflict) as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, f"Workspace '{workspace.name}' created.")
            return redirect("workspaces:workspace-home", name=workspace.name)
    status = 422 if request.method == "POST" else 200
    return render(request, "workspaces/workspace_create.html", {"form": form}, status=status)


@workspace_view()
@require_GET
def workspace_home(request, workspace):
    context = {"counts": selectors.workspace_counts(workspace=workspace)}
    if permissions.can(request.user, Action.DATASTORE_VIEW, workspace):
        context["datastores"] = datastore_selectors.datastore_list(
            actor=request.user, workspace=workspace
        )
    return render(request, "workspaces/workspace_home.html", context)


@workspace_view()
@require_http_methods(["GET", "POST"])
def workspace_settings(request, workspace):
    initial = {
        "display_name": workspace.display_name,
        "description": workspace.description,
        "tags": forms.format_tags(workspace.tags),
    }
    form = forms.WorkspaceSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.workspace_update(actor=request.user, workspace=workspace, **form.cleaned_data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, "Settings saved.")
            return redirect("workspaces:workspace-settings", name=workspace.name)
    status = 422 if request.method == "POST" else 200
    return render(request, "workspaces/workspace_settings.html", {"form": form}, status=status)


@workspace_view(Action.WORKSPACE_DELETE)
@require_http_methods(["GET", "POST"])
def workspace_delete(request, workspace):
    form = forms.DeleteConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data["confirm"] != workspace.name:
            form.add_error("confirm", f"Type '{workspace.name}' exactly to delete it.")
        else:
            try:
                services.workspace_delete(actor=request.user, workspace=workspace)
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"Workspace '{workspace.name}' deleted.")
                return redirect("workspaces:workspace-list")
    status = 422 if request.method == "POST" else 200
    return render(request, "workspaces/workspace_delete.html", {"form": form}, status=status)


def _access_context(request, workspace, **extra):
    return {
        "members": selectors.member_list(actor=request.user, workspace=workspace),
        "audit": selectors.role_audit_list(actor=request.user, workspace=workspace)[:50],
        "add_form": extra.pop("add_form", None) or forms.MemberAddForm(),
        "roles": forms.MemberRoleForm.base_fields["role"].choices,
        **extra,
    }


@workspace_view(Action.MEMBERS_VIEW)
@require_GET
def access_control(request: HtmxHttpRequest, workspace):
    return render(request, "workspaces/access_control.html", _access_context(request, workspace))


def _access_fragment(request, workspace, *, status=200, **extra):
    """After a change: the members table, with the audit trail swapped out of band."""
    response = render(
        request,
        "workspaces/access_control.html#members",
        _access_context(request, workspace, **extra),
        status=status,
    )
    return vary_on_htmx(response)


def _access_respond(request, workspace, *, error: DomainError | None = None, add_form=None):
    if is_partial(request):
        status = 422 if error else 200
        return _access_fragment(request, workspace, status=status, error=error, add_form=add_form)
    if error:
        messages.error(request, error.message)
    return redirect("workspaces:access-control", name=workspace.name)


@workspace_view(Action.MEMBERS_MANAGE)
@require_POST
def member_add(request: HtmxHttpRequest, workspace):
    form = forms.MemberAddForm(request.POST)
    error = None
    if form.is_valid():
        try:
            services.member_add(
                actor=request.user,
                workspace=workspace,
                username=form.cleaned_data["user"],
                role=form.cleaned_data["role"],
            )
            form = None
        except ValidationError as exc:
            _form_errors(form, exc)
            error = exc
        except Conflict as exc:
            _form_errors(form, exc)
            error = exc
    else:
        error = ValidationError("Check the highlighted fields.")
    return _access_respond(request, workspace, error=error, add_form=form)


@workspace_view(Action.MEMBERS_MANAGE)
@require_POST
def member_update(request: HtmxHttpRequest, workspace, username: str):
    try:
        services.member_update(
            actor=request.user,
            workspace=workspace,
            username=username,
            role=request.POST.get("role", ""),
        )
    except (ValidationError, Conflict) as exc:
        return _access_respond(request, workspace, error=exc)
    return _access_respond(request, workspace)


@workspace_view(Action.MEMBERS_MANAGE)
@require_POST
def member_remove(request: HtmxHttpRequest, workspace, username: str):
    try:
        services.member_remove(actor=request.user, workspace=workspace, username=username)
    except (ValidationError, Conflict) as exc:
        return _access_respond(request, workspace, error=exc)
    return _access_respond(request, workspace)


@workspace_view(Action.MEMBERS_MANAGE)
@require_GET
def member_user_search(request, workspace):
    """Suggestions for the 'add member' field (a datalist of matching user names)."""
    users = selectors.user_search(
        actor=request.user, workspace=workspace, query=request.GET.get("user", "")
    )
    return render(request, "workspaces/_user_options.html", {"users": users})


@login_required
@require_http_methods(["GET", "POST"])
def token_list(request: HtmxHttpRequest):
    form = forms.TokenForm(request.POST or None)
    created = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                token, raw = services.token_create(actor=request.user, **form.cleaned_data)
                created = {"token": token, "raw": raw}
                form = forms.TokenForm()
            except DomainError as exc:
                _form_errors(form, exc)
                status = 422
        else:
            status = 422
    context = {"tokens": selectors.token_list(actor=request.user), "form": form, "created": created}
    return render(request, "workspaces/token_list.html", context, status=status)


@login_required
@require_POST
def token_revoke(request: HtmxHttpRequest, token_id):
    token = selectors.token_get(actor=request.user, token_id=token_id)
    services.token_revoke(actor=request.user, token=token)
    if is_partial(request):
        return HttpResponse("")
    messages.success(request, f"Token '{token.name}' revoked.")
    return redirect(reverse("token-list"))
