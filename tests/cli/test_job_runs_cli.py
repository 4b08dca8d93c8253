"""`studio job list | show | stream | download | archive | restore` against a live studio."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import error_line
from tests.matrix.jobs_runs import make_run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def run(workspace):
    return make_run(
        workspace,
        name="brave-run",
        metrics={"loss": [3.0, 2.0, 1.0]},
        params={"lr": "0.1"},
        logs=["epoch 1", "epoch 2", "done"],
        files={"outputs/model.txt": b"weights", "outputs/sub/x.csv": b"a,b\n1,2\n"},
    )


def test_list_shows_the_job_with_its_status(studio, owner, run):
    result = studio("job", "list", "-w", "churn", user=owner)
    assert result.exit_code == 0, result.output
    assert "brave-run" in result.output and "Completed" in result.output


def test_show_prints_params_and_latest_metrics(studio, owner, run):
    result = studio("job", "show", "-w", "churn", "-n", "brave-run", "-o", "json", user=owner)
    assert result.exit_code == 0, result.output
    assert '"lr": "0.1"' in result.output
    assert '"loss": 1.0' in result.output


def test_stream_prints_every_line_once_and_ends(studio, owner, run):
    result = studio("job", "stream", "-w", "churn", "-n", "brave-run", user=owner)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["epoch 1", "epoch 2", "done"]


def test_download_writes_artifacts_and_std_log(studio, owner, run, tmp_path):
    dest = tmp_path / "dl"
    result = studio(
        "job",
        "download",
        "-w",
        "churn",
        "-n",
        "brave-run",
        "--download-path",
        str(dest),
        user=owner,
    )
    assert result.exit_code == 0, result.output
    assert (dest / "artifacts/outputs/model.txt").read_bytes() == b"weights"
    assert (dest / "artifacts/outputs/sub/x.csv").read_text() == "a,b\n1,2\n"
    assert (dest / "artifacts/user_logs/std_log.txt").read_text() == "epoch 1\nepoch 2\ndone\n"


def test_download_of_an_unknown_output_name_is_refused(studio, owner, run, tmp_path):
    result = studio(
        "job",
        "download",
        "-w",
        "churn",
        "-n",
        "brave-run",
        "--output-name",
        "model",
        "--download-path",
        str(tmp_path),
        user=owner,
    )
    assert result.exit_code != 0
    assert "no output named 'model'" in result.stderr


def test_archive_hides_the_job_and_restore_brings_it_back(studio, owner, run):
    assert studio("job", "archive", "-w", "churn", "-n", "brave-run", user=owner).exit_code == 0
    assert "brave-run" not in studio("job", "list", "-w", "churn", user=owner).output
    assert studio("job", "restore", "-w", "churn", "-n", "brave-run", user=owner).exit_code == 0
    assert "brave-run" in studio("job", "list", "-w", "churn", user=owner).output


def test_a_reader_cannot_archive(studio, reader, run):
    result = studio("job", "archive", "-w", "churn", "-n", "brave-run", user=reader)
    assert result.exit_code != 0
    assert "error:" in result.stderr


def test_stream_waits_for_a_studio_that_stops_answering_and_goes_on_from_its_cursor(
    studio, owner, run, monkeypatch
):
    import requests

    from studio.cli import job_runs

    monkeypatch.setattr(job_runs, "POLL_SECONDS", 0.01)
    real = requests.Session.request
    refused = {"left": 3}

    def flaky(self, method, url, **kwargs):  # the studio restarting: refused, then back
        if "/logs/" in url and refused["left"]:
            refused["left"] -= 1
            raise requests.ConnectionError("[Errno 111] Connection refused")
        return real(self, method, url, **kwargs)

    monkeypatch.setattr(requests.Session, "request", flaky)
    result = studio("job", "stream", "-w", "churn", "-n", "brave-run", user=owner)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["epoch 1", "epoch 2", "done"]
    assert "trying again for up to 120 s" in result.stderr
    assert "answers again" in result.stderr

    monkeypatch.setattr(job_runs, "RECONNECT_SECONDS", 0)
    refused["left"] = 99
    result = studio("job", "stream", "-w", "churn", "-n", "brave-run", user=owner)
    assert result.exit_code == 1 and "cannot reach the studio" in result.stderr


def test_list_order_by_is_passed_to_the_studio(studio, owner, workspace):
    for name in ("b-run", "c-run", "a-run"):
        make_run(workspace, name=name)

    def names(*args):
        result = studio("job", "list", "-w", "churn", "-o", "json", *args, user=owner)
        assert result.exit_code == 0, result.output
        return [row["name"] for row in json.loads(result.stdout)]

    assert names("--order-by", "name") == ["a-run", "b-run", "c-run"]
    assert names("--order-by", "-name") == ["c-run", "b-run", "a-run"]
    assert names() == ["a-run", "c-run", "b-run"]  # default: newest first


def test_an_unknown_order_by_is_the_studios_one_line_error(studio, owner, workspace):
    result = studio("job", "list", "-w", "churn", "--order-by", "size", user=owner)
    assert result.exit_code == 2
    line = error_line(result)
    assert "order_by" in line and "'size'" in line
