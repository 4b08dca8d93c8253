"""Author > Jobs > New: a form or pasted YAML; a code zip is uploaded only when the job is
valid; errors are shown next to their field with 422."""

from __future__ import annotations

import io

import pytest

from apps.assets.models import CodeSnapshot
from apps.jobs.models import Job
from tests.conftest import client_for
from tests.jobs.test_submit_fixtures import *  # noqa: F403 (fixtures)
from tests.jobs.test_submit_fixtures import zip_bytes

pytestmark = pytest.mark.django_db

NEW = "/w/churn/jobs/-/new/"


def test_the_form_submits_a_job_with_an_uploaded_code_zip(owner, workspace, environment, enqueued):
    upload = io.BytesIO(zip_bytes({"train.py": b"print(1)\n"}))
    upload.name = "code.zip"
    data = {
        "command": "python train.py --n ${{inputs.n}}",
        "environment": "azureml:sklearn@latest",
        "inputs": "n: 3",
        "experiment_name": "from-the-page",
        "code_zip": upload,
    }
    response = client_for(owner).post(NEW, data)
    assert response.status_code == 302, response.content[:500]
    job = Job.objects.get()
    assert response["Location"] == f"/w/churn/jobs/{job.name}/"
    assert job.code.file_count == 1 and job.experiment.name == "from-the-page"
    assert job.spec["inputs"]["n"] == {"kind": "literal", "value": "3"}


def test_pasted_yaml_with_an_error_is_shown_with_422_and_the_zip_is_not_kept(
    owner, workspace, environment, enqueued
):
    upload = io.BytesIO(zip_bytes({"train.py": b"print(1)\n"}))
    upload.name = "code.zip"
    text = "command: python train.py ${{inputs.nope}}\nenvironment: azureml:sklearn:1\n"
    response = client_for(owner).post(NEW, {"yaml": text, "code_zip": upload})
    assert response.status_code == 422
    assert "inputs.nope" in response.content.decode()
    assert not Job.objects.exists() and not CodeSnapshot.objects.exists()


def test_the_page_offers_the_environments_and_computes(owner, workspace, environment):
    page = client_for(owner).get(NEW).content.decode()
    assert "azureml:sklearn@latest" in page and "serverless" in page
