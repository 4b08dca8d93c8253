"""A name's page offers "+ New version" to those who may create assets: the create form
opens with the name (and the latest version's type) filled in."""

from __future__ import annotations

import pytest

from apps.assets.models import Kind
from apps.assets.services import versions
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def _data(workspace, name, type_="uri_file"):
    return versions.version_create(
        actor=None,
        workspace=workspace,
        kind=Kind.DATA,
        name=name,
        version=None,
        fields={"type": type_, "path": "https://example.org/x.csv"},
    )


def test_a_data_page_links_to_the_create_form_with_the_name_and_latest_type(owner, workspace):
    _data(workspace, "iris", "uri_file")
    _data(workspace, "iris", "uri_folder")
    client = client_for(owner)
    body = client.get("/w/churn/data/iris/versions/1/").content.decode()
    assert 'id="new-version" href="/w/churn/data/-/new/?name=iris&amp;type=uri_folder"' in body
    form = client.get("/w/churn/data/-/new/?name=iris&type=uri_folder").content.decode()
    assert 'name="name" value="iris"' in form
    assert '<option value="uri_folder" selected>' in form


def test_an_unknown_type_in_the_query_is_ignored(owner, workspace):
    form = client_for(owner).get("/w/churn/data/-/new/?name=x&type=bogus").content.decode()
    assert 'name="name" value="x"' in form and '<option value="uri_file" selected>' in form


def test_a_reader_sees_the_action_greyed_out(reader, workspace):
    _data(workspace, "iris")
    body = client_for(reader).get("/w/churn/data/iris/").content.decode()
    assert 'id="new-version"' not in body
    assert 'cannot create data assets">+ New version</button>' in body


def test_models_and_environments_prefill_the_name_too(owner, workspace):
    client = client_for(owner)
    form = client.get("/w/churn/models/-/new/?name=clf&type=mlflow_model").content.decode()
    assert 'name="name" value="clf"' in form and '<option value="mlflow_model" selected>' in form
    form = client.get("/w/churn/environments/-/new/?name=env1").content.decode()
    assert 'name="name" value="env1"' in form
