"""Command components: the interface checks (reusable by pipelines and the Designer), the
command's placeholders, creating a version, and creating from YAML with line numbers."""

from __future__ import annotations

import io
import zipfile

import pytest

from apps.assets.models import Asset, ComponentVersion, EnvironmentVersion
from apps.assets.services import code as code_services
from apps.assets.services import components
from apps.assets.services.environments import environment_create
from studio.errors import PermissionDenied, ValidationError

pytestmark = pytest.mark.django_db

IMAGE = "studio-base:bookworm-py311-r2"


@pytest.fixture
def env(owner, workspace):
    return environment_create(actor=owner, workspace=workspace, name="py", image=IMAGE)


def _spec(**over):
    spec = {
        "name": "train",
        "command": (
            "python train.py --data ${{inputs.data}} --epochs ${{inputs.epochs}}"
            " $[[--lr ${{inputs.lr}}]] --out ${{outputs.model}}"
        ),
        "inputs": {
            "data": {"type": "uri_folder"},
            "epochs": {"type": "integer", "default": 10, "min": 1, "max": 100},
            "lr": {"type": "number", "optional": True, "min": 0.0},
        },
        "outputs": {"model": {"type": "mlflow_model"}},
        "environment": "azureml:py:1",
    }
    spec.update(over)
    return spec


def _zip(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    buf.seek(0)
    return buf


def test_a_command_component_is_created_with_its_interface_environment_and_code(
    owner, workspace, env
):
    snapshot = code_services.snapshot_create(
        actor=owner, workspace=workspace, fileobj=_zip({"train.py": b"print(1)"})
    )
    row = components.component_create(
        actor=owner, workspace=workspace, data=_spec(code=str(snapshot.pk), version=3)
    )
    assert (row.name, row.version, row.type) == ("train", "3", "command")
    assert list(row.inputs) == ["data", "epochs", "lr"]
    assert row.inputs["epochs"] == {
        "type": "integer",
        "default": 10,
        "min": 1,
        "max": 100,
        "optional": False,
    }
    assert row.outputs == {"model": {"type": "mlflow_model"}}
    assert row.environment == env and row.code == snapshot and row.is_deterministic
    assert row.spec["environment"] == "azureml:py:1"


def test_an_inline_environment_and_a_curated_name_resolve(owner, workspace):
    a = components.component_create(
        actor=owner, workspace=workspace, data=_spec(environment={"image": IMAGE})
    )
    assert a.environment.is_anonymous
    b = components.component_create(
        actor=owner,
        workspace=workspace,
        data=_spec(environment="azureml:AzureML-sklearn-1.5@latest"),
    )
    assert b.environment.is_curated and b.version == "2"


def _refused(owner, workspace, data, field, text="", command_line=None):
    envs = EnvironmentVersion.objects.count()
    with pytest.raises(ValidationError) as err:
        components.component_create(
            actor=owner, workspace=workspace, data=data, command_line=command_line
        )
    assert field in err.value.fields, err.value.fields
    assert text in err.value.message, err.value.message
    assert not ComponentVersion.objects.exists()
    assert not Asset.objects.filter(kind="component").exists()
    assert EnvironmentVersion.objects.count() == envs
    return err.value


BAD_INPUTS = [
    ({"x": {"type": "float"}}, "inputs.x.type", "not a type"),
    ({"x": {}}, "inputs.x.type", "is required"),
    ({"x": "integer"}, "inputs.x", "must be a mapping"),
    ({"x": None}, "inputs.x", "must be a mapping"),
    ({"1x": {"type": "string"}}, "inputs.1x", "not a valid name"),
    ({"a-b": {"type": "string"}}, "inputs.a-b", "not a valid name"),
    ({"path": {"type": "string"}}, "inputs.path", "reserved"),
    ({"HOME": {"type": "string"}}, "inputs.HOME", "reserved"),
    ({"x": {"type": "string", "min": 1}}, "inputs.x.min", "only for integer and number"),
    ({"x": {"type": "boolean", "max": 1}}, "inputs.x.max", "integer and number"),
    ({"x": {"type": "integer", "enum": ["a"]}}, "inputs.x.enum", "only for string"),
    ({"x": {"type": "integer", "min": 1.5}}, "inputs.x.min", "must be an integer"),
    ({"x": {"type": "number", "min": "low"}}, "inputs.x.min", "must be a number"),
    ({"x": {"type": "integer", "min": 5, "max": 1}}, "inputs.x.min", "greater than the maximum"),
    ({"x": {"type": "integer", "default": "ten"}}, "inputs.x.default", "must be an integer"),
    ({"x": {"type": "integer", "default": True}}, "inputs.x.default", "must be an integer"),
    ({"x": {"type": "boolean", "default": "yes"}}, "inputs.x.default", "true or false"),
    ({"x": {"type": "string", "default": 3}}, "inputs.x.default", "must be a string"),
    ({"x": {"type": "integer", "default": 0, "min": 1}}, "inputs.x.default", "below the minimum"),
    ({"x": {"type": "number", "default": 2.5, "max": 2}}, "inputs.x.default", "above the maximum"),
    ({"x": {"type": "string", "enum": ["a", "b"], "default": "c"}}, "inputs.x.default", "choices"),
    ({"x": {"type": "string", "enum": []}}, "inputs.x.enum", "non-empty list"),
    ({"x": {"type": "string", "enum": ["a", "a"]}}, "inputs.x.enum", "twice"),
    ({"x": {"type": "uri_file", "default": "./a.csv"}}, "inputs.x.default", "no default path"),
    ({"x": {"type": "uri_folder", "path": "azureml:d:1"}}, "inputs.x.path", "no default path"),
    ({"x": {"type": "uri_folder", "mode": "rw_mount"}}, "inputs.x.mode", "not a mode"),
    ({"x": {"type": "string", "optional": "no"}}, "inputs.x.optional", "true or false"),
    ({"x": {"type": "string", "colour": "red"}}, "inputs.x.colour", "allowed"),
    ({"x": {"type": "string", "description": 3}}, "inputs.x.description", "must be a string"),
]


@pytest.mark.parametrize("inputs,field,text", BAD_INPUTS)
def test_a_bad_input_declaration_names_its_field_and_creates_nothing(
    owner, workspace, env, inputs, field, text
):
    _refused(owner, workspace, _spec(inputs=inputs, command="echo hi"), field, text)


@pytest.mark.parametrize(
    "outputs,field,text",
    [
        ({"m": {"type": "integer"}}, "outputs.m.type", "not a type"),
        ({"m": {}}, "outputs.m.type", "is required"),
        ({"m": {"type": "uri_folder", "mode": "ro_mount"}}, "outputs.m.mode", "not a mode"),
        ({"shell": {"type": "uri_folder"}}, "outputs.shell", "reserved"),
        ({"m": {"type": "uri_folder", "default": 1}}, "outputs.m.default", "allowed"),
        (["m"], "outputs", "must be a mapping"),
    ],
)
def test_a_bad_output_declaration_names_its_field_and_creates_nothing(
    owner, workspace, env, outputs, field, text
):
    _refused(owner, workspace, _spec(outputs=outputs, command="echo hi"), field, text)


@pytest.mark.parametrize(
    "command,text",
    [
        ("python t.py ${{inputs.nope}}", "not declared"),
        ("python t.py ${{outputs.nope}}", "not declared"),
        ("python t.py --lr ${{inputs.lr}} ${{inputs.data}} ${{outputs.model}}", "optional"),
        ("python t.py $[[--lr ${{inputs.lr}}", "not closed"),
        ("python t.py ${{search_space.lr}}", "only"),
        ("python t.py ${{inputs data}}", "not a placeholder"),
        ("python t.py \\\n  --x 1", "continues a line"),
        ("", "is required"),
        (None, "is required"),
    ],
)
def test_a_bad_command_names_the_command_and_creates_nothing(owner, workspace, env, command, text):
    _refused(owner, workspace, _spec(command=command), "command", text)


def test_a_placeholder_error_names_the_files_line_when_the_command_line_is_given(
    owner, workspace, env
):
    command = "python train.py\n  --data ${{inputs.data}}\n  --x ${{inputs.nope}}\n"
    error = _refused(owner, workspace, _spec(command=command), "command", "(line 14)", 12)
    assert "${{inputs.nope}}" in error.message


@pytest.mark.parametrize(
    "over,field,text",
    [
        ({"environment_variables": {"A": "1"}}, "environment_variables", "not allowed"),
        ({"type": "sweep"}, "type", "one of command, pipeline"),
        ({"type": "pipeline"}, "command", "not a field of a pipeline component"),
        ({"is_deterministic": "yes"}, "is_deterministic", "true or false"),
        ({"environment": None}, "environment", "is required"),
        ({"environment": "azureml:missing:1"}, "environment", ""),
        ({"environment": {"image": IMAGE, "colour": 1}}, "environment.colour", ""),
        ({"code": "0b5e9c1e-0000-4000-8000-000000000000"}, "code", "not a code snapshot"),
        ({"code": "git+https://example.org/r.git"}, "code", "not supported"),
        ({"name": "bad name!"}, "name", "not a valid name"),
        ({"name": None}, "name", "is required"),
        ({"version": "1 0"}, "version", "not a valid version"),
        ({"resources": "big"}, "resources", "must be a mapping"),
        ({"additional_includes": "../lib"}, "additional_includes", "list of paths"),
    ],
)
def test_bad_top_level_fields_name_their_field_and_create_nothing(
    owner, workspace, env, over, field, text
):
    _refused(owner, workspace, _spec(**over), field, text)


def test_a_reader_cannot_create_a_component(reader, workspace, env):
    with pytest.raises(PermissionDenied):
        components.component_create(actor=reader, workspace=workspace, data=_spec())


# bind_inputs: values given for a component's inputs (pipelines, the Designer) -------------

DECLS = components.clean_inputs(
    {
        "data": {"type": "uri_folder"},
        "epochs": {"type": "integer", "default": 10, "min": 1, "max": 100},
        "lr": {"type": "number", "optional": True, "max": 1},
        "kernel": {"type": "string", "enum": ["rbf", "linear"], "default": "rbf"},
        "shrink": {"type": "boolean", "optional": True},
    }
)


def test_bind_inputs_fills_defaults_reads_text_as_the_type_and_leaves_out_unset_optionals():
    bound = components.bind_inputs(
        DECLS, {"data": "azureml:iris:1", "epochs": "20", "shrink": "false"}, "jobs.t.inputs"
    )
    assert bound == {"data": "azureml:iris:1", "epochs": 20, "kernel": "rbf", "shrink": False}


@pytest.mark.parametrize(
    "values,field,text",
    [
        ({}, "jobs.t.inputs.data", "is required"),
        ({"data": "d", "nope": 1}, "jobs.t.inputs.nope", "not an input"),
        ({"data": "d", "epochs": 0}, "jobs.t.inputs.epochs", "below the minimum"),
        ({"data": "d", "epochs": "many"}, "jobs.t.inputs.epochs", "must be an integer"),
        ({"data": "d", "lr": 2.0}, "jobs.t.inputs.lr", "above the maximum"),
        ({"data": "d", "kernel": "poly"}, "jobs.t.inputs.kernel", "choices"),
        ({"data": "d", "shrink": "maybe"}, "jobs.t.inputs.shrink", "true or false"),
        ({"data": 3}, "jobs.t.inputs.data", "path or a reference"),
        ({"data": {"type": "uri_file", "path": "x"}}, "jobs.t.inputs.data.type", "uri_folder"),
    ],
)
def test_bind_inputs_refuses_bad_values_naming_the_field(values, field, text):
    with pytest.raises(ValidationError) as err:
        components.bind_inputs(DECLS, values, "jobs.t.inputs")
    assert field in err.value.fields and text in err.value.message


# From YAML text (the studio's paste form) ---------------------------------------------------

YAML = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
name: train
type: command
inputs:
  data:
    type: uri_folder
  epochs:
    type: integer
    default: 10
outputs:
  model:
    type: uri_folder
command: >-
  python train.py
  --data ${{inputs.data}}
  --epochs ${{inputs.epochs}}
  --out ${{outputs.model}}
environment: azureml:py:1
"""


def test_yaml_text_creates_a_component(owner, workspace, env):
    row = components.component_create_from_yaml(actor=owner, workspace=workspace, text=YAML)
    assert row.command.startswith("python train.py --data ${{inputs.data}}")
    assert row.inputs["epochs"]["default"] == 10


def test_yaml_errors_name_the_line_of_the_field(owner, workspace, env):
    text = YAML.replace("    default: 10", "    default: ten")
    with pytest.raises(ValidationError) as err:
        components.component_create_from_yaml(actor=owner, workspace=workspace, text=text)
    assert err.value.message.startswith("component.yml:9: inputs.epochs.default:")
    assert not ComponentVersion.objects.exists()


def test_a_literal_block_command_error_names_the_files_line(owner, workspace, env):
    text = YAML.replace("command: >-", "command: |").replace("inputs.epochs}}", "inputs.epoch}}")
    with pytest.raises(ValidationError) as err:
        components.component_create_from_yaml(actor=owner, workspace=workspace, text=text)
    assert err.value.message.startswith("component.yml:16: command:"), err.value.message


def test_yaml_that_does_not_parse_names_its_line(owner, workspace):
    with pytest.raises(ValidationError) as err:
        components.component_create_from_yaml(
            actor=owner, workspace=workspace, text="name: x\ninputs: [\n"
        )
    assert "yaml" in err.value.fields and "component.yml:" in err.value.message


def test_a_local_code_path_in_pasted_yaml_asks_for_the_zip(owner, workspace, env):
    with pytest.raises(ValidationError) as err:
        components.component_create_from_yaml(
            actor=owner, workspace=workspace, text=YAML + "code: ./src\n"
        )
    assert "code" in err.value.fields and err.value.message.startswith("component.yml:19: code:")
