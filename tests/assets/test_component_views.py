"""The component pages: create by pasting or uploading YAML (with a code zip), and the
interface panel of a version's page."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.assets.models import CodeSnapshot, ComponentVersion
from apps.assets.services.environments import environment_create
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

NEW = "/w/churn/components/-/new/"
YAML = """\
name: train
display_name: Train it
inputs:
  data:
    type: uri_folder
    description: the training set
  kernel:
    type: string
    enum: [rbf, linear]
    default: rbf
  lr:
    type: number
    optional: true
    min: 0
    max: 1
outputs:
  model:
    type: mlflow_model
environment: azureml:py:1
command: >-
  python train.py --data ${{inputs.data}} --kernel ${{inputs.kernel}}
  $[[--lr ${{inputs.lr}}]] --out ${{outputs.model}}
"""


@pytest.fixture
def env(owner, workspace):
    return environment_create(
        actor=owner, workspace=workspace, name="py", image="studio-base:bookworm-py311-r2"
    )


def _zip(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_the_create_page_shows_the_form_and_an_example(owner, workspace):
    response = client_for(owner).get(NEW)
    assert response.status_code == 200
    assert b'name="yaml"' in response.content and b"commandComponent" in response.content


def test_pasted_yaml_with_a_code_zip_creates_the_component_and_its_page_shows_the_interface(
    owner, workspace, env
):
    zipped = SimpleUploadedFile("code.zip", _zip({"train.py": b"print(1)", "u/x.py": b"x"}))
    response = client_for(owner).post(NEW, {"yaml": YAML + "code: ./src\n", "code_zip": zipped})
    assert response.status_code == 302, response.content[:2000]
    row = ComponentVersion.objects.get(name="train")
    assert row.code.file_count == 2
    page = client_for(owner).get(response["Location"]).content.decode()
    assert 'data-input="kernel"' in page and "linear" in page and "the training set" in page
    assert '<mark class="ph ph-in">${{inputs.data}}</mark>' in page
    assert '<mark class="ph ph-out">${{outputs.model}}</mark>' in page
    assert "u/x.py" in page and "azureml:py:1" in page
    assert 'data-output="model"' in page


def test_an_uploaded_yaml_file_works_too(owner, workspace, env):
    upload = SimpleUploadedFile("train.yml", YAML.encode())
    response = client_for(owner).post(NEW, {"yaml_file": upload})
    assert response.status_code == 302
    assert ComponentVersion.objects.filter(name="train").exists()


def test_a_bad_yaml_is_shown_again_with_its_line_and_stores_no_code(owner, workspace, env):
    zipped = SimpleUploadedFile("code.zip", _zip({"train.py": b"print(1)"}))
    text = YAML.replace("default: rbf", "default: poly")
    response = client_for(owner).post(
        NEW, {"yaml": text, "code_zip": zipped}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 422
    body = response.content.decode()
    assert "<html" not in body
    assert "component.yml:10: inputs.kernel.default" in body
    assert not ComponentVersion.objects.exists() and not CodeSnapshot.objects.exists()


def test_a_broken_zip_is_named_under_the_zip(owner, workspace, env):
    zipped = SimpleUploadedFile("code.zip", b"not a zip")
    response = client_for(owner).post(NEW, {"yaml": YAML, "code_zip": zipped})
    assert response.status_code == 422
    assert "is not a zip archive" in response.content.decode()
    assert not ComponentVersion.objects.exists()


def test_a_reader_may_not_open_the_create_page(reader, workspace):
    assert client_for(reader).get(NEW).status_code == 403
