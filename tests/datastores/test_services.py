"""Datastore services: creation with a connection test against the real servers, the
naming rules, credentials in the vault, the default datastore, deletion rules."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest

from apps.workspaces import storage
from apps.workspaces.models import Datastore, SecretAccess
from apps.workspaces.services import datastores as services
from studio.errors import Conflict, PermissionDenied, ValidationError
from tests.storage_servers import azure_fields, s3_fields

pytestmark = pytest.mark.django_db


def _create(actor, workspace, name="churn_data", **fields):
    return services.datastore_create(actor=actor, workspace=workspace, name=name, **fields)


def test_an_azure_blob_datastore_is_created_after_its_connection_test(
    owner, workspace, azurite, azure_container
):
    datastore = _create(
        owner,
        workspace,
        description="Raw churn data",
        tags={"team": "ml"},
        extra={"subscription_id": "abc"},
        **azure_fields(azurite, azure_container),
    )

    assert datastore.type == "azure_blob"
    assert datastore.config == {
        "account_name": "devstoreaccount1",
        "container_name": azure_container,
        "endpoint": azurite.account_url,
        "protocol": "https",
    }
    assert datastore.credential_kind == "account_key"
    assert datastore.extra == {"subscription_id": "abc"}
    assert not datastore.is_default
    audit = SecretAccess.objects.get(workspace=workspace)
    assert (audit.secret_name, audit.kind) == ("datastore/churn_data", "set")


def test_a_sas_token_works_as_azure_credentials(owner, workspace, azurite, azure_container):
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    sas = generate_container_sas(
        azurite.account_name,
        azure_container,
        account_key=azurite.account_key,
        permission=ContainerSasPermissions(read=True, write=True, list=True, delete=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    datastore = _create(
        owner, workspace, **azure_fields(azurite, azure_container, credentials={"sas_token": sas})
    )
    store = storage.open_store(datastore)
    store.write_stream("via-sas.txt", io.BytesIO(b"sas"))

    assert datastore.credential_kind == "sas_token"
    assert store.read_head("via-sas.txt", 10) == b"sas"


def test_an_s3_datastore_is_created_after_its_connection_test(owner, workspace, moto_s3, s3_bucket):
    datastore = _create(owner, workspace, **s3_fields(moto_s3, s3_bucket))

    assert datastore.config == {
        "bucket": s3_bucket,
        "endpoint_url": moto_s3.endpoint_url,
        "region": "us-east-1",
    }
    assert datastore.credential_kind == "access_key"
    assert storage.decrypt_credentials(datastore)["secret_access_key"] == moto_s3.secret_access_key


def test_a_local_datastore_lives_in_the_workspaces_own_folder(owner, workspace, settings):
    datastore = _create(owner, workspace, name="scratch", type="local", path="team/scratch")

    assert datastore.config == {
        "path": f"workspaces/{workspace.id}/team/scratch",
        "relative_to": "STUDIO_HOME",
    }
    storage.open_store(datastore).write_stream("x.txt", io.BytesIO(b"x"))
    assert (settings.STUDIO_HOME / datastore.config["path"] / "x.txt").exists()


def test_a_wrong_account_key_is_refused_naming_the_container_and_nothing_is_saved(
    owner, workspace, azurite, azure_container
):
    wrong = "A" * 86 + "=="
    fields = azure_fields(azurite, azure_container, credentials={"account_key": wrong})

    with pytest.raises(ValidationError) as exc:
        _create(owner, workspace, **fields)

    assert exc.value.fields == {
        "credentials": [f"cannot reach container {azure_container}: 403 AuthorizationFailure"]
    }
    assert not Datastore.objects.filter(name="churn_data").exists()
    assert not SecretAccess.objects.exists()


def test_a_missing_container_is_refused_naming_container_name(owner, workspace, azurite):
    with pytest.raises(ValidationError) as exc:
        _create(owner, workspace, **azure_fields(azurite, "no-such-container"))
    assert exc.value.fields == {
        "container_name": ["cannot reach container no-such-container: 404 ContainerNotFound"]
    }


def test_an_unreachable_azure_endpoint_is_refused_naming_endpoint(owner, workspace, azurite):
    from tests.storage_servers import free_port

    fields = azure_fields(
        azurite, "data", endpoint=f"http://127.0.0.1:{free_port()}/devstoreaccount1"
    )
    with pytest.raises(ValidationError) as exc:
        _create(owner, workspace, **fields)
    assert list(exc.value.fields) == ["endpoint"]
    assert "cannot reach container data" in exc.value.fields["endpoint"][0]
    assert "Connection refused" in exc.value.fields["endpoint"][0]


def test_a_wrong_s3_secret_is_refused_naming_credentials(owner, workspace, moto_s3, s3_bucket):
    fields = s3_fields(moto_s3, s3_bucket)
    fields["credentials"]["secret_access_key"] = "not-the-secret-at-all"

    with pytest.raises(ValidationError) as exc:
        _create(owner, workspace, **fields)

    assert exc.value.fields == {
        "credentials": [f"cannot reach bucket {s3_bucket}: 403 SignatureDoesNotMatch"]
    }
    assert "not-the-secret-at-all" not in exc.value.message


def test_a_missing_bucket_is_refused_naming_bucket(owner, workspace, moto_s3):
    with pytest.raises(ValidationError) as exc:
        _create(owner, workspace, **s3_fields(moto_s3, "no-such-bucket"))
    assert exc.value.fields == {"bucket": ["cannot reach bucket no-such-bucket: 404 NoSuchBucket"]}


def test_an_unreachable_s3_endpoint_is_refused_naming_endpoint_url(owner, workspace, moto_s3):
    from tests.storage_servers import free_port

    fields = s3_fields(moto_s3, "data", endpoint_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ValidationError) as exc:
        _create(owner, workspace, **fields)
    assert list(exc.value.fields) == ["endpoint_url"]


@pytest.mark.parametrize(
    "name,fields,field",
    [
        ("1abc", {"type": "local", "path": "x"}, "name"),
        ("has-dash", {"type": "local", "path": "x"}, "name"),
        ("a" * 256, {"type": "local", "path": "x"}, "name"),
        ("", {"type": "local", "path": "x"}, "name"),
        ("ok", {"type": "azure_file"}, "type"),
        ("ok", {"type": "local"}, "path"),
        ("ok", {"type": "local", "path": "../up"}, "path"),
        ("ok", {"type": "local", "path": "x", "bucket": "b"}, "bucket"),
        ("ok", {"type": "local", "path": "x", "credentials": {"account_key": "a"}}, "credentials"),
        ("ok", {"type": "azure_blob", "container_name": "c-1"}, "account_name"),
        ("ok", {"type": "azure_blob", "account_name": "Bad_Name", "container_name": "c"}, "account_name"),
        ("ok", {"type": "azure_blob", "account_name": "acct", "container_name": "Bad"}, "container_name"),
        ("ok", {"type": "azure_blob", "account_name": "acct", "container_name": "ccc", "protocol": "ftp"}, "protocol"),
        ("ok", {"type": "azure_blob", "account_name": "acct", "container_name": "ccc", "endpoint": "ftp://x"}, "endpoint"),
        ("ok", {"type": "s3", "bucket": "B!"}, "bucket"),
        ("ok", {"type": "s3", "bucket": "bucket", "endpoint_url": "minio:9000"}, "endpoint_url"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_naming_the_field(owner, workspace, name, fields, field):
    with pytest.raises(ValidationError) as exc:
        _create(owner, workspace, name=name, **fields)
    assert list(exc.value.fields) == [field], exc.value.fields


@pytest.mark.parametrize(
    "credentials,field",
    [
        ({"account_key": "k" * 10, "sas_token": "sv=1"}, "credentials"),
        ({"account_key": "not base64!"}, "credentials.account_key"),
        ({"client_secret": "x", "tenant_id": "t"}, "credentials.client_secret"),
        ({"password": "x"}, "credentials.password"),
    ],
)
def test_bad_azure_credentials_are_refused_before_any_connection(
    owner, workspace, credentials, field
):
    fields = {"type": "azure_blob", "account_name": "acct", "container_name": "data"}
    with pytest.raises(ValidationError) as exc:
        _create(owner, workspace, credentials=credentials, **fields)
    assert list(exc.value.fields) == [field]


def test_s3_credentials_need_both_keys(owner, workspace):
    with pytest.raises(ValidationError) as exc:
        _create(owner, workspace, type="s3", bucket="data", credentials={"access_key_id": "AKIA"})
    assert list(exc.value.fields) == ["credentials.secret_access_key"]


def test_a_taken_name_is_a_conflict_whatever_its_case(owner, workspace):
    with pytest.raises(Conflict) as exc:
        _create(owner, workspace, name="WorkspaceBlobStore", type="local", path="x")
    assert "name" in exc.value.fields


def test_secrets_are_refused_as_extra_fields(owner, workspace):
    with pytest.raises(ValidationError) as exc:
        _create(owner, workspace, type="local", path="x", extra={"account_key": "k"})
    assert list(exc.value.fields) == ["extra.account_key"]


@pytest.mark.parametrize("persona", ["reader", "compute_operator"])
def test_roles_without_datastore_manage_cannot_create(request, workspace, persona):
    user = request.getfixturevalue(persona)
    with pytest.raises(PermissionDenied):
        _create(user, workspace, type="local", path="x")


def test_a_data_scientist_can_create_a_datastore(workspace, data_scientist):
    assert _create(data_scientist, workspace, type="local", path="x").created_by == data_scientist


def test_the_default_can_be_changed(owner, workspace):
    other = Datastore.objects.get(workspace=workspace, name="workspacefilestore")

    services.datastore_set_default(actor=owner, datastore=other)

    defaults = Datastore.objects.filter(workspace=workspace, is_default=True)
    assert [d.name for d in defaults] == ["workspacefilestore"]


def test_the_default_and_the_built_in_datastores_cannot_be_deleted(owner, workspace):
    default = Datastore.objects.get(workspace=workspace, is_default=True)
    with pytest.raises(Conflict, match="default datastore"):
        services.datastore_delete(actor=owner, datastore=default)
    builtin = Datastore.objects.get(workspace=workspace, name="workspaceartifactstore")
    with pytest.raises(Conflict, match="built-in"):
        services.datastore_delete(actor=owner, datastore=builtin)


def test_a_datastore_in_use_by_assets_cannot_be_deleted(owner, workspace, monkeypatch):
    datastore = _create(owner, workspace, type="local", path="x")
    monkeypatch.setattr(services, "datastore_in_use", lambda ds: ["data asset churn-raw:1"])

    with pytest.raises(Conflict, match="in use by data asset churn-raw:1"):
        services.datastore_delete(actor=owner, datastore=datastore)
    assert Datastore.objects.filter(pk=datastore.pk).exists()


def test_deleting_a_datastore_keeps_its_files(owner, workspace, settings):
    datastore = _create(owner, workspace, type="local", path="keep")
    storage.open_store(datastore).write_stream("f.txt", io.BytesIO(b"f"))

    services.datastore_delete(actor=owner, datastore=datastore)

    assert not Datastore.objects.filter(pk=datastore.pk).exists()
    assert (settings.STUDIO_HOME / datastore.config["path"] / "f.txt").exists()


def test_a_new_default_datastore_can_then_be_deleted_by_choosing_another(owner, workspace):
    datastore = _create(owner, workspace, type="local", path="x")
    services.datastore_set_default(actor=owner, datastore=datastore)
    blob = Datastore.objects.get(workspace=workspace, name="workspaceblobstore")
    services.datastore_set_default(actor=owner, datastore=blob)
    datastore.refresh_from_db()

    services.datastore_delete(actor=owner, datastore=datastore)

    assert not Datastore.objects.filter(pk=datastore.pk).exists()


def test_rotating_credentials_tests_the_new_ones_first(owner, workspace, azurite, azure_container):
    datastore = _create(owner, workspace, **azure_fields(azurite, azure_container))
    before = bytes(datastore.credentials)

    with pytest.raises(ValidationError) as exc:
        services.datastore_update(
            actor=owner, datastore=datastore, credentials={"account_key": "B" * 86 + "=="}
        )
    assert "credentials" in exc.value.fields
    datastore.refresh_from_db()
    assert bytes(datastore.credentials) == before

    services.datastore_update(
        actor=owner,
        datastore=datastore,
        description="rotated",
        credentials={"account_key": azurite.account_key},
    )
    datastore.refresh_from_db()
    assert datastore.description == "rotated"
    assert storage.decrypt_credentials(datastore) == {"account_key": azurite.account_key}
    assert SecretAccess.objects.filter(kind="set").count() == 2


def test_file_uploads_need_the_write_files_action(workspace, reader):
    datastore = Datastore.objects.get(workspace=workspace, name="workspaceblobstore")
    with pytest.raises(PermissionDenied):
        services.datastore_file_upload(
            actor=reader, datastore=datastore, path="x.txt", fileobj=io.BytesIO(b"x")
        )
    with pytest.raises(PermissionDenied):
        services.datastore_file_delete(actor=reader, datastore=datastore, path="x.txt")
