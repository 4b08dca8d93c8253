"""The vault's services: encryption at rest, set/replace/delete, system reads, the audit
trail, and the `secrets:` key of job and deployment specs."""

from __future__ import annotations

import pytest
from cryptography.fernet import InvalidToken

from apps.workspaces import vault
from apps.workspaces.models import Secret, SecretAccess
from apps.workspaces.services import secrets as secret_services
from studio.errors import Conflict, NotFound, PermissionDenied, ValidationError
from tests.factories import make_workspace

pytestmark = pytest.mark.django_db


def _set(actor, workspace, name="db-password", value="correct-horse-battery", **kw):
    return secret_services.secret_set(
        actor=actor, workspace=workspace, name=name, value=value, **kw
    )


def test_the_stored_row_holds_ciphertext_that_does_not_contain_the_value(owner, workspace):
    _set(owner, workspace, value="correct-horse-battery")
    row = Secret.objects.get(workspace=workspace, name="db-password")
    stored = bytes(row.ciphertext)
    assert b"correct-horse-battery" not in stored
    assert vault.workspace_cipher(workspace.vault_key).decrypt(stored) == b"correct-horse-battery"


def test_another_workspaces_key_cannot_decrypt_the_secret(owner, workspace):
    other = make_workspace(owner=owner, name="fraud")
    _set(owner, workspace)
    stored = bytes(Secret.objects.get(workspace=workspace).ciphertext)
    with pytest.raises(InvalidToken):
        vault.workspace_cipher(other.vault_key).decrypt(stored)


def test_set_on_an_existing_name_replaces_the_value_and_keeps_the_description(
    owner, contributor, workspace
):
    first = _set(owner, workspace, value="first-value", description="Warehouse password")
    second = _set(contributor, workspace, value="second-value")
    assert Secret.objects.filter(workspace=workspace).count() == 1
    assert second.pk == first.pk and second.description == "Warehouse password"
    assert second.created_by == owner and second.updated_by == contributor
    assert second.updated_at > second.created_at
    values = secret_services.secret_values_for(
        workspace=workspace, names=["db-password"], purpose="test"
    )
    assert values == {"db-password": "second-value"}


def test_a_new_secret_is_stamped_created_when_updated(owner, workspace):
    secret = _set(owner, workspace)
    assert secret.created_at == secret.updated_at and secret.created_by == owner


def test_set_and_delete_are_audited_with_the_actor(owner, workspace):
    _set(owner, workspace)
    _set(owner, workspace, value="again-and-again")
    secret_services.secret_delete(actor=owner, workspace=workspace, name="db-password")
    rows = list(
        SecretAccess.objects.filter(workspace=workspace)
        .order_by("id")
        .values_list("kind", "actor_username", "secret_name", "purpose")
    )
    assert rows == [
        ("set", "alice", "db-password", "created"),
        ("set", "alice", "db-password", "value replaced"),
        ("delete", "alice", "db-password", ""),
    ]
    assert not Secret.objects.exists()


def test_system_reads_return_values_and_write_one_audit_row_per_secret(owner, workspace):
    _set(owner, workspace, name="db-password", value="pw-value-1")
    _set(owner, workspace, name="api_key", value="key-value-2")
    values = secret_services.secret_values_for(
        workspace=workspace, names=["db-password", "api_key", "api_key"], purpose="job 3f2a1b"
    )
    assert values == {"db-password": "pw-value-1", "api_key": "key-value-2"}
    reads = SecretAccess.objects.filter(kind=SecretAccess.Kind.READ).order_by("secret_name")
    assert [(r.secret_name, r.actor_username, r.purpose) for r in reads] == [
        ("api_key", "system", "job 3f2a1b"),
        ("db-password", "system", "job 3f2a1b"),
    ]


def test_a_system_read_of_missing_secrets_names_each_and_reads_nothing(owner, workspace):
    _set(owner, workspace, name="db-password")
    with pytest.raises(ValidationError) as err:
        secret_services.secret_values_for(
            workspace=workspace, names=["db-password", "GONE", "also-gone"], purpose="job x"
        )
    assert set(err.value.fields) == {"secrets.GONE", "secrets.also-gone"}
    assert "studio workspace secret set --name GONE" in err.value.fields["secrets.GONE"][0]
    assert not SecretAccess.objects.filter(kind=SecretAccess.Kind.READ).exists()


def test_secrets_are_read_only_from_their_own_workspace(owner, workspace):
    other = make_workspace(owner=owner, name="fraud")
    _set(owner, other, name="db-password")
    with pytest.raises(ValidationError) as err:
        secret_services.secret_values_for(workspace=workspace, names=["db-password"], purpose="x")
    assert list(err.value.fields) == ["secrets.db-password"]


def test_reading_no_secrets_reads_nothing(workspace):
    assert secret_services.secret_values_for(workspace=workspace, names=[], purpose="x") == {}
    assert not SecretAccess.objects.exists()


def test_a_secret_stored_under_another_master_key_is_reported_not_crashed(
    owner, workspace, settings
):
    _set(owner, workspace)
    Secret.objects.update(ciphertext=b"not a fernet token")
    with pytest.raises(ValidationError) as err:
        secret_services.secret_values_for(workspace=workspace, names=["db-password"], purpose="x")
    assert "master key" in err.value.fields["secrets.db-password"][0]


def test_secret_env_for_maps_variables_to_values_and_names_the_spec_key_when_missing(
    owner, workspace
):
    _set(owner, workspace, name="db-password", value="pw-value-1")
    env = secret_services.secret_env_for(
        workspace=workspace,
        refs={"DB_PASSWORD": "db-password", "PGPASSWORD": "db-password"},
        purpose="job 1",
    )
    assert env == {"DB_PASSWORD": "pw-value-1", "PGPASSWORD": "pw-value-1"}
    with pytest.raises(ValidationError) as err:
        secret_services.secret_env_for(
            workspace=workspace,
            refs={"DB_PASSWORD": "db-password", "TOKEN": "hf-token"},
            purpose="job 2",
            field="jobs.train.secrets",
        )
    assert list(err.value.fields) == ["jobs.train.secrets.TOKEN"]


@pytest.mark.parametrize("name", ["", "1abc", "has space", "a" * 128, "semi;colon", None])
def test_a_bad_name_is_refused_naming_the_name_field(owner, workspace, name):
    with pytest.raises(ValidationError) as err:
        _set(owner, workspace, name=name)
    assert list(err.value.fields) == ["name"]
    assert not Secret.objects.exists() and not SecretAccess.objects.exists()


@pytest.mark.parametrize(
    "value", ["", None, 42, "x" * (64 * 1024 + 1), "é" * (32 * 1024 + 1), "a\x00b"]
)
def test_a_bad_value_is_refused_naming_the_value_field_without_quoting_it(owner, workspace, value):
    with pytest.raises(ValidationError) as err:
        _set(owner, workspace, value=value)
    assert list(err.value.fields) == ["value"]
    if isinstance(value, str) and value:
        assert value not in err.value.message
    assert not Secret.objects.exists()


def test_a_value_of_exactly_64_kib_is_accepted(owner, workspace):
    _set(owner, workspace, value="x" * (64 * 1024))
    assert Secret.objects.count() == 1


def test_a_name_differing_only_in_case_is_a_conflict(owner, workspace):
    _set(owner, workspace, name="DB-password")
    with pytest.raises(Conflict) as err:
        _set(owner, workspace, name="db-password")
    assert "name" in err.value.fields


def test_only_roles_with_secret_manage_may_set_or_delete(
    workspace, reader, compute_operator, data_scientist, outsider
):
    for user in (reader, compute_operator):
        with pytest.raises(PermissionDenied):
            _set(user, workspace)
    with pytest.raises(NotFound):
        _set(outsider, workspace)
    _set(data_scientist, workspace)
    with pytest.raises(PermissionDenied):
        secret_services.secret_delete(actor=reader, workspace=workspace, name="db-password")
    assert Secret.objects.count() == 1


def test_deleting_a_missing_secret_is_not_found(owner, workspace):
    with pytest.raises(NotFound):
        secret_services.secret_delete(actor=owner, workspace=workspace, name="nope")
    assert not SecretAccess.objects.exists()


def test_set_never_logs_the_value(owner, workspace, caplog):
    caplog.set_level("DEBUG")
    _set(owner, workspace, value="log-canary-6c1f")
    secret_services.secret_values_for(workspace=workspace, names=["db-password"], purpose="x")
    assert caplog.records  # the changes are logged, by name
    assert "log-canary-6c1f" not in caplog.text


# The `secrets:` key of a spec -------------------------------------------------------------


def test_parse_secret_refs_returns_the_mapping():
    refs = secret_services.parse_secret_refs({"DB_PASSWORD": "db-password", "_X1": " api_key "})
    assert refs == {"DB_PASSWORD": "db-password", "_X1": "api_key"}


def test_parse_secret_refs_treats_an_absent_key_as_no_secrets():
    assert secret_services.parse_secret_refs(None) == {}
    assert secret_services.parse_secret_refs({}) == {}


@pytest.mark.parametrize("value", [["db-password"], "db-password", 3])
def test_parse_secret_refs_refuses_anything_but_a_mapping(value):
    with pytest.raises(ValidationError) as err:
        secret_services.parse_secret_refs(value, field="jobs.train.secrets")
    assert list(err.value.fields) == ["jobs.train.secrets"]
    assert "DB_PASSWORD: db-password" in err.value.message


def test_parse_secret_refs_names_every_bad_entry_at_its_own_path():
    with pytest.raises(ValidationError) as err:
        secret_services.parse_secret_refs(
            {
                "1ABC": "db-password",
                "MY-VAR": "db-password",
                "OK": "db-password",
                "NUM": 123,
                "BAD_NAME": "no spaces",
                "EMPTY": None,
            }
        )
    assert set(err.value.fields) == {
        "secrets.1ABC",
        "secrets.MY-VAR",
        "secrets.NUM",
        "secrets.BAD_NAME",
        "secrets.EMPTY",
    }
    assert "environment variable name" in err.value.fields["secrets.1ABC"][0]
    assert "must name a workspace secret" in err.value.fields["secrets.NUM"][0]


def test_parse_secret_refs_refuses_a_variable_also_set_under_environment_variables():
    with pytest.raises(ValidationError) as err:
        secret_services.parse_secret_refs(
            {"DB_PASSWORD": "db-password"}, taken={"DB_PASSWORD", "OTHER"}
        )
    assert "environment_variables" in err.value.fields["secrets.DB_PASSWORD"][0]
