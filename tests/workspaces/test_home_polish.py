"""The workspace home links each datastore to its page and keeps the terminal commands in a
box that wraps them."""

from __future__ import annotations

import pytest

from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_datastore_names_link_to_their_pages(owner, workspace):
    body = client_for(owner).get("/w/churn/").content.decode()
    ds = workspace.datastores.get(is_default=True)
    assert f'<a href="/w/churn/datastores/{ds.name}/">{ds.name}</a>' in body
    assert '<pre class="terminal">studio login --url' in body
