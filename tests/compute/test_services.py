"""Compute services: Azure-shaped fields, validation per field, events, roles, serverless,
instances, attached Docker engines (against the real local engine)."""

from __future__ import annotations

import json
import socket
import threading
import uuid

import pytest

from apps.workspaces import scheduling, vault
from apps.workspaces.models import Compute, ComputeEvent, ComputeNode
from apps.workspaces.services import compute as compute_services
from studio.errors import Conflict, NotFound, PermissionDenied, ValidationError
from tests.factories import UserFactory, make_workspace

pytestmark = pytest.mark.django_db


def create(actor, workspace, **spec):
    return compute_services.compute_create(actor=actor, workspace=workspace, spec=spec)


def field_error(excinfo) -> dict:
    return excinfo.value.fields


# Serverless ---------------------------------------------------------------------------------


def test_creating_a_workspace_creates_its_serverless_compute(owner):
    workspace = make_workspace(owner=owner, name="fresh")
    serverless = Compute.objects.get(workspace=workspace, type="serverless")
    assert serverless.name == "serverless"
    assert serverless.queue_name == "fresh.serverless"
    assert serverless.size.name == "Standard_DS3_v2"
    assert serverless.events.filter(kind="created").exists()


def test_serverless_compute_cannot_be_deleted(owner, workspace):
    serverless = Compute.objects.get(workspace=workspace, type="serverless")
    with pytest.raises(Conflict) as excinfo:
        compute_services.compute_delete(actor=owner, compute=serverless)
    assert "cannot be deleted" in excinfo.value.message
    assert Compute.objects.filter(pk=serverless.pk).exists()


def test_serverless_compute_cannot_be_created_by_users(owner, workspace):
    with pytest.raises(ValidationError) as excinfo:
        create(owner, workspace, name="pool", type="serverless")
    assert "type" in field_error(excinfo)


def test_serverless_settings_take_workspace_update(owner, workspace, compute_operator):
    with pytest.raises(PermissionDenied):
        compute_services.serverless_update(
            actor=compute_operator, workspace=workspace, changes={"max_instances": 8}
        )
    compute, warnings = compute_services.serverless_update(
        actor=owner, workspace=workspace, changes={"max_instances": 8, "size": "Standard_DS2_v2"}
    )
    assert (compute.max_instances, compute.size.name, warnings) == (8, "Standard_DS2_v2", [])
    event = compute.events.filter(kind="updated").get()
    assert "max_instances 4 → 8" in event.message and event.actor_username == "alice"


def test_serverless_settings_refuse_other_fields(owner, workspace):
    with pytest.raises(ValidationError) as excinfo:
        compute_services.serverless_update(
            actor=owner, workspace=workspace, changes={"min_instances": 1}
        )
    assert "min_instances" in field_error(excinfo)


# Clusters -------------------------------------------------------------------------------------


def test_cluster_from_azure_fields_keeps_azure_only_ones_with_a_warning(owner, workspace):
    compute, warnings = create(
        owner,
        workspace,
        **{"$schema": "https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json"},
        name="cpu-cluster",
        type="amlcompute",
        size="STANDARD_DS3_V2",
        min_instances=0,
        max_instances=4,
        idle_time_before_scale_down=120,
        location="westus",
        tier="low_priority",
        tags={"team": "ml"},
    )
    assert warnings == ["ignoring Azure-only fields: location, tier"]
    assert compute.extra == {"location": "westus", "tier": "low_priority"}
    assert (compute.size.name, compute.size.cores, compute.size.memory_gb) == (
        "Standard_DS3_v2",
        4,
        14,
    )
    assert (compute.min_instances, compute.max_instances) == (0, 4)
    assert compute.tags == {"team": "ml"}
    assert compute.queue_name == "churn.cpu-cluster"
    event = compute.events.get()
    assert event.kind == "created" and event.actor_username == "alice"
    assert "0 to 4 nodes" in event.message


def test_cluster_defaults_follow_azure(owner, workspace):
    compute, _ = create(owner, workspace, name="c1", type="AmlCompute")
    assert compute.type == "amlcompute"
    assert (compute.size.name, compute.min_instances, compute.max_instances) == (
        "Standard_DS3_v2",
        0,
        1,
    )
    assert compute.idle_time_before_scale_down == 120


def test_cluster_with_min_instances_gets_that_many_idle_nodes(owner, workspace):
    compute, _ = create(
        owner, workspace, name="warm", type="amlcompute", min_instances=2, max_instances=3
    )
    assert list(compute.nodes.values_list("state", flat=True)) == ["idle", "idle"]
    assert compute.events.filter(kind="scale_up").count() == 2


def test_unknown_size_names_the_field_and_lists_valid_sizes(owner, workspace):
    with pytest.raises(ValidationError) as excinfo:
        create(owner, workspace, name="c1", type="amlcompute", size="Standard_XL_v9")
    message = field_error(excinfo)["size"][0]
    assert "Standard_XL_v9" in message and "Standard_" in message.split("choose one of")[1]
    assert not Compute.objects.filter(name="c1").exists()


def test_min_instances_above_max_is_refused_on_min_instances(owner, workspace):
    with pytest.raises(ValidationError) as excinfo:
        create(owner, workspace, name="c1", type="amlcompute", min_instances=3, max_instances=2)
    assert "max_instances (2)" in field_error(excinfo)["min_instances"][0]
    assert not Compute.objects.filter(name="c1").exists()


@pytest.mark.parametrize(
    "spec,field",
    [
        ({"type": "kubernetes"}, "type"),
        ({"type": None}, "type"),
        ({"max_instances": 0}, "max_instances"),
        ({"max_instances": "many"}, "max_instances"),
        ({"max_instances": True}, "max_instances"),
        ({"min_instances": -1}, "min_instances"),
        ({"idle_time_before_scale_down": 10**9}, "idle_time_before_scale_down"),
        ({"tags": ["a"]}, "tags"),
        ({"max_instance": 3}, "max_instance"),
        ({"assigned_user": "alice"}, "assigned_user"),
    ],
)
def test_bad_fields_are_refused_by_name(owner, workspace, spec, field):
    full = {"name": "c1", "type": "amlcompute", **spec}
    with pytest.raises(ValidationError) as excinfo:
        compute_services.compute_create(actor=owner, workspace=workspace, spec=full)
    assert field in field_error(excinfo), excinfo.value.fields


def test_a_misspelt_field_suggests_the_right_one(owner, workspace):
    with pytest.raises(ValidationError) as excinfo:
        create(owner, workspace, name="c1", type="amlcompute", max_instance=3)
    assert "did you mean 'max_instances'" in field_error(excinfo)["max_instance"][0]


@pytest.mark.parametrize("name", ["1cluster", "c", "has_underscore", "dots.in.it", "x" * 33, ""])
def test_names_that_break_the_naming_rules_are_refused(owner, workspace, name):
    with pytest.raises(ValidationError) as excinfo:
        create(owner, workspace, name=name, type="amlcompute")
    assert "name" in field_error(excinfo)


def test_a_taken_name_is_a_conflict_on_name(owner, workspace, cluster):
    with pytest.raises(Conflict) as excinfo:
        create(owner, workspace, name="CPU-cluster", type="amlcompute")
    assert "name" in field_error(excinfo)


def test_data_scientists_and_readers_cannot_create_compute(workspace, data_scientist, reader):
    for user in (data_scientist, reader):
        with pytest.raises(PermissionDenied):
            create(user, workspace, name="c1", type="amlcompute")


def test_outsiders_are_told_the_workspace_does_not_exist(workspace, outsider):
    with pytest.raises(NotFound):
        create(outsider, workspace, name="c1", type="amlcompute")


def test_compute_operator_creates_updates_and_deletes_compute(workspace, compute_operator):
    compute, _ = create(compute_operator, workspace, name="ops", type="amlcompute")
    compute, _ = compute_services.compute_update(
        actor=compute_operator, compute=compute, changes={"max_instances": 3}
    )
    assert compute.max_instances == 3
    compute_services.compute_delete(actor=compute_operator, compute=compute)
    assert not Compute.objects.filter(name="ops").exists()


def test_update_changes_limits_and_records_what_changed(owner, cluster):
    compute, warnings = compute_services.compute_update(
        actor=owner,
        compute=cluster,
        changes={"max_instances": 6, "idle_time_before_scale_down": 300, "location": "eastus"},
    )
    assert (compute.max_instances, compute.idle_time_before_scale_down) == (6, 300)
    assert warnings == ["ignoring Azure-only fields: location"]
    message = compute.events.get(kind="updated").message
    assert "max_instances 2 → 6" in message and "idle_time_before_scale_down 120 → 300" in message


def test_update_refuses_min_above_max_and_a_new_name(owner, cluster):
    with pytest.raises(ValidationError) as excinfo:
        compute_services.compute_update(actor=owner, compute=cluster, changes={"min_instances": 5})
    assert "min_instances" in field_error(excinfo)
    with pytest.raises(ValidationError) as excinfo:
        compute_services.compute_update(actor=owner, compute=cluster, changes={"name": "other"})
    assert "name" in field_error(excinfo)
    cluster.refresh_from_db()
    assert (cluster.name, cluster.min_instances) == ("cpu-cluster", 0)


def test_data_scientist_cannot_update_or_delete_compute(cluster, data_scientist):
    with pytest.raises(PermissionDenied):
        compute_services.compute_update(
            actor=data_scientist, compute=cluster, changes={"max_instances": 3}
        )
    with pytest.raises(PermissionDenied):
        compute_services.compute_delete(actor=data_scientist, compute=cluster)


def test_deleting_a_compute_with_running_jobs_is_refused_with_their_names(owner, cluster):
    job = uuid.uuid4()
    scheduling.node_acquire(compute=cluster, job_id=job, worker="w1")
    with pytest.raises(Conflict) as excinfo:
        compute_services.compute_delete(actor=owner, compute=cluster)
    assert str(job) in excinfo.value.message
    assert excinfo.value.fields == {"jobs": [str(job)]}
    scheduling.node_release(compute=cluster, job_id=job)
    compute_services.compute_delete(actor=owner, compute=cluster)
    assert not Compute.objects.filter(pk=cluster.pk).exists()


def test_a_cluster_cannot_be_stopped(owner, cluster):
    with pytest.raises(ValidationError) as excinfo:
        compute_services.compute_stop(actor=owner, compute=cluster)
    assert "min_instances and max_instances" in field_error(excinfo)["type"][0]


def test_local_compute_is_served_on_this_machine(owner, workspace):
    compute, _ = create(owner, workspace, name="here", type="local", max_instances=2)
    assert compute.config == {"host": socket.gethostname()}
    assert compute.size is None


# Compute instances ------------------------------------------------------------------------------


def test_instance_is_assigned_to_its_creator_by_default_and_runs(owner, workspace):
    compute, warnings = create(
        owner,
        workspace,
        name="alice-box",
        type="computeinstance",
        create_on_behalf_of={"user_tenant_id": "t", "user_object_id": "o"},
    )
    assert compute.assigned_user == owner
    assert compute.state == "Running"
    assert list(compute.nodes.values_list("index", "state")) == [(0, "idle")]
    assert warnings == ["ignoring Azure-only fields: create_on_behalf_of"]


def test_instance_must_be_assigned_to_a_member(owner, workspace, outsider):
    with pytest.raises(ValidationError) as excinfo:
        create(owner, workspace, name="box", type="computeinstance", assigned_user="eve")
    assert "not a member" in field_error(excinfo)["assigned_user"][0]


def test_instance_schedules_are_read_from_azure_shape(owner, workspace):
    compute, warnings = create(
        owner,
        workspace,
        name="box",
        type="computeinstance",
        schedules={
            "compute_start_stop": [
                {"action": "start", "trigger": {"type": "cron", "expression": "0 8 * * 1-5",
                                                "time_zone": "Pacific Standard Time"}},
                {"action": "Stop", "trigger": {"expression": "0 19 * * *", "start_time": "x"}},
            ]
        },
    )  # fmt: skip
    assert compute.schedules == [
        {"action": "start", "cron": "0 8 * * 1-5", "time_zone": "Pacific Standard Time"},
        {"action": "stop", "cron": "0 19 * * *", "time_zone": "UTC"},
    ]
    assert warnings == [
        "ignoring Azure-only fields: schedules.compute_start_stop[1].trigger.start_time"
    ]


@pytest.mark.parametrize(
    "schedule,field",
    [
        (
            {"action": "start", "trigger": {"type": "cron", "expression": "61 8 * * *"}},
            "schedules.compute_start_stop[0].trigger.expression",
        ),
        (
            {"action": "start", "trigger": {"expression": "0 8 * * *", "time_zone": "Mars/Base"}},
            "schedules.compute_start_stop[0].trigger.time_zone",
        ),
        (
            {"action": "start", "trigger": {"type": "recurrence", "frequency": "day"}},
            "schedules.compute_start_stop[0].trigger.type",
        ),
        (
            {"action": "reboot", "trigger": {"expression": "0 8 * * *"}},
            "schedules.compute_start_stop[0].action",
        ),
    ],
)
def test_bad_schedules_name_the_exact_field(owner, workspace, schedule, field):
    with pytest.raises(ValidationError) as excinfo:
        create(
            owner,
            workspace,
            name="box",
            type="computeinstance",
            schedules={"compute_start_stop": [schedule]},
        )
    assert field in field_error(excinfo), excinfo.value.fields


def test_instance_stop_start_restart_write_events(data_scientist, instance):
    compute = compute_services.compute_stop(actor=data_scientist, compute=instance)
    assert compute.state == "Stopped" and not compute.nodes.exists()
    compute = compute_services.compute_start(actor=data_scientist, compute=compute)
    assert compute.state == "Running" and compute.nodes.count() == 1
    compute = compute_services.compute_restart(actor=data_scientist, compute=compute)
    assert compute.state == "Running" and compute.nodes.count() == 1
    kinds = list(compute.events.order_by("created_at", "id").values_list("kind", flat=True))
    assert kinds[-3:] == ["stopped", "started", "restarted"]
    assert compute.events.filter(kind="stopped").get().actor_username == "dana"


def test_instance_start_when_running_and_stop_when_stopped_are_conflicts(owner, instance):
    with pytest.raises(Conflict):
        compute_services.compute_start(actor=owner, compute=instance)
    compute_services.compute_stop(actor=owner, compute=instance)
    with pytest.raises(Conflict):
        compute_services.compute_stop(actor=owner, compute=instance)


def test_instance_stop_is_refused_while_its_job_runs(data_scientist, instance):
    job = uuid.uuid4()
    scheduling.node_acquire(compute=instance, job_id=job, worker="w", user=data_scientist)
    with pytest.raises(Conflict) as excinfo:
        compute_services.compute_stop(actor=data_scientist, compute=instance)
    assert str(job) in excinfo.value.message


def test_reader_cannot_start_or_stop(reader, instance):
    with pytest.raises(PermissionDenied):
        compute_services.compute_stop(actor=reader, compute=instance)


# Attached Docker engines ------------------------------------------------------------------------


def test_attached_engine_is_checked_and_its_version_kept(owner, workspace, docker_url):
    compute, _ = create(owner, workspace, name="gpu-box", type="attached", url=docker_url)
    assert compute.config["url"] == docker_url
    assert compute.config["engine"]["version"]
    assert "linux" in compute.config["engine"]["os"]
    with compute_services.engine_client(compute=compute) as client:
        assert client.ping() is True


def test_an_engine_that_does_not_answer_is_a_field_error_and_nothing_is_saved(owner, workspace):
    with pytest.raises(ValidationError) as excinfo:
        create(owner, workspace, name="gpu-box", type="attached", url="tcp://127.0.0.1:1")
    message = field_error(excinfo)["url"][0]
    assert "does not answer" in message and "tcp://127.0.0.1:1" in message
    assert not Compute.objects.filter(name="gpu-box").exists()


def test_an_ssh_engine_that_does_not_answer_is_a_field_error(owner, workspace):
    with pytest.raises(ValidationError) as excinfo:
        create(owner, workspace, name="gpu-box", type="attached", url="ssh://nobody@127.0.0.1:1")
    assert "does not answer" in field_error(excinfo)["url"][0]


@pytest.mark.parametrize(
    "url", ["http://gpu-box:2375", "gpu-box", "tcp://gpu-box", "ssh://", "unix://"]
)
def test_engine_urls_must_be_tcp_or_ssh(owner, workspace, url):
    with pytest.raises(ValidationError) as excinfo:
        create(owner, workspace, name="gpu-box", type="attached", url=url)
    assert "url" in field_error(excinfo)


def test_tls_material_must_be_pem_and_client_cert_needs_its_key(owner, workspace):
    with pytest.raises(ValidationError) as excinfo:
        create(owner, workspace, name="bx", type="attached", url="tcp://h:2376",
               tls={"ca_cert": "not a cert"})  # fmt: skip
    assert "tls.ca_cert" in field_error(excinfo)
    pem = "-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----"
    with pytest.raises(ValidationError) as excinfo:
        create(owner, workspace, name="bx", type="attached", url="tcp://h:2376",
               tls={"client_cert": pem})  # fmt: skip
    assert "tls.client_key" in field_error(excinfo)


class _TcpToDockerSocket:
    """A TCP port that forwards to the local engine's Unix socket: a real tcp:// engine."""

    def __init__(self, socket_path: str):
        self.socket_path = socket_path
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(self.socket_path)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.server.close()


def test_attached_tcp_engine_answers_and_its_ssh_key_is_stored_encrypted(
    owner, workspace, docker_url
):
    proxy = _TcpToDockerSocket(docker_url.removeprefix("unix://"))
    try:
        compute, _ = create(
            owner, workspace, name="tcp-box", type="attached", url=f"tcp://127.0.0.1:{proxy.port}"
        )
    finally:
        proxy.close()
    assert compute.config["engine"]["version"]
    assert compute.credentials == b""

    key = "-----BEGIN OPENSSH PRIVATE KEY-----\nsecret-material\n-----END OPENSSH PRIVATE KEY-----"
    with pytest.raises(ValidationError) as excinfo:
        compute_services.compute_update(
            actor=owner, compute=compute, changes={"ssh_private_key": key}
        )
    assert "ssh_private_key" in field_error(excinfo)


def test_credentials_are_encrypted_with_the_workspace_key(owner, workspace, docker_url):
    compute, _ = create(owner, workspace, name="local-engine", type="attached", url=docker_url)
    # A key is stored encrypted even when the engine needs none (the runner gets it back).
    sealed = compute_services._seal(workspace, {"ssh_private_key": "-----BEGIN X-----"})
    Compute.objects.filter(pk=compute.pk).update(credentials=sealed)
    compute.refresh_from_db()
    assert b"BEGIN" not in bytes(compute.credentials)
    plain = vault.workspace_cipher(workspace.vault_key).decrypt(bytes(compute.credentials))
    assert json.loads(plain) == {"ssh_private_key": "-----BEGIN X-----"}
    assert compute_services.credential_names(compute) == ["ssh_private_key"]


def test_every_change_writes_an_event(owner, workspace):
    user = UserFactory(username="zed")
    compute, _ = create(owner, workspace, name="evt", type="amlcompute", max_instances=2)
    compute_services.compute_update(actor=owner, compute=compute, changes={"description": "x"})
    job = uuid.uuid4()
    scheduling.node_acquire(compute=compute, job_id=job, worker="w", user=user)
    kinds = set(ComputeEvent.objects.filter(compute=compute).values_list("kind", flat=True))
    assert kinds == {"created", "updated", "scale_up"}
    assert ComputeNode.objects.filter(compute=compute, job_id=job).exists()


def test_editing_an_attached_compute_rechecks_the_engine_only_when_it_changes(
    owner, workspace, docker_url
):
    compute, _ = create(owner, workspace, name="engine", type="attached", url=docker_url)
    compute, _ = compute_services.compute_update(
        actor=owner, compute=compute, changes={"url": docker_url, "description": "same engine"}
    )
    assert compute.description == "same engine"
    with pytest.raises(ValidationError) as excinfo:
        compute_services.compute_update(
            actor=owner, compute=compute, changes={"url": "tcp://127.0.0.1:1"}
        )
    assert "url" in field_error(excinfo)
    compute.refresh_from_db()
    assert compute.config["url"] == docker_url
