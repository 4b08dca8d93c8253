"""Template helpers. `{% can "job.cancel" workspace as ok %}` hides or greys out what a role
may not do; it is never the enforcement (services are)."""

from __future__ import annotations

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from apps.workspaces import permissions

register = template.Library()


@register.simple_tag(takes_context=True)
def can(context, action: str, workspace=None) -> bool:
    workspace = workspace or context.get("workspace")
    request = context.get("request")
    if workspace is None or request is None:
        return False
    return permissions.can(request.user, action, workspace)


@register.filter
def reltime(value):
    """A time shown relative ("3 minutes ago") with the exact time on hover."""
    if not value:
        return "—"
    exact = timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S %Z")
    delta = timezone.now() - value
    text = "just now" if delta.total_seconds() < 45 else f"{timesince(value).split(',')[0]} ago"
    return format_html('<time datetime="{}" title="{}">{}</time>', value.isoformat(), exact, text)


# A status badge's colour class (static/css/studio.css): jobs' statuses and image builds'.
STATE_CLASS = {
    "Completed": "state-succeeded",
    "Succeeded": "state-succeeded",
    "Running": "state-running",
    "Failed": "state-failed",
    "Canceled": "state-stopped",
    "CancelRequested": "state-stopping",
    "Queued": "state-starting",
    "Preparing": "state-starting",
    "Finalizing": "state-starting",
    "NotStarted": "state-stopped",
}


@register.filter
def state_class(status) -> str:
    """The badge class of a job's or a build's status ("" for an unknown one)."""
    return STATE_CLASS.get(str(status), "")


@register.filter
def seconds(value):
    """A duration in seconds, short: "< 0.1 s", "0.8 s", "42 s", "3 min 5 s", "2 h 4 min"."""
    if value is None:
        return "—"
    value = max(float(value), 0.0)
    if value < 0.05:
        return "< 0.1 s"
    if value < 10:
        return f"{value:.1f} s"
    whole = int(round(value))
    if whole < 60:
        return f"{whole} s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s"
