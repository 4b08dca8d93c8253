"""The CLI without a studio: errors as one line, help, settings files, output formats."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from studio.cli import config, output
from tests.cli.conftest import error_line, invoke


def test_the_cli_imports_neither_django_nor_the_apps():
    code = (
        "import sys, studio.cli.main, studio.cli.client, studio.cli.yamlio;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('django', 'rest_framework', 'apps')];"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert out.stdout.strip() == "[]"


def test_help_lists_the_commands(tmp_path):
    result = invoke(["--help"], home=tmp_path)

    assert result.exit_code == 0
    for command in ("login", "logout", "configure", "workspace"):
        assert command in result.stdout


def test_a_group_without_a_command_prints_its_help(tmp_path):
    result = invoke(["workspace", "member"], home=tmp_path)

    assert result.exit_code == 0
    assert "add" in result.stdout and "remove" in result.stdout


def test_a_usage_error_is_one_line_with_exit_code_2(tmp_path):
    result = invoke(["workspace", "create", "--bogus"], home=tmp_path)

    assert result.exit_code == 2
    assert "No such option '--bogus'" in error_line(result)


def test_an_unreachable_studio_is_reported_in_one_line(tmp_path):
    env = {"STUDIO_URL": "http://127.0.0.1:9", "STUDIO_TOKEN": "stu_x"}

    result = invoke(["workspace", "list"], home=tmp_path, env=env)

    assert result.exit_code == 1
    assert error_line(result).startswith("error: cannot reach the studio at http://127.0.0.1:9: ")


def test_an_unexpected_failure_is_one_line_not_a_traceback(tmp_path, monkeypatch):
    from studio.cli.client import Client

    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(Client, "request", explode)
    env = {"STUDIO_URL": "http://127.0.0.1:9", "STUDIO_TOKEN": "stu_x"}

    result = invoke(["workspace", "list"], home=tmp_path, env=env)

    assert result.exit_code == 1
    assert error_line(result) == "error: unexpected RuntimeError: boom (STUDIO_DEBUG=1 shows where)"


def test_commands_need_a_login_first(tmp_path):
    result = invoke(["workspace", "list"], home=tmp_path)

    assert result.exit_code == 1
    assert "not logged in" in error_line(result)


def test_login_refuses_a_url_that_is_not_http(tmp_path):
    result = invoke(["login", "--url", "127.0.0.1:8000", "--token", "stu_x"], home=tmp_path)

    assert result.exit_code == 2
    assert "http://host:port" in error_line(result)


def test_config_is_saved_with_mode_0600_even_over_a_readable_file(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("STUDIO_CONFIG", raising=False)
    path = tmp_path / ".studio" / "config.json"
    path.parent.mkdir()
    path.write_text("{}")
    os.chmod(path, 0o644)

    assert config.save({"url": "http://s", "token": "stu_secret"}) == path

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert config.load() == {"url": "http://s", "token": "stu_secret"}


def test_settings_come_from_the_option_then_the_environment_then_the_file(monkeypatch):
    saved = {"url": "http://file"}
    monkeypatch.delenv("STUDIO_URL", raising=False)
    assert config.resolve("url", None, saved) == "http://file"

    monkeypatch.setenv("STUDIO_URL", "http://env")
    assert config.resolve("url", None, saved) == "http://env"
    assert config.resolve("url", "http://option", saved) == "http://option"


def test_a_broken_config_file_is_reported_clearly(tmp_path):
    broken = tmp_path / "config.json"
    broken.write_text("{not json")

    result = invoke(["workspace", "list"], home=tmp_path, env={"STUDIO_CONFIG": str(broken)})

    assert result.exit_code == 1
    assert "not valid JSON" in error_line(result)


ROWS = [
    {
        "name": "churn",
        "role": "Owner",
        "tags": {"team": "ml"},
        "created_at": "2026-01-02T03:04:05.6Z",
    },
    {"name": "fraud-detection", "role": "Reader", "tags": {}, "created_at": None},
]


def test_table_output_aligns_columns_under_a_rule():
    text = output.render(
        ROWS, "table", columns=[("Name", "name"), ("Tags", "tags"), ("Created", "created_at")]
    )

    assert text.splitlines() == [
        "Name             Tags     Created",
        "---------------  -------  ----------------",
        "churn            team=ml  2026-01-02 03:04",
        "fraud-detection",
    ]


def test_json_output_is_the_data_unchanged_and_tsv_has_plain_values_only():
    assert json.loads(output.render(ROWS, "json")) == ROWS
    assert output.render(ROWS[0], "tsv") == "churn\tOwner\t2026-01-02T03:04:05.6Z"
    assert output.render(ROWS, "none") == ""


@pytest.mark.parametrize("fmt", ["table", "yaml", "json", "tsv"])
def test_an_empty_list_renders_without_error(fmt):
    assert output.render([], fmt) in ("", "[]")
