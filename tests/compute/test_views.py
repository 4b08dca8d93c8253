"""Manage > Compute pages: tabs and HTMX fragments, forms re-rendered with 422 and the error
beside its field, detail page with live nodes and events, actions, greyed-out controls."""

from __future__ import annotations

import re
import uuid

import pytest

from apps.workspaces import scheduling
from apps.workspaces.models import Compute
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


def field_errors(html: str, field: str) -> list[str]:
    """The error messages rendered in the form field of that name."""
    block = re.search(rf'<div class="field has-error">\s*<label for="id_{field}">.*?</div>\s*</div>|'
                      rf'<div class="field has-error">\s*<label for="id_{field}">.*?(?=<div class="field)',
                      html, re.S)  # fmt: skip
    return (
        re.findall(r'<div class="error" role="alert">(.*?)</div>', block.group(0)) if block else []
    )


def test_compute_list_shows_tabs_and_the_serverless_settings(owner, cluster):
    response = client_for(owner).get("/w/churn/compute/?tab=clusters")
    html = response.content.decode()
    assert response.status_code == 200 and "<html" in html
    assert (
        "Compute instances" in html and "Compute clusters" in html and "Attached computes" in html
    )
    assert 'data-compute="cpu-cluster"' in html
    assert "Standard_DS3_v2" in html and "4 cores, 14 GiB" in html
    assert 'id="serverless"' in html
    assert response["Vary"] and "HX-Request" in response["Vary"]


def test_switching_tab_with_htmx_returns_only_the_tab(owner, cluster):
    response = client_for(owner).get("/w/churn/compute/?tab=clusters", **HX)
    html = response.content.decode()
    assert "<html" not in html and html.strip().startswith('<div id="compute-tab">')
    assert "cpu-cluster" in html and 'id="serverless"' not in html


def test_empty_tab_offers_the_new_button(owner, data_scientist, workspace):
    html = client_for(owner).get("/w/churn/compute/?tab=instances").content.decode()
    assert "No compute instances yet" in html
    assert 'href="/w/churn/compute-create/computeinstance/"' in html
    html = client_for(data_scientist).get("/w/churn/compute/?tab=instances").content.decode()
    assert re.search(r'<button class="primary" disabled title="Your role \(AzureML Data Scientist\)'
                     r' cannot create compute">\+ New compute instance</button>', html)  # fmt: skip
    assert "/compute-create/" not in html


def test_nav_lists_compute_first_under_manage(reader, workspace):
    html = client_for(reader).get("/w/churn/").content.decode()
    manage = html.split('<div class="navgroup">Manage</div>')[1]
    assert manage.strip().startswith('<a href="/w/churn/compute/"')


def test_home_tile_offers_a_cluster_when_only_serverless_exists(owner, workspace):
    html = client_for(owner).get("/w/churn/").content.decode()
    assert "No compute of your own yet" in html
    assert "/w/churn/compute-create/amlcompute/" in html


def test_new_cluster_form_creates_and_goes_to_its_page(owner, workspace):
    response = client_for(owner).post(
        "/w/churn/compute-create/amlcompute/",
        {"name": "cpu-cluster", "size": "Standard_DS3_v2", "min_instances": 0,
         "max_instances": 4, "idle_time_before_scale_down": 120, "tags": "team=ml"},
    )  # fmt: skip
    assert response.status_code == 302
    assert response["Location"] == "/w/churn/compute/cpu-cluster/"
    compute = Compute.objects.get(name="cpu-cluster")
    assert (compute.max_instances, compute.tags) == (4, {"team": "ml"})


def test_min_above_max_re_renders_with_422_and_the_error_beside_the_field(owner, workspace):
    response = client_for(owner).post(
        "/w/churn/compute-create/amlcompute/",
        {"name": "cpu-cluster", "size": "Standard_DS3_v2", "min_instances": 5,
         "max_instances": 2, "idle_time_before_scale_down": 120},
        **HX,
    )  # fmt: skip
    html = response.content.decode()
    assert response.status_code == 422
    assert "<html" not in html and 'id="compute-form"' in html
    assert any("max_instances (2)" in e for e in field_errors(html, "min_instances"))
    assert not Compute.objects.filter(name="cpu-cluster").exists()


def test_a_bad_name_is_shown_beside_the_name(owner, workspace):
    response = client_for(owner).post(
        "/w/churn/compute-create/local/",
        {"name": "9lives", "min_instances": 0, "max_instances": 1,
         "idle_time_before_scale_down": 0},
    )  # fmt: skip
    assert response.status_code == 422
    assert field_errors(response.content.decode(), "name")


def test_htmx_create_answers_with_a_client_redirect(owner, workspace):
    response = client_for(owner).post(
        "/w/churn/compute-create/local/",
        {"name": "here", "min_instances": 0, "max_instances": 2, "idle_time_before_scale_down": 0},
        **HX,
    )
    assert response["HX-Redirect"] == "/w/churn/compute/here/"


def test_instance_form_puts_a_bad_cron_beside_its_field(owner, workspace, data_scientist):
    response = client_for(owner).post(
        "/w/churn/compute-create/computeinstance/",
        {"name": "dana-box", "size": "Standard_DS3_v2", "assigned_user": "dana",
         "start_cron": "0 8 * * 1-5", "stop_cron": "every evening", "time_zone": "UTC"},
    )  # fmt: skip
    assert response.status_code == 422
    errors = field_errors(response.content.decode(), "stop_cron")
    assert errors and "not a cron expression" in errors[0]


def test_instance_form_creates_with_schedules(owner, workspace, data_scientist):
    response = client_for(owner).post(
        "/w/churn/compute-create/computeinstance/",
        {"name": "dana-box", "size": "Standard_DS3_v2", "assigned_user": "dana",
         "start_cron": "0 8 * * 1-5", "stop_cron": "0 19 * * *", "time_zone": "Europe/Paris"},
    )  # fmt: skip
    assert response.status_code == 302
    compute = Compute.objects.get(name="dana-box")
    assert compute.assigned_user == data_scientist
    assert [s["action"] for s in compute.schedules] == ["start", "stop"]


def test_attached_form_shows_an_engine_that_does_not_answer_and_never_echoes_keys(owner, workspace):
    response = client_for(owner).post(
        "/w/churn/compute-create/attached/",
        {"name": "gpu-box", "url": "tcp://127.0.0.1:1", "max_instances": 1,
         "min_instances": 0, "idle_time_before_scale_down": 120,
         "ca_cert": "-----BEGIN CERTIFICATE-----\nTOPSECRETCA\n-----END CERTIFICATE-----"},
    )  # fmt: skip
    html = response.content.decode()
    assert response.status_code == 422
    assert any("does not answer" in e for e in field_errors(html, "url"))
    assert "TOPSECRETCA" not in html


def test_detail_page_shows_properties_nodes_and_events_and_polls(owner, cluster):
    scheduling.node_acquire(compute=cluster, job_id=uuid.uuid4(), worker="worker-1")
    html = client_for(owner).get("/w/churn/compute/cpu-cluster/").content.decode()
    assert "Standard_DS3_v2: 4 cores, 14 GiB" in html
    assert "churn.cpu-cluster" in html
    assert (
        'hx-get="/w/churn/compute/cpu-cluster/nodes/"' in html and 'hx-trigger="every 5s"' in html
    )
    assert "worker-1" in html and 'class="badge node-busy"' in html
    assert "Node 0 added" in html and "Created compute cluster" in html


def test_nodes_fragment_is_a_fragment_with_the_state_out_of_band(owner, instance):
    response = client_for(owner).get("/w/churn/compute/dana-box/nodes/", **HX)
    html = response.content.decode()
    assert "<html" not in html and html.strip().startswith('<div id="compute-live"')
    assert 'id="compute-state" hx-swap-oob="true">Running<' in html


def test_instance_buttons_stop_it_and_grey_out_for_readers(owner, reader, instance):
    html = client_for(reader).get("/w/churn/compute/dana-box/").content.decode()
    assert 'disabled title="Your role (Reader) cannot start or stop compute">Stop<' in html
    assert 'disabled title="Your role (Reader) cannot delete compute">Delete<' in html
    client = client_for(owner)
    response = client.post("/w/churn/compute/dana-box/stop/", **HX)
    assert response["HX-Redirect"] == "/w/churn/compute/dana-box/"
    instance.refresh_from_db()
    assert instance.state == "Stopped"
    html = client.get("/w/churn/compute/dana-box/").content.decode()
    assert "Compute &#x27;dana-box&#x27; stopped." in html
    assert 'disabled title="The instance is Stopped">Stop<' in html


def test_stopping_a_cluster_says_why_not(owner, cluster):
    client = client_for(owner)
    response = client.post("/w/churn/compute/cpu-cluster/stop/")
    assert response.status_code == 302
    html = client.get(response["Location"]).content.decode()
    assert "Only a compute instance can stop" in html


def test_unknown_operation_is_404(owner, cluster):
    assert client_for(owner).post("/w/churn/compute/cpu-cluster/explode/").status_code == 404


def test_delete_with_a_running_job_is_refused_with_its_name(owner, cluster):
    job = uuid.uuid4()
    scheduling.node_acquire(compute=cluster, job_id=job, worker="w")
    client = client_for(owner)
    response = client.post("/w/churn/compute/cpu-cluster/delete/")
    assert response["Location"] == "/w/churn/compute/cpu-cluster/"
    assert str(job) in client.get(response["Location"]).content.decode()
    assert Compute.objects.filter(pk=cluster.pk).exists()


def test_delete_goes_back_to_the_list(owner, cluster):
    response = client_for(owner).post("/w/churn/compute/cpu-cluster/delete/", **HX)
    assert response["HX-Redirect"] == "/w/churn/compute/?tab=clusters"
    assert not Compute.objects.filter(pk=cluster.pk).exists()


def test_edit_form_is_prefilled_and_saves(owner, cluster):
    client = client_for(owner)
    html = client.get("/w/churn/compute/cpu-cluster/edit/").content.decode()
    assert 'name="max_instances" value="2"' in html and 'name="name"' not in html
    response = client.post(
        "/w/churn/compute/cpu-cluster/edit/",
        {"size": "Standard_DS4_v2", "min_instances": 0, "max_instances": 8,
         "idle_time_before_scale_down": 60, "description": "bigger"},
    )  # fmt: skip
    assert response.status_code == 302
    cluster.refresh_from_db()
    assert (cluster.size.name, cluster.max_instances, cluster.description) == (
        "Standard_DS4_v2",
        8,
        "bigger",
    )


def test_edit_rejects_min_above_max_beside_the_field(owner, cluster):
    response = client_for(owner).post(
        "/w/churn/compute/cpu-cluster/edit/",
        {"size": "Standard_DS3_v2", "min_instances": 3, "max_instances": 2,
         "idle_time_before_scale_down": 60},
    )  # fmt: skip
    assert response.status_code == 422
    assert field_errors(response.content.decode(), "min_instances")


def test_serverless_settings_are_for_owners_and_contributors(owner, compute_operator, workspace):
    assert client_for(compute_operator).get("/w/churn/compute/serverless/edit/").status_code == 403
    response = client_for(owner).post(
        "/w/churn/compute/serverless/edit/",
        {"size": "Standard_DS2_v2", "max_instances": 6, "idle_time_before_scale_down": 300},
    )
    assert response["Location"] == "/w/churn/compute/"
    serverless = Compute.objects.get(workspace=workspace, type="serverless")
    assert (serverless.size.name, serverless.max_instances) == ("Standard_DS2_v2", 6)


def test_list_page_runs_a_fixed_number_of_queries(owner, workspace, django_assert_max_num_queries):
    from apps.workspaces.services import compute as compute_services

    for n in range(5):
        compute_services.compute_create(
            actor=owner, workspace=workspace, spec={"name": f"c{n}x", "type": "amlcompute"}
        )
    client = client_for(owner)
    client.get("/w/churn/compute/?tab=clusters")
    with django_assert_max_num_queries(14):
        client.get("/w/churn/compute/?tab=clusters")
