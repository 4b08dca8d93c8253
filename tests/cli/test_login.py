"""`studio login` / `logout` / `configure`, and how the CLI finds its studio and token."""

from __future__ import annotations

import json
import stat

import pytest

from tests.cli.conftest import error_line, invoke

pytestmark = pytest.mark.django_db(transaction=True)


def test_login_checks_the_token_and_saves_it_readable_only_by_its_owner(
    live_server, tmp_path, owner, token_of
):
    token = token_of(owner)

    result = invoke(["login", "--url", live_server.url + "/", "--token", token], home=tmp_path)

    assert result.exit_code == 0, result.output
    assert "as alice" in result.stdout
    path = tmp_path / ".studio" / "config.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"url": live_server.url, "token": token}


def test_login_lets_later_commands_run_without_url_or_token(
    live_server, tmp_path, workspace, token_of
):
    invoke(
        ["login", "--url", live_server.url, "--token", token_of(workspace.created_by)],
        home=tmp_path,
    )

    result = invoke(["workspace", "list", "-o", "json"], home=tmp_path)

    assert result.exit_code == 0, result.output
    assert [w["name"] for w in json.loads(result.stdout)] == ["churn"]


def test_login_with_a_bad_token_fails_in_one_line_and_saves_nothing(live_server, tmp_path):
    result = invoke(
        ["login", "--url", live_server.url, "--token", "stu_not-a-token"], home=tmp_path
    )

    assert result.exit_code == 1
    assert "refused the token" in error_line(result)
    assert not (tmp_path / ".studio").exists()


def test_login_writes_the_file_named_by_studio_config(live_server, tmp_path, owner, token_of):
    target = tmp_path / "elsewhere" / "studio.json"

    result = invoke(
        ["login", "--url", live_server.url, "--token", token_of(owner)],
        home=tmp_path,
        env={"STUDIO_CONFIG": str(target)},
    )

    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert not (tmp_path / ".studio").exists()


def test_environment_overrides_the_saved_token_and_options_override_the_environment(
    live_server, tmp_path, owner, outsider, token_of
):
    invoke(["login", "--url", live_server.url, "--token", token_of(owner)], home=tmp_path)
    as_eve = {"STUDIO_TOKEN": token_of(outsider)}

    from_env = invoke(["workspace", "list", "-o", "json"], home=tmp_path, env=as_eve)
    from_option = invoke(
        ["workspace", "list", "-o", "json", "--token", token_of(owner)], home=tmp_path, env=as_eve
    )

    assert [w["name"] for w in json.loads(from_env.stdout)] == ["eves-space"]
    assert [w["name"] for w in json.loads(from_option.stdout)] == ["churn"]


def test_logout_forgets_the_token_and_later_commands_say_how_to_log_in(
    live_server, tmp_path, owner, token_of
):
    invoke(["login", "--url", live_server.url, "--token", token_of(owner)], home=tmp_path)

    assert invoke(["logout"], home=tmp_path).exit_code == 0
    result = invoke(["workspace", "list"], home=tmp_path)

    saved = json.loads((tmp_path / ".studio" / "config.json").read_text())
    assert "token" not in saved and saved["url"] == live_server.url
    assert result.exit_code == 1
    assert "studio login" in error_line(result)


def test_configure_saves_the_default_workspace_used_by_later_commands(studio, workspace):
    studio("configure", "--defaults", "workspace=churn")

    result = studio("workspace", "show", "-o", "json", user=workspace.created_by)

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["name"] == "churn"


def test_a_revoked_token_is_refused_with_a_hint_to_log_in_again(studio, owner):
    from apps.workspaces.models import ApiToken

    studio("workspace", "list", user=owner)
    ApiToken.objects.filter(user=owner).update(revoked_at="2000-01-01T00:00:00Z")

    result = studio("workspace", "list", user=owner)

    assert result.exit_code == 1
    assert "studio login" in error_line(result)
