"""POST /api/v1/workspaces/<ws>/components/: JSON fields or YAML text; show the interface."""

from __future__ import annotations

import pytest

from apps.assets.models import ComponentVersion
from apps.assets.services.environments import environment_create
from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db

URL = "/api/v1/workspaces/churn/components/"
BODY = {
    "name": "train",
    "command": "python train.py --epochs ${{inputs.epochs}} --out ${{outputs.model}}",
    "inputs": {"epochs": {"type": "integer", "default": 10, "min": 1}},
    "outputs": {"model": {"type": "uri_folder"}},
    "environment": "azureml:py:1",
}


@pytest.fixture
def env(owner, workspace):
    return environment_create(
        actor=owner, workspace=workspace, name="py", image="studio-base:bookworm-py311-r2"
    )


def test_create_answers_the_component_and_show_reads_its_interface(api, env):
    response = api.post(URL, BODY, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["inputs"]["epochs"]["min"] == 1
    shown = api.get(f"{URL}train/versions/1/").json()
    assert shown["environment"] == "azureml:py:1"
    assert shown["command"] == BODY["command"] and shown["is_deterministic"] is True
    assert shown["outputs"] == {"model": {"type": "uri_folder"}}


def test_a_command_error_names_the_files_line_from_command_line(api, env):
    body = {**BODY, "command": "python t.py\n--x ${{inputs.nope}}", "command_line": 7}
    response = api.post(URL, body, format="json")
    assert response.status_code == 400
    assert "(line 8)" in response.json()["fields"]["command"][0]
    assert not ComponentVersion.objects.exists()


def test_yaml_text_is_parsed_on_the_server_and_errors_name_its_lines(api, env):
    text = (
        "name: train\ncommand: echo ${{inputs.n}}\ninputs:\n  n:\n    type: integer\n"
        "    max: many\nenvironment: azureml:py:1\n"
    )
    response = api.post(URL, {"yaml": text}, format="json")
    assert response.status_code == 400
    assert response.json()["message"].startswith("component.yml:6: inputs.n.max:")
    ok = api.post(URL, {"yaml": text.replace("many", "5")}, format="json")
    assert ok.status_code == 201, ok.content


@pytest.mark.parametrize(
    "body,field",
    [
        ({**BODY, "command_line": 0}, "command_line"),
        ({**BODY, "environment_variables": {"A": "1"}}, "environment_variables"),
        (
            {**BODY, "inputs": {"epochs": {"type": "integer", "default": 0, "min": 1}}},
            "inputs.epochs.default",
        ),
        ({"yaml": ""}, "yaml"),
    ],
)
def test_bad_bodies_are_a_400_naming_the_field(api, env, body, field):
    response = api.post(URL, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not ComponentVersion.objects.exists()


def test_a_reader_cannot_create(reader, env):
    assert api_client_for(reader).post(URL, BODY, format="json").status_code == 403


def test_a_dry_run_checks_everything_and_stores_nothing(api, env):
    from apps.assets.models import Asset

    response = api.post(f"{URL}?dry_run=true", BODY, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["inputs"]["epochs"]["default"] == 10
    assert not ComponentVersion.objects.exists()
    assert not Asset.objects.filter(kind="component").exists()
    api.post(URL, BODY | {"version": "1"}, format="json")
    again = api.post(f"{URL}?dry_run=true", BODY | {"version": "1"}, format="json")
    assert again.status_code == 409 and "version" in again.json()["fields"]
