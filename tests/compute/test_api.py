"""The compute API: Azure-shaped JSON in, warnings and node summaries out, errors naming
their field, and credentials that never come back."""

from __future__ import annotations

import json
import uuid

import pytest

from apps.workspaces import scheduling
from apps.workspaces.models import Compute
from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db
BASE = "/api/v1/workspaces/churn/computes/"
AZURE_CLUSTER = {
    "$schema": "https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json",
    "name": "cpu-cluster",
    "type": "amlcompute",
    "size": "Standard_DS3_v2",
    "min_instances": 0,
    "max_instances": 4,
    "idle_time_before_scale_down": 120,
    "location": "westus",
    "tier": "dedicated",
}


def test_create_from_azure_json_answers_with_warnings(api, workspace):
    response = api.post(BASE, AZURE_CLUSTER, format="json")
    body = response.json()
    assert response.status_code == 201, body
    assert body["warnings"] == ["ignoring Azure-only fields: location, tier"]
    assert body["size_details"] == {
        "name": "Standard_DS3_v2",
        "cores": 4.0,
        "memory_gb": 14.0,
        "gpus": 0,
        "description": "General purpose (Azure ML's default)",
    }
    assert body["queue_name"] == "churn.cpu-cluster"
    assert body["nodes"] == {"busy": 0, "idle": 0, "leaving": 0, "max": 4}
    assert body["extra"] == {"location": "westus", "tier": "dedicated"}
    assert body["created_by"] == "alice" and body["state"] == "Succeeded"


def test_retrieve_includes_the_nodes_summary(api, cluster):
    scheduling.node_acquire(compute=cluster, job_id=uuid.uuid4(), worker="w")
    body = api.get(f"{BASE}cpu-cluster/").json()
    assert body["nodes"] == {"busy": 1, "idle": 0, "leaving": 0, "max": 2}
    assert "credentials" not in body


def test_list_filters_by_type(api, cluster, instance):
    names = [c["name"] for c in api.get(BASE).json()["results"]]
    assert names == ["cpu-cluster", "dana-box", "serverless"]
    names = [c["name"] for c in api.get(BASE, {"type": "computeinstance"}).json()["results"]]
    assert names == ["dana-box"]
    bad = api.get(BASE, {"type": "vm"})
    assert bad.status_code == 400 and "type" in bad.json()["fields"]


@pytest.mark.parametrize(
    "change,field,status",
    [
        ({"size": "Standard_Nope"}, "size", 400),
        ({"min_instances": 5, "max_instances": 2}, "min_instances", 400),
        ({"type": "kubernetes"}, "type", 400),
        ({"name": "has space"}, "name", 400),
        ({"max_instancs": 2}, "max_instancs", 400),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field(api, workspace, change, field, status):
    response = api.post(BASE, {**AZURE_CLUSTER, **change}, format="json")
    assert response.status_code == status
    assert field in response.json()["fields"], response.json()
    assert not Compute.objects.filter(type="amlcompute").exists()


def test_a_body_that_is_not_an_object_is_a_400(api, workspace):
    response = api.post(BASE, ["cpu-cluster"], format="json")
    assert response.status_code == 400


def test_a_taken_name_is_a_409(api, cluster):
    response = api.post(BASE, AZURE_CLUSTER, format="json")
    assert response.status_code == 409 and "name" in response.json()["fields"]


def test_patch_updates_and_reports_azure_only_fields(api, cluster):
    response = api.patch(f"{BASE}cpu-cluster/", {"max_instances": 6, "tier": "low_priority"},
                         format="json")  # fmt: skip
    body = response.json()
    assert response.status_code == 200, body
    assert body["max_instances"] == 6
    assert body["warnings"] == ["ignoring Azure-only fields: tier"]


def test_serverless_settings_via_patch_need_workspace_update(
    api, contributor, compute_operator, workspace
):
    url = f"{BASE}serverless/"
    assert (
        api_client_for(compute_operator).patch(url, {"max_instances": 9}, format="json").status_code
        == 403
    )
    response = api_client_for(contributor).patch(url, {"max_instances": 9}, format="json")
    assert response.status_code == 200 and response.json()["max_instances"] == 9
    assert api.delete(url).status_code == 409


def test_delete_refuses_while_jobs_run_and_names_them(api, cluster):
    job = uuid.uuid4()
    scheduling.node_acquire(compute=cluster, job_id=job, worker="w")
    response = api.delete(f"{BASE}cpu-cluster/")
    assert response.status_code == 409
    assert response.json()["fields"] == {"jobs": [str(job)]}
    scheduling.node_release(compute=cluster, job_id=job)
    assert api.delete(f"{BASE}cpu-cluster/").status_code == 204
    assert api.get(f"{BASE}cpu-cluster/").status_code == 404


def test_start_stop_restart_an_instance(api, instance):
    assert api.post(f"{BASE}dana-box/stop/").json()["state"] == "Stopped"
    assert api.post(f"{BASE}dana-box/stop/").status_code == 409
    body = api.post(f"{BASE}dana-box/start/").json()
    assert body["state"] == "Running" and body["nodes"]["idle"] == 1
    assert api.post(f"{BASE}dana-box/restart/").status_code == 200
    kinds = [e["kind"] for e in api.get(f"{BASE}dana-box/events/").json()["results"]]
    assert kinds[:3] == ["restarted", "started", "stopped"]


def test_a_cluster_has_no_stop(api, cluster):
    response = api.post(f"{BASE}cpu-cluster/stop/")
    assert response.status_code == 400 and "type" in response.json()["fields"]


def test_nodes_endpoint_lists_node_states(api, cluster):
    job = uuid.uuid4()
    scheduling.node_acquire(compute=cluster, job_id=job, worker="w9")
    nodes = api.get(f"{BASE}cpu-cluster/nodes/").json()["results"]
    assert [(n["index"], n["state"], n["job_id"], n["worker"]) for n in nodes] == [
        (0, "busy", str(job), "w9")
    ]


def test_instance_schedules_come_back_in_azure_shape(api, workspace, data_scientist):
    spec = {
        "name": "dana-box",
        "type": "computeinstance",
        "assigned_user": "dana",
        "schedules": {"compute_start_stop": [
            {"action": "stop", "trigger": {"type": "cron", "expression": "0 19 * * *",
                                           "time_zone": "UTC"}}]},
    }  # fmt: skip
    body = api.post(BASE, spec, format="json").json()
    assert body["schedules"] == spec["schedules"]
    assert body["assigned_user"] == "dana"


def test_attached_compute_never_returns_its_keys(api, workspace, docker_url):
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\nSUPERSECRET\n-----END OPENSSH PRIVATE KEY-----"
    response = api.post(BASE, {"name": "engine", "type": "attached", "url": docker_url},
                        format="json")  # fmt: skip
    assert response.status_code == 201, response.json()
    bad = api.post(BASE, {"name": "engine2", "type": "attached", "url": docker_url,
                          "ssh_private_key": key}, format="json")  # fmt: skip
    assert bad.status_code == 400 and "SUPERSECRET" not in bad.content.decode()
    body = api.get(f"{BASE}engine/").json()
    assert body["url"] == docker_url and body["engine"]["version"]
    assert body["credentials_set"] == [] and body["tls"] is False
    assert "SUPERSECRET" not in json.dumps(body)


def test_vm_sizes_are_listed(api):
    sizes = {s["name"]: s for s in api.get("/api/v1/vm-sizes/").json()["results"]}
    assert sizes["Standard_DS3_v2"]["cores"] == 4.0
    assert sizes["Standard_NC6s_v3"]["gpus"] == 1


def test_openapi_schema_describes_the_compute_routes(api):
    schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/json").content.decode()
    for path in ("/computes/", "/computes/{compute_name}/start/", "/vm-sizes/"):
        assert path in schema


def test_list_runs_a_fixed_number_of_queries(api, owner, workspace, django_assert_max_num_queries):
    for n in range(6):
        api.post(BASE, {"name": f"c{n}x", "type": "amlcompute"}, format="json")
    with django_assert_max_num_queries(8):
        assert len(api.get(BASE).json()["results"]) == 7
