"""`studio environment create` and `build`, against a live studio."""

from __future__ import annotations

import json

import pytest

from apps.assets.models import EnvironmentVersion
from tests.cli.conftest import error_line


@pytest.fixture
def sent_builds(monkeypatch):
    """The build tasks handed to the broker (the unit boundary here): the test runs the
    worker's side itself. (Under `pytest -n 2`, a task sent from a request served by the
    live server's thread was seen not to run eagerly, and the test waited forever.)"""
    from apps.assets import tasks

    sent: list[str] = []
    monkeypatch.setattr(tasks.build_environment, "delay", sent.append)
    return sent


pytestmark = pytest.mark.django_db(transaction=True)

CONDA = "dependencies:\n  - python=3.11\n  - pip\n  - pip:\n      - six\n"


def test_create_reads_the_conda_file_next_to_the_yaml(studio, owner, workspace, tmp_path):
    (tmp_path / "conda.yml").write_text(
        "dependencies:\n  - python=3.11\n  - pip\n  - pip:\n      - six\n"
    )
    (tmp_path / "env.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/environment.schema.json\n"
        "name: condaenv\n"
        "image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest\n"
        "conda_file: conda.yml\n"
    )
    result = studio(
        "environment", "create", "-w", "churn", "-f", str(tmp_path / "env.yml"), user=owner
    )
    assert result.exit_code == 0, result.output
    row = EnvironmentVersion.objects.get(name="condaenv")
    assert row.source == "conda" and "six" in row.conda_file


def test_a_conda_only_package_is_reported_at_its_line_in_the_conda_file(
    studio, owner, workspace, tmp_path
):
    (tmp_path / "conda.yml").write_text("dependencies:\n  - python=3.11\n  - cudatoolkit=11.8\n")
    (tmp_path / "env.yml").write_text("name: gpu\nimage: x\nconda_file: conda.yml\n")
    result = studio(
        "environment", "create", "-w", "churn", "-f", str(tmp_path / "env.yml"), user=owner
    )
    assert result.exit_code != 0
    line = error_line(result)
    assert "conda.yml:3" in line and "cudatoolkit" in line
    assert not EnvironmentVersion.objects.exists()


def test_a_conda_file_given_as_the_environment_is_refused(studio, owner, workspace, tmp_path):
    (tmp_path / "conda.yml").write_text(
        "name: x\nchannels:\n  - conda-forge\ndependencies:\n  - six\n"
    )
    result = studio(
        "environment", "create", "-w", "churn", "-f", str(tmp_path / "conda.yml"), user=owner
    )
    assert result.exit_code != 0
    assert "conda file" in error_line(result)


def test_a_missing_requirements_file_names_its_line(studio, owner, workspace, tmp_path):
    (tmp_path / "env.yml").write_text("name: p\n\npip_requirements: nope.txt\n")
    result = studio(
        "environment", "create", "-w", "churn", "-f", str(tmp_path / "env.yml"), user=owner
    )
    assert result.exit_code != 0
    assert "env.yml:3" in error_line(result)


@pytest.mark.docker
def test_a_build_context_is_uploaded_built_and_its_log_followed(
    studio, owner, workspace, tmp_path, sent_builds
):
    ctx = tmp_path / "docker"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM studio-base:bookworm-py311-r2\nCOPY hello.txt /hello.txt\n"
    )
    (ctx / "hello.txt").write_text("hello\n")
    (ctx / "junk.log").write_text("x")
    (ctx / ".amlignore").write_text("*.log\n")
    result = studio(
        "environment", "create", "-w", "churn", "-n", "ctx", "--build-context", str(ctx), user=owner
    )
    assert result.exit_code == 0, result.output
    row = EnvironmentVersion.objects.get(name="ctx")
    assert sorted(f["path"] for f in row.build_context.manifest) == ["Dockerfile", "hello.txt"]
    queued = studio(
        "environment", "build", "-w", "churn", "-n", "ctx", "--force", "--no-wait",
        "-o", "json", user=owner,
    )  # fmt: skip
    assert queued.exit_code == 0, queued.output
    build_id = json.loads(queued.stdout)["id"]
    # the worker's side, run here (the broker is the unit boundary)
    from apps.assets.models import ImageBuild
    from apps.assets.services.environments import build_claim_and_run

    build_claim_and_run(build_id)
    build = ImageBuild.objects.get(pk=build_id)
    assert build.status == ImageBuild.Status.SUCCEEDED, build.error
    texts = list(build.log_lines.order_by("seq").values_list("text", flat=True))
    assert any("Step 2/" in t for t in texts), texts


def test_list_filters_by_kind_of_environment(studio, owner, workspace):
    from apps.assets.services import environments as envs

    envs.environment_create(actor=owner, workspace=workspace, name="tiny", image="python:3.11")
    curated = envs.environment_resolve(
        actor=owner, workspace=workspace, value="azureml:AzureML-sklearn-1.5@latest"
    )

    def names(*args):
        result = studio("environment", "list", "-w", "churn", "-o", "json", *args, user=owner)
        assert result.exit_code == 0, result.output
        return {row["name"] for row in json.loads(result.stdout)}

    assert names() == {"tiny", curated.name}
    assert names("--kind", "custom") == {"tiny"}
    assert names("--kind", "curated") == {curated.name}
    assert names("--kind", "anonymous") == set()
    result = studio("environment", "list", "-w", "churn", "--kind", "inline", user=owner)
    assert result.exit_code == 2 and "inline" in result.output


def test_build_timeout_stops_following_and_says_where_the_build_stands(
    studio, owner, workspace, sent_builds, live_server
):
    from django.urls import reverse

    from apps.assets.models import ImageBuild
    from apps.assets.services import environments as envs

    envs.environment_create(
        actor=owner, workspace=workspace, name="slow", image="python:3.11", conda_file=CONDA
    )
    # no worker takes the build (the broker is stubbed): it stays Queued
    result = studio(
        "environment", "build", "-w", "churn", "-n", "slow", "--timeout", "0.5", user=owner
    )
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    build = ImageBuild.objects.get()
    assert build.status == ImageBuild.Status.QUEUED and sent_builds == [str(build.pk)]
    err = result.stderr
    assert f"Build {build.pk}" in err and "Queued" in err
    page = reverse("assets:version-detail", args=["churn", "environments", "slow", "1"])
    assert f"page: {live_server.url}{page}" in err  # the version's page, its build section
    assert "/api/v1/workspaces/churn/environments/slow/versions/1/build/" in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: stopped following the build after 0.5 s")
    assert "goes on on the worker" in last


def test_build_timeout_and_no_follow_are_checked(studio, owner, workspace, sent_builds):
    from apps.assets.services import environments as envs

    envs.environment_create(
        actor=owner, workspace=workspace, name="slow", image="python:3.11", conda_file=CONDA
    )
    result = studio(
        "environment", "build", "-w", "churn", "-n", "slow", "--timeout", "0", user=owner
    )
    assert result.exit_code == 2 and "--timeout" in result.output
    both = studio(
        "environment", "build", "-w", "churn", "-n", "slow", "--no-follow", "--timeout", "5",
        user=owner,
    )  # fmt: skip
    assert both.exit_code == 2 and "not both" in error_line(both)
    queued = studio(
        "environment", "build", "-w", "churn", "-n", "slow", "--no-follow", "-o", "json",
        user=owner,
    )  # fmt: skip
    assert queued.exit_code == 0, queued.output
    assert json.loads(queued.stdout)["status"] == "Queued"
