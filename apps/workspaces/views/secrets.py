"""Manage > Secrets: the workspace vault's page, and its HTMX set and delete actions.

The value field is a password input that is never rendered back: after a save, or a
refused save, the form comes back with the value empty. Roles are checked by the services
and selectors; `workspace_view` answers 404 to non-members and 403 to a role without the
action.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_POST

from studio.errors import Conflict, ValidationError
from studio.htmx import HtmxHttpRequest, is_partial, vary_on_htmx

from ..permissions import Action
from ..selectors import secrets as secret_selectors
from ..services import secrets as secret_services
from .workspaces import _form_errors, workspace_view

PAGE = "workspaces/secret_list.html"
AUDIT_ROWS = 50


class SecretSetForm(forms.Form):
    """HTML input of the set form. Kept beside its views: the vault's only form."""

    name = forms.CharField(
        max_length=127,
        help_text="Letters, digits, '-' or '_'. An existing name gets its value replaced.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    value = forms.CharField(
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only: encrypted at rest and never shown again.",
    )
    description = forms.CharField(max_length=500, required=False)


def _context(request, workspace, *, form=None, open_form=False, saved="", error=None) -> dict:
    return {
        "secrets": secret_selectors.secret_list(actor=request.user, workspace=workspace),
        "audit": secret_selectors.secret_audit_list(actor=request.user, workspace=workspace)[
            :AUDIT_ROWS
        ],
        "form": form or SecretSetForm(),
        "open_form": open_form or bool(form and form.errors),
        "saved": saved,
        "error": error,
    }


def _respond(request, workspace, *, status=200, **context):
    template = f"{PAGE}#vault" if is_partial(request) else PAGE
    response = render(request, template, _context(request, workspace, **context), status=status)
    return vary_on_htmx(response)


@workspace_view(Action.SECRET_VIEW)
@require_GET
def secret_list(request: HtmxHttpRequest, workspace):
    """The page; `?name=X` opens the set form for X (the rows' "Replace value")."""
    name = request.GET.get("name", "").strip()
    form = None
    if name:
        # The description is filled in too: the form sets it along with the value.
        current = secret_selectors.secret_list(actor=request.user, workspace=workspace)
        description = current.filter(name=name).values_list("description", flat=True).first()
        form = SecretSetForm(initial={"name": name, "description": description or ""})
    return _respond(request, workspace, form=form, open_form=bool(name))


@sensitive_post_parameters("value")
@workspace_view(Action.SECRET_MANAGE)
@require_POST
def secret_set(request: HtmxHttpRequest, workspace):
    form = SecretSetForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            secret = secret_services.secret_set(
                actor=request.user,
                workspace=workspace,
                name=data["name"],
                value=data["value"],
                description=data["description"],
            )
        except (ValidationError, Conflict) as exc:
            _form_errors(form, exc)
        else:
            if not is_partial(request):
                messages.success(request, f"Secret '{secret.name}' saved.")
                return redirect("workspaces:secret-list", name=workspace.name)
            return _respond(request, workspace, saved=secret.name)
    # The value input is a PasswordInput(render_value=False): the form comes back without it.
    return _respond(request, workspace, status=422, form=form)


@workspace_view(Action.SECRET_MANAGE)
@require_POST
def secret_delete(request: HtmxHttpRequest, workspace, secret_name: str):
    secret_services.secret_delete(actor=request.user, workspace=workspace, name=secret_name)
    if is_partial(request):
        return _respond(request, workspace)
    messages.success(request, f"Secret '{secret_name}' deleted.")
    return redirect("workspaces:secret-list", name=workspace.name)
