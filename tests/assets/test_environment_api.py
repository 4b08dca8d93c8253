"""The environments API: create (image, conda, pip, build context), build and its log."""

from __future__ import annotations

import io
import zipfile

import pytest

from apps.assets.models import EnvironmentVersion, ImageBuild
from studio.celery import app as celery_app
from tests.conftest import api_client_for


@pytest.fixture
def eager_tasks():
    """Celery tasks run where they are sent (the broker is the unit boundary here)."""
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


pytestmark = pytest.mark.django_db

URL = "/api/v1/workspaces/churn/environments/"


def test_a_pip_environment_is_created_and_shown_with_its_image_tag(api, workspace, settings):
    r = api.post(URL, {"name": "tiny", "pip_requirements": "six==1.16.0\n"}, format="json")
    assert r.status_code == 201, r.json()
    body = r.json()
    assert (body["source"], body["image"], body["version"]) == (
        "pip",
        settings.STUDIO_BASE_IMAGE,
        "1",
    )
    assert body["image_tag"] == f"studio-env:{body['spec_hash']}"
    shown = api.get(f"{URL}tiny/versions/1/").json()
    assert shown["pip_requirements"] == "six==1.16.0\n"


def test_a_conda_mapping_with_a_conda_only_package_is_a_400_naming_the_item(api, workspace):
    conda = {"dependencies": ["python=3.11", "cudatoolkit=11.8", {"pip": ["six"]}]}
    r = api.post(URL, {"name": "gpu", "image": "x", "conda_file": conda}, format="json")
    assert r.status_code == 400
    assert "conda_file.dependencies[1]" in r.json()["fields"]
    assert not EnvironmentVersion.objects.exists()


def test_a_conda_file_sent_as_the_environment_is_refused(api, workspace):
    r = api.post(URL, {"name": "x", "dependencies": ["python=3.11"]}, format="json")
    assert r.status_code == 400
    assert "conda file" in r.json()["message"]


def test_an_unknown_field_is_a_400_naming_it(api, workspace):
    r = api.post(URL, {"name": "x", "image": "python", "imagez": 1}, format="json")
    assert r.status_code == 400
    assert "imagez" in r.json()["fields"]


def test_a_build_context_is_given_as_an_uploaded_code_snapshot(api, workspace):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("docker/Dockerfile", "FROM studio-base:bookworm-py311-r2\n")
    snap = api.post(
        "/api/v1/workspaces/churn/code/", buf.getvalue(), content_type="application/zip"
    ).json()
    body = {
        "name": "ctx",
        "build": {"snapshot": snap["id"], "dockerfile_path": "docker/Dockerfile"},
    }
    r = api.post(URL, body, format="json")
    assert r.status_code == 201, r.json()
    assert r.json()["build"] == {"snapshot": snap["id"], "dockerfile_path": "docker/Dockerfile"}
    missing = api.post(URL, {"name": "ctx", "build": {"snapshot": "nope"}}, format="json")
    assert missing.status_code == 400
    assert "build.path" in missing.json()["fields"]


def test_a_reader_may_not_create_or_build(reader, api):
    api.post(URL, {"name": "tiny", "pip_requirements": "six\n"}, format="json")
    client = api_client_for(reader)
    assert client.post(URL, {"name": "x", "image": "python"}, format="json").status_code == 403
    assert client.post(f"{URL}tiny/versions/1/build/", {}, format="json").status_code == 403
    assert client.get(f"{URL}tiny/versions/1/").status_code == 200


def test_an_image_environment_is_not_built(api, workspace):
    api.post(URL, {"name": "img", "image": "python:3.11"}, format="json")
    r = api.post(f"{URL}img/versions/1/build/", {}, format="json")
    assert r.status_code == 400


def test_the_build_log_of_a_version_never_built_is_a_404(api, workspace):
    api.post(URL, {"name": "tiny", "pip_requirements": "six\n"}, format="json")
    assert api.get(f"{URL}tiny/versions/1/build/").status_code == 404


@pytest.mark.django_db(transaction=True)
@pytest.mark.docker
def test_a_build_request_runs_on_a_worker_and_its_log_is_read_after_a_cursor(
    api, workspace, eager_tasks
):
    api.post(URL, {"name": "tiny", "pip_requirements": "six==1.16.0\n"}, format="json")
    r = api.post(f"{URL}tiny/versions/latest/build/", {}, format="json")
    assert r.status_code == 202
    log = api.get(f"{URL}tiny/versions/1/build/").json()
    assert log["id"] == r.json()["id"]
    assert log["status"] == "Succeeded"
    assert [line["seq"] for line in log["lines"]] == list(range(1, log["log_seq"] + 1))
    tail = api.get(f"{URL}tiny/versions/1/build/", {"after": log["log_seq"]}).json()
    assert tail["lines"] == []
    assert ImageBuild.objects.filter(status="Succeeded").count() == 1


def test_the_list_filters_by_kind_of_environment(api, owner, workspace):
    from apps.assets.services import environments as envs

    envs.environment_create(actor=owner, workspace=workspace, name="tiny", image="python:3.11")
    curated = envs.environment_resolve(
        actor=owner, workspace=workspace, value="azureml:AzureML-sklearn-1.5@latest"
    )
    anonymous = envs.environment_resolve(
        actor=owner, workspace=workspace, value={"image": "python:3.11-slim"}
    )

    def names(query=""):
        response = api.get(URL + query)
        assert response.status_code == 200, response.content
        return {row["name"] for row in response.json()["results"]}

    assert names() == {"tiny", curated.name, anonymous.name}
    assert names("?kind=custom") == {"tiny"}
    assert names("?kind=curated") == {curated.name}
    assert names("?kind=anonymous") == {anonymous.name}
    response = api.get(URL + "?kind=inline")
    assert response.status_code == 400 and "kind" in response.content.decode()
