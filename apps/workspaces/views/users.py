"""HTML pages of user management (staff only): the list, creation, and one account's page
with its actions (deactivate/reactivate, staff flag, email and full name, password reset)
and its history (the latest changes, newest first).

The selectors and services decide who may (permissions.require_staff: anyone but staff
gets 404); these views parse, call them and render. A generated password is rendered into
the response that created it and is never stored in the clear, so it cannot be shown again.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from studio.errors import Conflict, DomainError, PermissionDenied, ValidationError
from studio.htmx import HtmxHttpRequest, is_partial, vary_on_htmx

from ..selectors import users as selectors
from ..services import users as services
from .workspaces import _form_errors

PAGE_SIZE = 50
HISTORY_SIZE = 50  # the latest changes on the page; the API and CLI page through them all


class UserCreateForm(forms.Form):
    username = forms.CharField(
        max_length=150,
        label="User name",
        help_text="Letters, digits and @ . + - _ only. Used to sign in.",
    )
    full_name = forms.CharField(max_length=150, required=False, label="Full name")
    email = forms.EmailField(required=False)
    generate_password = forms.BooleanField(
        required=False,
        initial=True,
        label="Generate a password",
        help_text="Shown once, after creation, for you to pass on.",
    )
    password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Only when not generated.",
    )
    is_staff = forms.BooleanField(
        required=False, label="Staff", help_text="Staff manage user accounts."
    )


class UserProfileForm(forms.Form):
    full_name = forms.CharField(max_length=150, required=False, label="Full name")
    email = forms.EmailField(required=False)


FLAG_VALUES = {"true": True, "false": False}


@login_required
@require_GET
def user_list(request: HtmxHttpRequest):
    search = request.GET.get("q", "").strip()
    qs = selectors.user_list(actor=request.user, search=search)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "users": page.object_list, "q": search}
    template = "workspaces/user_list.html"
    if is_partial(request):
        template += "#results"
    return vary_on_htmx(render(request, template, context))


@login_required
@require_http_methods(["GET", "POST"])
def user_create(request: HtmxHttpRequest):
    selectors.user_list(actor=request.user)  # 404 for non-staff, before any form
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        if data["password"]:  # typing a password overrides the (pre-ticked) generate box
            data["generate_password"] = False
        try:
            user, generated = services.user_create(actor=request.user, **data)
        except (ValidationError, Conflict) as exc:
            _form_errors(form, exc)
        else:
            if generated is None:
                messages.success(request, f"User '{user.username}' created.")
                return redirect("workspaces:user-detail", username=user.username)
            context = _detail_context(request, user.username, password=generated)
            context["created"] = True
            return render(request, "workspaces/user_detail.html", context, status=201)
    status = 422 if request.method == "POST" else 200
    return render(request, "workspaces/user_create.html", {"form": form}, status=status)


def _detail_context(request, username: str, **extra) -> dict:
    account = selectors.user_get(actor=request.user, username=username)
    profile_form = extra.pop("profile_form", None) or UserProfileForm(
        initial={"full_name": account.full_name, "email": account.email}
    )
    return {
        "account": account,
        "memberships": selectors.user_memberships(actor=request.user, user=account),
        "history": selectors.user_audit_list(actor=request.user, user=account)[:HISTORY_SIZE],
        "profile_form": profile_form,
        "is_self": account.pk == request.user.pk,
        **extra,
    }


def _respond(request, username: str, *, status: int = 200, **extra):
    """The account's page after an action: the #account fragment for HTMX (errors with 422,
    which htmx swaps), else the whole page (errors with their own status: 409, 403...)."""
    context = _detail_context(request, username, **extra)
    if is_partial(request):
        status = 422 if status >= 400 else status
        template = "workspaces/user_detail.html#account"
    else:
        template = "workspaces/user_detail.html"
    return vary_on_htmx(render(request, template, context, status=status))


@login_required
@require_GET
def user_detail(request: HtmxHttpRequest, username: str):
    return _respond(request, username)


def _changes(request, profile_form) -> dict:
    """The fields a POST carries: the flags as 'true'/'false', and the profile form."""
    changes: dict = {}
    for flag in ("is_active", "is_staff"):
        if flag in request.POST:
            value = request.POST[flag].strip().lower()
            if value not in FLAG_VALUES:
                raise ValidationError.for_field(flag, "Must be true or false.")
            changes[flag] = FLAG_VALUES[value]
    if "email" in request.POST or "full_name" in request.POST:
        if not profile_form.is_valid():
            fields = {name: list(errors) for name, errors in profile_form.errors.items()}
            raise ValidationError("Check the highlighted fields.", fields=fields)
        changes.update(profile_form.cleaned_data)
    return changes


@login_required
@require_POST
def user_update(request: HtmxHttpRequest, username: str):
    account = selectors.user_get(actor=request.user, username=username)
    profile_form = UserProfileForm(request.POST)
    try:
        changes = _changes(request, profile_form)
        if not changes:
            raise ValidationError(
                "Nothing to change: send is_active, is_staff, email or full_name."
            )
        services.user_update(actor=request.user, username=account.username, **changes)
    except (ValidationError, Conflict, PermissionDenied) as exc:
        if "email" not in request.POST and "full_name" not in request.POST:
            profile_form = None  # a flag's button: the profile form shows the saved values
        elif profile_form.is_valid():  # the service refused it: its errors go on the fields
            _form_errors(profile_form, exc)
        return _respond(
            request, username, status=exc.status_code, error=exc, profile_form=profile_form
        )
    if is_partial(request):
        return _respond(request, username, notice="Saved.")
    messages.success(request, f"User '{account.username}' saved.")
    return redirect("workspaces:user-detail", username=account.username)


@login_required
@require_POST
def user_password_reset(request: HtmxHttpRequest, username: str):
    try:
        user, password = services.user_password_reset(actor=request.user, username=username)
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        return _respond(request, username, status=exc.status_code, error=exc)
    if user.pk == request.user.pk:
        update_session_auth_hash(request, user)  # stay signed in after resetting your own
    return _respond(request, username, password=password)
