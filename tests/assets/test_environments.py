"""Environments: creating (image, conda file, pip requirements, build context), spec hashes,
resolving references, curated names and inline environments."""

from __future__ import annotations

import io
import zipfile

import pytest

from apps.assets import curated
from apps.assets.models import EnvironmentVersion
from apps.assets.services import code
from apps.assets.services import environments as envs
from studio.errors import PermissionDenied, ValidationError
from tests.conftest import api_client_for, client_for

pytestmark = pytest.mark.django_db

CONDA = """\
name: project_environment
channels:
  - conda-forge
dependencies:
  - python=3.10
  - pip=21.2.4
  - numpy=1.26.4
  - pip:
      - six
      - mlflow-skinny==3.1.0
"""


def _zip(files: dict[str, str]) -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    buf.seek(0)
    return buf


def test_a_pip_environment_is_created_on_the_base_image_with_a_hash_of_its_spec(
    owner, workspace, settings
):
    row = envs.environment_create(
        actor=owner, workspace=workspace, name="tiny", pip_requirements="six\n"
    )
    assert (row.source, row.image, row.version) == ("pip", settings.STUDIO_BASE_IMAGE, "1")
    assert len(row.spec_hash) == 64


def test_the_same_packages_in_another_order_and_spacing_give_the_same_hash(owner, workspace):
    a = envs.environment_create(
        actor=owner, workspace=workspace, name="a", pip_requirements="six\nattrs  >=23\n"
    )
    b = envs.environment_create(
        actor=owner,
        workspace=workspace,
        name="b",
        pip_requirements="# deps\nattrs >=23\n\n   six   \n",
    )
    c = envs.environment_create(
        actor=owner, workspace=workspace, name="c", pip_requirements="six\nattrs>=24\n"
    )
    assert a.spec_hash == b.spec_hash != c.spec_hash


def test_a_conda_file_becomes_pip_requirements_with_its_python_version(owner, workspace):
    row = envs.environment_create(
        actor=owner,
        workspace=workspace,
        name="conda",
        image="mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest",
        conda_file=CONDA,
    )
    assert row.source == "conda"
    _, python, packages = envs.parse_conda(row.conda_file)
    assert python == "3.10"
    assert packages == ["mlflow-skinny==3.1.0", "numpy==1.26.4", "six"]
    spec = envs.spec_of({"source": "conda", "image": row.image, "conda_file": row.conda_file})
    assert spec["image"] == curated.effective_base_image("")  # Azure base -> studio base


def test_a_conda_only_package_is_refused_naming_the_field(owner, workspace):
    with pytest.raises(ValidationError) as info:
        envs.environment_create(
            actor=owner,
            workspace=workspace,
            name="gpu",
            image="x",
            conda_file={"dependencies": ["python=3.11", "cudatoolkit=11.8"]},
        )
    assert "conda_file.dependencies[1]" in info.value.fields
    assert "conda" in info.value.message
    assert not EnvironmentVersion.objects.exists()


def test_python_2_in_a_conda_file_is_refused(owner, workspace):
    with pytest.raises(ValidationError) as info:
        envs.environment_create(
            actor=owner,
            workspace=workspace,
            name="old",
            conda_file={"dependencies": ["python=2.7"]},
        )
    assert "conda_file.dependencies[0]" in info.value.fields


def test_a_conda_file_given_as_the_environment_yaml_is_refused_as_the_sdk_does():
    with pytest.raises(ValidationError) as info:
        envs.refuse_conda_as_spec({"name": "x", "channels": ["conda-forge"], "dependencies": []})
    assert "conda file" in info.value.message


def test_requirements_that_need_other_files_are_refused_with_the_line(owner, workspace):
    with pytest.raises(ValidationError) as info:
        envs.environment_create(
            actor=owner, workspace=workspace, name="r", pip_requirements="six\n-r base.txt\n"
        )
    assert "line 2" in info.value.fields["pip_requirements"][0]


def test_an_environment_needs_an_image_or_a_build_context(owner, workspace):
    with pytest.raises(ValidationError) as info:
        envs.environment_create(actor=owner, workspace=workspace, name="empty")
    assert "image" in info.value.fields


def test_a_build_context_hash_covers_the_dockerfile_and_the_files(owner, workspace):
    files = {"Dockerfile": "FROM studio-base:bookworm-py311-r2\nCOPY a.txt /a.txt\n", "a.txt": "1"}
    snap = code.snapshot_create(actor=owner, workspace=workspace, fileobj=_zip(files))
    row = envs.environment_create(actor=owner, workspace=workspace, name="ctx", build_context=snap)
    assert (row.source, row.dockerfile_path) == ("docker", "Dockerfile")
    snap2 = code.snapshot_create(
        actor=owner, workspace=workspace, fileobj=_zip({**files, "a.txt": "2"})
    )
    row2 = envs.environment_create(
        actor=owner, workspace=workspace, name="ctx", build_context=snap2
    )
    assert row.spec_hash != row2.spec_hash


def test_a_build_context_without_its_dockerfile_names_the_field(owner, workspace):
    snap = code.snapshot_create(actor=owner, workspace=workspace, fileobj=_zip({"a.txt": "1"}))
    with pytest.raises(ValidationError) as info:
        envs.environment_create(actor=owner, workspace=workspace, name="ctx", build_context=snap)
    assert "build.dockerfile_path" in info.value.fields


def test_a_reader_cannot_create_an_environment(reader, workspace):
    with pytest.raises(PermissionDenied):
        envs.environment_create(actor=reader, workspace=workspace, name="x", image="python")


# --- resolving -----------------------------------------------------------------------------


def test_a_reference_resolves_by_version_and_by_latest(owner, workspace):
    envs.environment_create(actor=owner, workspace=workspace, name="py", image="python:3.11")
    v2 = envs.environment_create(actor=owner, workspace=workspace, name="py", image="python:3.12")
    got = envs.environment_resolve(actor=owner, workspace=workspace, value="azureml:py:1")
    assert got.image == "python:3.11"
    assert envs.environment_resolve(actor=owner, workspace=workspace, value="py@latest") == v2


def test_an_unknown_reference_names_the_field(owner, workspace):
    with pytest.raises(ValidationError) as info:
        envs.environment_resolve(
            actor=owner, workspace=workspace, value="azureml:nope:1", field="jobs.train.environment"
        )
    assert "jobs.train.environment" in info.value.fields


@pytest.mark.parametrize(
    "value",
    [
        "azureml:AzureML-sklearn-1.5@latest",
        "azureml:AzureML-sklearn-1.5:23",
        "AzureML-sklearn-1.0-ubuntu20.04-py38-cpu:33",
        "azureml://registries/azureml/environments/sklearn-1.5/versions/23",
        "azureml://registries/azureml/environments/sklearn-1.5/labels/latest",
        "azureml://registries/azureml/environments/sklearn-1.0",
    ],
)
def test_azure_curated_names_resolve_to_the_curated_sklearn_environment(owner, workspace, value):
    row = envs.environment_resolve(actor=owner, workspace=workspace, value=value)
    assert (row.name, row.version, row.is_curated) == (
        curated.SKLEARN.name,
        curated.SKLEARN.version,
        True,
    )
    assert "scikit-learn" in row.pip_requirements


def test_a_curated_environment_is_created_once_per_workspace(reader, workspace):
    a = envs.environment_resolve(actor=reader, workspace=workspace, value="AzureML-python-3.11")
    b = envs.environment_resolve(
        actor=reader,
        workspace=workspace,
        value="azureml://registries/azureml/environments/minimal-py311-inference/versions/1",
    )
    assert a == b and a.is_curated and a.source == "image"
    assert EnvironmentVersion.objects.filter(is_curated=True).count() == 1


def test_an_azure_curated_name_without_a_counterpart_is_refused_with_the_list(owner, workspace):
    with pytest.raises(ValidationError) as info:
        envs.environment_resolve(
            actor=owner,
            workspace=workspace,
            value="azureml://registries/azureml/environments/acpt-pytorch-2.2-cuda12.1/versions/1",
        )
    assert curated.SKLEARN.name in info.value.fields["environment"][0]


def test_another_registry_is_refused(owner, workspace):
    with pytest.raises(ValidationError) as info:
        envs.environment_resolve(
            actor=owner,
            workspace=workspace,
            value="azureml://registries/contoso/environments/x/versions/1",
        )
    assert "contoso" in info.value.message


def test_an_inline_environment_is_one_anonymous_version_per_spec(owner, workspace):
    value = {"image": "x", "conda_file": {"dependencies": ["python=3.11", {"pip": ["six"]}]}}
    a = envs.environment_resolve(actor=owner, workspace=workspace, value=value)
    b = envs.environment_resolve(
        actor=owner,
        workspace=workspace,
        value={**value, "name": "ignored", "version": "9"},
    )
    assert a == b
    assert (a.name, a.version, a.is_anonymous) == (envs.ANONYMOUS_NAME, a.spec_hash, True)


def test_an_inline_environment_with_an_unknown_key_names_it(owner, workspace):
    with pytest.raises(ValidationError) as info:
        envs.environment_resolve(
            actor=owner,
            workspace=workspace,
            value={"image": "x", "imagee": "y"},
            field="jobs.a.environment",
        )
    assert "jobs.a.environment.imagee" in info.value.fields


def test_an_outsider_cannot_resolve(outsider, workspace):
    from studio.errors import NotFound

    with pytest.raises(NotFound):
        envs.environment_resolve(actor=outsider, workspace=workspace, value="AzureML-python-3.11")


def test_an_inline_conda_file_left_as_a_file_name_says_so(owner, workspace):
    with pytest.raises(ValidationError) as info:
        envs.environment_resolve(
            actor=owner,
            workspace=workspace,
            value={"image": "x", "conda_file": "conda.yml"},
            field="environment",
        )
    assert "file name" in info.value.fields["environment.conda_file"][0]


@pytest.mark.parametrize("name", ["AzureML-sklearn-1.5", "azureml-mine", "Microsoft-env"])
def test_names_reserved_for_curated_environments_are_refused_naming_the_field(
    owner, workspace, name
):
    with pytest.raises(ValidationError) as info:
        envs.environment_create(
            actor=owner, workspace=workspace, name=name, pip_requirements="six\n"
        )
    assert "reserved for curated environments" in info.value.fields["name"][0]
    assert not EnvironmentVersion.objects.exists()
    answer = api_client_for(owner).post(
        "/api/v1/workspaces/churn/environments/",
        {"name": name, "pip_requirements": "six\n"},
        format="json",
    )
    assert answer.status_code == 400 and "name" in answer.json()["fields"]


def test_a_curated_environment_is_kept_as_it_is(owner, workspace):
    from apps.assets.services import versions

    row = envs.environment_resolve(
        actor=owner, workspace=workspace, value="azureml:AzureML-sklearn-1.5@latest"
    )
    with pytest.raises(ValidationError, match="curated"):
        versions.version_update(actor=owner, row=row, description="mine now")
    with pytest.raises(ValidationError, match="curated"):
        versions.version_set_archived(actor=owner, row=row, archived=True)
    with pytest.raises(ValidationError, match="curated"):
        versions.asset_set_archived(actor=owner, asset=row.asset, archived=True)
    row.refresh_from_db()
    assert not row.archived and "mine now" not in row.description
    page = (
        client_for(owner)
        .get(f"/w/churn/environments/{row.name}/versions/{row.version}/")
        .content.decode()
    )
    assert 'id="curated-note"' in page and 'id="new-version"' not in page
    assert "Edit description and tags" not in page
