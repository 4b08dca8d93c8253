"""The pages every asset kind shares: list (search, sort, archived), a version's page with
its tabs, edit of description and tags, archive and restore; and list cost that does not
grow with the number of versions."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.assets.models import Asset, DataVersion, Kind
from apps.assets.services import versions
from tests.conftest import api_client_for, client_for

pytestmark = pytest.mark.django_db


def _data(workspace, name, version=None, **kw):
    return versions.version_create(
        actor=None,
        workspace=workspace,
        kind=Kind.DATA,
        name=name,
        version=version,
        fields={"type": "uri_file", "path": "https://example.org/x.csv"},
        **kw,
    )


def test_the_list_shows_each_name_once_with_its_latest_version(owner, workspace):
    for _ in range(3):
        _data(workspace, "iris")
    _data(workspace, "wine", description="red and white")
    page = client_for(owner).get("/w/churn/data/").content.decode()
    assert page.count('data-asset="iris"') == 1 and 'data-asset="wine"' in page
    assert "/w/churn/data/iris/versions/3/" in page


def test_search_filters_by_name_or_description_as_a_fragment(owner, workspace):
    _data(workspace, "iris")
    _data(workspace, "wine", description="red and white")
    response = client_for(owner).get("/w/churn/data/?q=red", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert 'data-asset="wine"' in body and 'data-asset="iris"' not in body
    assert "<html" not in body and "HX-Request" in response["Vary"]


def test_archived_names_are_hidden_until_asked_for(owner, workspace):
    _data(workspace, "iris")
    client = client_for(owner)
    client.post("/w/churn/data/-/archive/", {"names": ["iris"]})
    assert 'data-asset="iris"' not in client.get("/w/churn/data/").content.decode()
    assert 'data-asset="iris"' in client.get("/w/churn/data/?archived=1").content.decode()


def test_a_name_opens_on_its_latest_version_with_the_version_switcher(owner, workspace):
    _data(workspace, "iris")
    _data(workspace, "iris", description="second")
    body = client_for(owner).get("/w/churn/data/iris/").content.decode()
    assert "version 2" in body and "second" in body and "(latest)" in body


def test_the_versions_and_lineage_tabs_render_as_fragments(owner, workspace):
    _data(workspace, "iris")
    client = client_for(owner)
    versions_tab = client.get("/w/churn/data/iris/versions/1/?tab=versions", HTTP_HX_REQUEST="true")
    assert 'data-version="1"' in versions_tab.content.decode()
    lineage = client.get("/w/churn/data/iris/versions/1/?tab=lineage", HTTP_HX_REQUEST="true")
    assert "No job has used this version yet" in lineage.content.decode()


def test_the_versions_tab_pages_newest_first_and_marks_the_latest(owner, workspace):
    for _ in range(52):
        _data(workspace, "iris")
    versions.version_set_archived(
        actor=owner, row=DataVersion.objects.get(name="iris", version="52"), archived=True
    )
    client = client_for(owner)
    first = client.get("/w/churn/data/iris/versions/3/?tab=versions").content.decode()
    rows = [line for line in first.splitlines() if "data-version=" in line]
    assert len(rows) == 50 and 'data-version="52"' in rows[0] and 'data-version="3"' in rows[-1]
    assert "Page 1 of 2" in first and 'href="/w/churn/data/iris/versions/51/"' in first
    latest_row = first[first.index('data-version="51"') :].split("</tr>")[0]
    assert ">latest</span>" in latest_row and "archived" not in latest_row
    assert '<option value="/w/churn/data/iris/versions/3/" selected>3</option>' in first
    assert ">52 (archived)</option>" in first and ">51 (latest)</option>" in first
    second = client.get(
        "/w/churn/data/iris/versions/3/?tab=versions&page=2", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'data-version="2"' in second and 'data-version="1"' in second
    assert 'data-version="3"' not in second and "Page 2 of 2" in second
    assert "<select" not in second  # a fragment: the tab only


def test_tags_and_description_are_edited_inline_and_bad_tags_are_refused(owner, workspace):
    _data(workspace, "iris")
    client = client_for(owner)
    url = "/w/churn/data/iris/versions/1/edit/"
    ok = client.post(url, {"description": "flowers", "tags": "stage=prod"}, HTTP_HX_REQUEST="true")
    assert ok.status_code == 200 and ok["HX-Redirect"].endswith("/versions/1/")
    row = DataVersion.objects.get(name="iris")
    assert (row.description, row.tags) == ("flowers", {"stage": "prod"})
    bad = client.post(url, {"tags": "=nokey"}, HTTP_HX_REQUEST="true")
    assert bad.status_code == 422 and "not key=value" in bad.content.decode()


def test_archive_and_restore_a_version_from_its_page(owner, workspace):
    _data(workspace, "iris")
    _data(workspace, "iris")
    client = client_for(owner)
    client.post("/w/churn/data/iris/versions/2/archive/")
    assert Asset.objects.get(name="iris").latest_version == "1"
    client.post("/w/churn/data/iris/versions/2/restore/")
    assert Asset.objects.get(name="iris").latest_version == "2"


def test_a_reader_sees_greyed_out_actions(reader, workspace):
    _data(workspace, "iris")
    body = client_for(reader).get("/w/churn/data/iris/versions/1/").content.decode()
    assert "cannot change data assets" in body


def _bulk(workspace, names: int, versions_of_first: int) -> None:
    """Many names and many versions of one, written in bulk (the services are per row)."""
    first = _data(workspace, "name-0000")
    DataVersion.objects.bulk_create(
        DataVersion(
            workspace=workspace,
            asset=first.asset,
            name=first.name,
            version=str(i),
            type="uri_file",
            path="https://example.org/x.csv",
        )
        for i in range(2, versions_of_first + 1)
    )
    for i in range(1, names):
        _data(workspace, f"name-{i:04d}")


def _queries(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def test_list_pages_and_api_cost_the_same_queries_however_many_versions(owner, workspace):
    client, api = client_for(owner), api_client_for(owner)
    _data(workspace, "seed")
    pages = [
        lambda: client.get("/w/churn/data/"),
        lambda: api.get("/api/v1/workspaces/churn/data/"),
        lambda: client.get("/w/churn/data/seed/versions/1/?tab=versions"),
        lambda: api.get("/api/v1/workspaces/churn/data/seed/versions/"),
    ]
    for page in pages:  # warm up: the token's last-used time is written once a minute
        page()
    before = [_queries(p) for p in pages]
    _bulk(workspace, names=60, versions_of_first=300)
    after = [_queries(p) for p in pages]
    assert before == after
