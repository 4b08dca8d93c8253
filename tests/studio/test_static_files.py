"""Static files under content-hashed names with far-future cache headers. After collectstatic
(scripts/setup.sh runs it), pages link plotly.js and the studio's own files by hashed names,
and WhiteNoise serves those cached for a year, immutable, gzip-encoded when the browser takes
it. Before collectstatic, or once a file under static/ changed since, pages keep plain names
served from the finders (no step to run by hand)."""

from __future__ import annotations

import os
import re

import pytest
from django.core.management import call_command
from django.test import override_settings

import studio.settings
from tests.conftest import client_for
from tests.matrix.jobs_runs import make_run

pytestmark = pytest.mark.django_db

HASHED = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
YEAR = "max-age=315360000, public, immutable"


def test_under_pytest_pages_link_plain_names_as_the_live_server_serves_them(owner, workspace):
    # First in the module: the tests below collect with hashed names for the module's rest.
    make_run(workspace, name="plain", metrics={"loss": [1.0]})
    page = client_for(owner).get("/w/churn/jobs/plain/?tab=metrics").content.decode()
    assert '<script src="/static/plotly/plotly.min.js" defer>' in page


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    """collectstatic as scripts/setup.sh runs it, into a folder of this module (leaving out
    the admin's, DRF's and the API docs' files, which the pages under test do not link)."""
    root = tmp_path_factory.mktemp("static")
    with override_settings(STATIC_ROOT=root, STORAGES=HASHED, WHITENOISE_USE_FINDERS=False):
        call_command(
            "collectstatic", "--noinput", "--verbosity", "0", "--ignore", "widgetbundle.js",
            "--ignore", "admin", "--ignore", "rest_framework", "--ignore", "drf_spectacular_sidecar",
        )  # fmt: skip
        yield root


def test_the_metrics_tab_links_plotly_by_a_hashed_name_served_for_a_year(
    collected, owner, workspace
):
    make_run(workspace, name="charted", metrics={"loss": [1.0, 0.5, 0.25]})
    client = client_for(owner)
    page = client.get("/w/churn/jobs/charted/?tab=metrics").content.decode()

    plotly = re.search(r'<script src="(/static/plotly/plotly\.min\.[0-9a-f]{12}\.js)" defer>', page)
    assert plotly, "plotly.js is not linked by a hashed name with defer"
    assert re.search(r'href="/static/css/studio\.[0-9a-f]{12}\.css"', page)
    assert re.search(r'src="/static/js/app\.[0-9a-f]{12}\.js" defer', page)

    response = client.get(plotly.group(1), HTTP_ACCEPT_ENCODING="gzip, deflate")
    assert response.status_code == 200
    assert response["Cache-Control"] == YEAR
    assert response["Content-Encoding"] == "gzip"
    assert response["Content-Type"].startswith("text/javascript")
    assert int(response["Content-Length"]) < 2 * 2**20  # 4.6 MB of plotly.js, sent as ~1.4 MB


def test_a_plain_name_is_still_served_but_cached_only_for_a_minute(collected, owner):
    response = client_for(owner).get("/static/js/app.js")
    assert response.status_code == 200
    assert response["Cache-Control"] == "max-age=60, public"


def test_pages_use_plain_names_until_collectstatic_runs_and_after_a_static_file_changes(
    tmp_path, monkeypatch
):
    base = tmp_path / "repo"
    (base / "static" / "js").mkdir(parents=True)
    source = base / "static" / "js" / "app.js"
    source.write_text("// app")
    manifest = tmp_path / "static" / "staticfiles.json"
    monkeypatch.setattr(studio.settings, "BASE_DIR", base)
    monkeypatch.setattr(studio.settings, "STATIC_MANIFEST", manifest)
    assert not studio.settings.static_collected()  # never collected

    manifest.parent.mkdir()
    manifest.write_text("{}")
    os.utime(source, (1_000_000, 1_000_000))
    assert studio.settings.static_collected()

    os.utime(source)  # edited after the last collectstatic
    assert not studio.settings.static_collected()
