"""The management commands `make run` and admins use."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from apps.workspaces import services

pytestmark = pytest.mark.django_db


def test_bootstrap_admin_prints_a_generated_password_once(monkeypatch):
    monkeypatch.delenv("STUDIO_ADMIN_PASSWORD", raising=False)
    monkeypatch.delenv("STUDIO_ADMIN_PASSWORD_FILE", raising=False)
    monkeypatch.setenv("STUDIO_ADMIN_USER", "root-admin")
    first, second = io.StringIO(), io.StringIO()
    call_command("bootstrap_admin", stdout=first)
    call_command("bootstrap_admin", stdout=second)
    password = first.getvalue().split("password: ")[1].split()[0]
    admin = get_user_model().objects.get(username="root-admin")
    assert admin.is_superuser and admin.check_password(password)
    assert "password" not in second.getvalue().lower() or "exists" in second.getvalue()


def test_bootstrap_admin_takes_the_password_from_a_file(monkeypatch, tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("from-a-docker-secret\n")
    monkeypatch.delenv("STUDIO_ADMIN_PASSWORD", raising=False)
    monkeypatch.setenv("STUDIO_ADMIN_PASSWORD_FILE", str(secret))
    out = io.StringIO()
    call_command("bootstrap_admin", stdout=out)
    assert get_user_model().objects.get(username="admin").check_password("from-a-docker-secret")
    assert "from-a-docker-secret" not in out.getvalue()


def test_create_api_token_prints_a_token_that_authenticates(owner):
    out = io.StringIO()
    call_command("create_api_token", "alice", stdout=out)
    assert services.token_authenticate(raw=out.getvalue().strip()) == owner


def test_create_api_token_names_an_unknown_user():
    with pytest.raises(CommandError, match="No active user named 'ghost'"):
        call_command("create_api_token", "ghost")
