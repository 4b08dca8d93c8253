"""An attached engine's `remote` and `studio_url` settings (docs/compute.md), set from the
page's form, the API and `studio compute create --file`, against this machine's real engine
(the engine must answer when a compute is saved)."""

from __future__ import annotations

from apps.workspaces.models import Compute
from tests.compute.test_views import HX, field_errors
from tests.conftest import client_for

BASE = "/api/v1/workspaces/churn/computes/"
FORM = {"name": "gpu-box", "max_instances": 1, "min_instances": 0,
        "idle_time_before_scale_down": 120}  # fmt: skip


def test_the_form_sets_remote_and_the_studio_url_and_the_page_shows_them(
    owner, workspace, docker_url
):
    client = client_for(owner)
    page = client.get("/w/churn/compute-create/attached/").content.decode()
    assert 'name="remote"' in page and 'name="studio_url"' in page
    response = client.post(
        "/w/churn/compute-create/attached/",
        {**FORM, "url": docker_url, "remote": "true", "studio_url": "http://10.0.0.2:8000/"},
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    compute = Compute.objects.get(name="gpu-box")
    assert compute.config["remote"] is True
    assert compute.config["studio_url"] == "http://10.0.0.2:8000"
    html = client.get("/w/churn/compute/gpu-box/").content.decode()
    assert "copied to the engine and back" in html and "http://10.0.0.2:8000" in html

    edit = client.get("/w/churn/compute/gpu-box/edit/").content.decode()
    assert 'value="http://10.0.0.2:8000"' in edit
    assert '<option value="true" selected>' in edit
    response = client.post(
        "/w/churn/compute/gpu-box/edit/",
        {**FORM, "url": docker_url, "remote": "", "studio_url": ""},
    )
    assert response.status_code == 302
    compute.refresh_from_db()
    assert "remote" not in compute.config and "studio_url" not in compute.config
    assert compute.events.filter(message__contains="studio_url http://10.0.0.2:8000 → None")


def test_a_bad_studio_url_is_a_field_error_and_nothing_is_made(owner, workspace, docker_url):
    response = client_for(owner).post(
        "/w/churn/compute-create/attached/",
        {**FORM, "url": docker_url, "studio_url": "10.0.0.2:8000"},
        **HX,
    )
    html = response.content.decode()
    assert response.status_code == 422 and "<html" not in html
    assert any("Must be http(s)://host[:port]" in e for e in field_errors(html, "studio_url"))
    assert not Compute.objects.filter(name="gpu-box").exists()
    response = client_for(owner).post(
        "/w/churn/compute-create/attached/",
        {**FORM, "url": docker_url, "studio_url": "http://localhost:8000"},
    )
    assert response.status_code == 422
    assert any(
        "own container, not the studio" in e
        for e in field_errors(response.content.decode(), "studio_url")
    )


def test_the_api_takes_and_returns_them_and_names_a_bad_field(api, workspace, docker_url):
    spec = {"name": "gpu-box", "type": "attached", "url": docker_url, "remote": False,
            "studio_url": "https://studio.example.org"}  # fmt: skip
    response = api.post(BASE, spec, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["remote"] is False and body["studio_url"] == "https://studio.example.org"
    bad = api.patch(f"{BASE}gpu-box/", {"remote": "sometimes"}, format="json")
    assert bad.status_code == 400
    assert "remote" in str(bad.json()) and "Must be true, false or null" in str(bad.json())
    cleared = api.patch(f"{BASE}gpu-box/", {"remote": None, "studio_url": ""}, format="json")
    assert cleared.status_code == 200, cleared.json()
    assert cleared.json()["remote"] is None and cleared.json()["studio_url"] is None


def test_a_non_attached_compute_refuses_them_by_name(api, workspace, vm_sizes):
    response = api.post(
        BASE, {"name": "cpu", "type": "amlcompute", "studio_url": "http://x:1"}, format="json"
    )
    assert response.status_code == 400
    assert "studio_url" in str(response.json())
