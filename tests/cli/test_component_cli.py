"""`studio component create` and the code upload it shares with jobs, against a live studio."""

from __future__ import annotations

import pytest

from apps.assets.models import CodeSnapshot
from studio.cli.code import upload_code
from studio.cli.common import State
from studio.cli.errors import CliError, UsageFault

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def state(live_server, token_of, owner, workspace, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("STUDIO_URL", "STUDIO_TOKEN", "STUDIO_WORKSPACE", "STUDIO_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return State(workspace="churn", url=live_server.url, token=token_of(owner))


def test_upload_code_zips_the_folder_without_ignored_files_and_uploads_it(state, tmp_path):
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "train.py").write_text("print('train')\n")
    (src / "pkg" / "util.py").write_text("X = 1\n")
    (src / "big.csv").write_text("a,b\n")
    (src / ".amlignore").write_text("*.csv\n")
    snapshot = upload_code(state, src)
    assert snapshot["file_count"] == 2
    row = CodeSnapshot.objects.get(id=snapshot["id"])
    assert [f["path"] for f in row.manifest] == ["pkg/util.py", "train.py"]
    assert upload_code(state, src)["id"] == snapshot["id"]


def test_upload_code_refuses_a_missing_folder_and_one_over_the_limit(state, tmp_path, monkeypatch):
    with pytest.raises(UsageFault, match="does not exist"):
        upload_code(state, tmp_path / "nope")
    (tmp_path / "big").mkdir()
    (tmp_path / "big" / "data.bin").write_bytes(b"x" * (2 * 2**20))
    monkeypatch.setenv("STUDIO_CODE_MAX_MB", "1")
    with pytest.raises(UsageFault, match="larger than 1 MiB"):
        upload_code(state, tmp_path / "big")
    assert not CodeSnapshot.objects.exists()


def test_upload_code_reports_the_studios_refusal(state, tmp_path, settings, monkeypatch):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("x" * 100)
    settings.STUDIO_CODE_MAX_BYTES = 10
    with pytest.raises(CliError, match="limit"):
        upload_code(state, tmp_path / "src")


# studio component create ---------------------------------------------------------------------

COMPONENT = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
name: train_model
display_name: Train
version: 1
type: command
inputs:
  training_data:
    type: uri_folder
  max_epochs:
    type: integer
    default: 10
    min: 1
  learning_rate:
    type: number
    optional: true
outputs:
  model_output:
    type: mlflow_model
code: ./src
environment: azureml:py:1
command: >-
  python train.py
  --training_data ${{inputs.training_data}}
  --max_epochs ${{inputs.max_epochs}}
  $[[--learning_rate ${{inputs.learning_rate}}]]
  --model_output ${{outputs.model_output}}
"""


@pytest.fixture
def env(owner, workspace):
    from apps.assets.services.environments import environment_create

    return environment_create(
        actor=owner, workspace=workspace, name="py", image="studio-base:bookworm-py311-r2"
    )


@pytest.fixture
def project(tmp_path):
    folder = tmp_path / "project"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "train.py").write_text("print('train')\n")
    (folder / "lib").mkdir()
    (folder / "lib" / "helpers.py").write_text("H = 1\n")
    (folder / "comp.yml").write_text(COMPONENT)
    return folder


def test_create_uploads_the_code_relative_to_the_yaml_and_shows_the_interface(
    studio, owner, env, project
):
    from apps.assets.models import ComponentVersion

    result = studio(
        "component",
        "create",
        "-w",
        "churn",
        "-f",
        str(project / "comp.yml"),
        "-o",
        "json",
        "--set",
        "version=2",
        user=owner,
    )
    assert result.exit_code == 0, result.output
    row = ComponentVersion.objects.get(name="train_model")
    assert row.version == "2" and row.display_name == "Train"
    assert [f["path"] for f in row.code.manifest] == ["train.py"]
    assert row.inputs["learning_rate"]["optional"] is True
    shown = studio(
        "component", "show", "-w", "churn", "-n", "train_model", "-o", "json", user=owner
    )
    assert '"max_epochs"' in shown.output and "mlflow_model" in shown.output


def test_additional_includes_are_copied_into_the_snapshot(studio, owner, env, project):
    from apps.assets.models import ComponentVersion

    text = COMPONENT + "additional_includes:\n  - ./lib\n"
    (project / "comp.yml").write_text(text)
    result = studio(
        "component", "create", "-w", "churn", "-f", str(project / "comp.yml"), user=owner
    )
    assert result.exit_code == 0, result.output
    row = ComponentVersion.objects.get(name="train_model")
    assert [f["path"] for f in row.code.manifest] == ["lib/helpers.py", "train.py"]


@pytest.mark.parametrize(
    "old,new,where",
    [
        ("    default: 10", "    default: 0", "comp.yml:11: inputs.max_epochs.default"),
        ("    type: mlflow_model", "    type: model", "comp.yml:18: outputs.model_output.type"),
        (
            "  --max_epochs ${{inputs.max_epochs}}",
            "  --max_epochs ${{inputs.epochs}}",
            "comp.yml:22: command",
        ),
        ("code: ./src", "code: ./nope", "comp.yml:19: code"),
        ("environment: azureml:py:1", "environment: azureml:nope:1", "comp.yml:20: environment"),
        ("name: train_model", "name: train model", "comp.yml:2: name"),
    ],
)
def test_errors_name_the_yaml_line_and_nothing_is_created_or_uploaded(
    studio, owner, env, project, old, new, where
):
    from apps.assets.models import CodeSnapshot, ComponentVersion
    from tests.cli.conftest import error_line

    (project / "comp.yml").write_text(COMPONENT.replace(old, new))
    result = studio(
        "component", "create", "-w", "churn", "-f", str(project / "comp.yml"), user=owner
    )
    assert result.exit_code == 2, result.output
    assert where in error_line(result)
    assert not ComponentVersion.objects.exists() and not CodeSnapshot.objects.exists()


def test_a_literal_block_command_error_names_the_placeholders_own_line(studio, owner, env, project):
    from tests.cli.conftest import error_line

    text = COMPONENT.replace("command: >-", "command: |").replace(
        "${{outputs.model_output}}", "${{outputs.model}}"
    )
    (project / "comp.yml").write_text(text)
    result = studio(
        "component", "create", "-w", "churn", "-f", str(project / "comp.yml"), user=owner
    )
    assert "comp.yml:26: command: ${{outputs.model}}" in error_line(result)


def test_a_set_override_is_named_when_it_is_wrong(studio, owner, env, project):
    from tests.cli.conftest import error_line

    result = studio(
        "component",
        "create",
        "-w",
        "churn",
        "-f",
        str(project / "comp.yml"),
        "--set",
        "inputs.max_epochs.min=high",
        user=owner,
    )
    assert "--set inputs.max_epochs.min=high: inputs.max_epochs.min" in error_line(result)


def test_an_inline_environment_reads_its_conda_file_next_to_the_yaml_and_unknown_fields_warn(
    studio, owner, workspace, project
):
    from apps.assets.models import ComponentVersion

    (project / "conda.yml").write_text(
        "name: train\ndependencies:\n  - python=3.11\n  - pip:\n    - tqdm\n"
    )
    text = COMPONENT.replace(
        "environment: azureml:py:1",
        "environment:\n  image: studio-base:bookworm-py311-r2\n  conda_file: ./conda.yml\n"
        "services:\n  x: 1",
    )
    (project / "comp.yml").write_text(text)
    result = studio(
        "component", "create", "-w", "churn", "-f", str(project / "comp.yml"), user=owner
    )
    assert result.exit_code == 0, result.output
    assert "ignoring fields a component does not have: services" in result.stderr
    env = ComponentVersion.objects.get(name="train_model").environment
    assert env.is_anonymous and "tqdm" in env.conda_file
