"""HTML input validation only; the services decide everything else."""

from __future__ import annotations

from django import forms

from .models import Role


def parse_tags(text: str) -> dict[str, str]:
    """`key=value` pairs, one a line or comma-separated."""
    tags: dict[str, str] = {}
    for raw in text.replace(",", "\n").splitlines():
        item = raw.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not key.strip():
            raise forms.ValidationError(f"'{item}' is not key=value.")
        tags[key.strip()] = value.strip() if sep else ""
    return tags


def format_tags(tags: dict) -> str:
    return "\n".join(f"{k}={v}" for k, v in (tags or {}).items())


class WorkspaceForm(forms.Form):
    name = forms.CharField(max_length=33, help_text="3–33 letters, digits, '-' or '_'. Permanent.")
    display_name = forms.CharField(label="Friendly name", max_length=200, required=False)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    tags = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, help_text="key=value, one a line"
    )

    def clean_tags(self):
        return parse_tags(self.cleaned_data["tags"])


class WorkspaceSettingsForm(WorkspaceForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["name"]


class MemberAddForm(forms.Form):
    user = forms.CharField(max_length=150, label="User name")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.READER)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100)
    expires_in_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=3650,
        label="Expires in (days)",
        help_text="Leave empty for a token that does not expire.",
    )


class DeleteConfirmForm(forms.Form):
    confirm = forms.CharField(label="Type the workspace name to confirm")
