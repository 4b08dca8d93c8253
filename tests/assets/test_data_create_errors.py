"""The data create form names each missing field at the field: the name, the files of an
upload, the path of a datastore or URL source; nothing is created."""

from __future__ import annotations

import pytest

from apps.assets.models import Asset
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

URL = "/w/churn/data/-/new/"


def test_an_empty_upload_names_the_name_and_the_files(owner, workspace):
    response = client_for(owner).post(
        URL, {"source": "upload", "type": "uri_file"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 422
    form = response.context["form"]
    assert form.errors["name"] == ["This field is required."]
    assert form.errors["upload"] == ["Choose a file or a folder to upload."]
    body = response.content.decode()
    assert 'id="upload-error">Choose a file or a folder to upload.' in body
    assert not Asset.objects.exists()


def test_a_datastore_source_without_a_path_names_the_path(owner, workspace):
    response = client_for(owner).post(
        URL, {"name": "iris", "source": "datastore", "type": "uri_file"}
    )
    assert response.status_code == 422
    assert response.context["form"].errors == {"path": ["Give a datastore path."]}
    assert not Asset.objects.exists()
