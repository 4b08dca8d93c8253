"""Workspace, membership and token services: the rules every entry point shares."""

from __future__ import annotations

import pytest
from cryptography.fernet import InvalidToken
from django.conf import settings
from django.db import transaction

from apps.workspaces import permissions, services, vault
from apps.workspaces.models import ApiToken, Datastore, Membership, Role, RoleAuditEntry, Workspace
from studio.errors import Conflict, NotFound, PermissionDenied, ValidationError
from tests.factories import UserFactory, make_workspace

pytestmark = pytest.mark.django_db


def test_create_makes_creator_owner_with_four_default_datastores(owner):
    ws = make_workspace(owner=owner, name="churn")
    assert Membership.objects.get(workspace=ws, user=owner).role == Role.OWNER
    names = list(
        Datastore.objects.filter(workspace=ws).order_by("name").values_list("name", "is_default")
    )
    assert names == [
        ("workspaceartifactstore", False),
        ("workspaceblobstore", True),
        ("workspacefilestore", False),
        ("workspaceworkingdirectory", False),
    ]
    for ds in Datastore.objects.filter(workspace=ws):
        assert (settings.STUDIO_HOME / ds.config["path"]).is_dir()


def test_create_gives_each_workspace_its_own_working_vault_key(owner):
    a = make_workspace(owner=owner, name="alpha")
    b = make_workspace(owner=owner, name="beta")
    token = vault.workspace_cipher(a.vault_key).encrypt(b"secret")
    assert vault.workspace_cipher(a.vault_key).decrypt(token) == b"secret"
    with pytest.raises(InvalidToken):
        vault.workspace_cipher(b.vault_key).decrypt(token)
    assert b"secret" not in bytes(Workspace.objects.get(pk=a.pk).vault_key)


def test_create_records_the_creator_in_the_audit_trail(owner):
    ws = make_workspace(owner=owner, name="churn")
    entry = RoleAuditEntry.objects.get(workspace=ws)
    assert (entry.actor_username, entry.action, entry.new_role) == ("alice", "added", Role.OWNER)


@pytest.mark.parametrize("name", ["ab", "-lead", "has space", "x" * 34, "dots.no", ""])
def test_create_refuses_names_that_break_the_naming_rule(owner, name):
    with pytest.raises(ValidationError) as err:
        services.workspace_create(actor=owner, name=name)
    assert "name" in err.value.fields
    assert not Workspace.objects.exists()


def test_create_refuses_a_taken_name_whatever_its_case(owner, workspace):
    with pytest.raises(Conflict) as err:
        services.workspace_create(actor=owner, name="CHURN")
    assert "name" in err.value.fields
    assert Workspace.objects.count() == 1


def test_create_refuses_tags_that_are_not_a_mapping(owner):
    with pytest.raises(ValidationError) as err:
        services.workspace_create(actor=owner, name="churn", tags=["a"])
    assert "tags" in err.value.fields


def test_a_rolled_back_create_leaves_no_rows_and_no_folders(owner):
    with pytest.raises(RuntimeError), transaction.atomic():
        services.workspace_create(actor=owner, name="ghost")
        raise RuntimeError("the caller fails after the service")
    assert not Workspace.objects.filter(name="ghost").exists()
    assert not Datastore.objects.exists()
    assert not (settings.STUDIO_HOME / "workspaces").exists() or not any(
        (settings.STUDIO_HOME / "workspaces").iterdir()
    )


def test_update_changes_friendly_name_description_and_tags(owner, workspace):
    ws = services.workspace_update(
        actor=owner, workspace=workspace, display_name="Churn", description="d", tags={"team": "ml"}
    )
    assert (ws.display_name, ws.description, ws.tags) == ("Churn", "d", {"team": "ml"})


def test_update_refuses_to_rename(owner, workspace):
    with pytest.raises(ValidationError) as err:
        services.workspace_update(actor=owner, workspace=workspace, name="other")
    assert "name" in err.value.fields


@pytest.mark.parametrize("persona", ["reader", "data_scientist", "compute_operator"])
def test_update_is_refused_to_roles_that_may_not_edit_settings(request, workspace, persona):
    user = request.getfixturevalue(persona)
    with pytest.raises(PermissionDenied):
        services.workspace_update(actor=user, workspace=workspace, description="x")


def test_update_by_an_outsider_answers_not_found(workspace, outsider):
    with pytest.raises(NotFound):
        services.workspace_update(actor=outsider, workspace=workspace, description="x")


def test_delete_moves_files_to_trash_and_removes_rows(
    owner, workspace, django_capture_on_commit_callbacks
):
    root = services.workspace_storage_root(workspace)
    (root / "workspaceblobstore" / "data.csv").write_text("a,b\n1,2\n")
    with django_capture_on_commit_callbacks(execute=True):
        services.workspace_delete(actor=owner, workspace=workspace)
    assert not Workspace.objects.filter(name="churn").exists()
    assert not root.exists()
    trashed = list((settings.STUDIO_HOME / "trash").glob("churn-*/workspaceblobstore/data.csv"))
    assert len(trashed) == 1 and trashed[0].read_text() == "a,b\n1,2\n"


def test_member_add_grants_the_role_and_audits_it(owner, workspace):
    bob = UserFactory(username="bob")
    services.member_add(
        actor=owner, workspace=workspace, username="bob", role="AzureML Data Scientist"
    )
    assert permissions.role_of(bob, Workspace.objects.get(pk=workspace.pk)) == Role.DATA_SCIENTIST
    entry = RoleAuditEntry.objects.filter(workspace=workspace).first()
    assert entry.summary == "added bob as AzureML Data Scientist"


@pytest.mark.parametrize(
    "alias", ["reader", "READER", "data-scientist", "compute_operator", "Owner"]
)
def test_member_add_accepts_short_role_aliases(owner, workspace, alias):
    UserFactory(username="bob")
    m = services.member_add(actor=owner, workspace=workspace, username="bob", role=alias)
    assert m.role in Role.values


def test_member_add_names_the_field_of_an_unknown_role(owner, workspace):
    UserFactory(username="bob")
    with pytest.raises(ValidationError) as err:
        services.member_add(actor=owner, workspace=workspace, username="bob", role="Admin")
    assert "role" in err.value.fields
    assert not Membership.objects.filter(user__username="bob").exists()


def test_member_add_names_the_field_of_an_unknown_user(owner, workspace):
    with pytest.raises(ValidationError) as err:
        services.member_add(actor=owner, workspace=workspace, username="nobody", role="Reader")
    assert "user" in err.value.fields


def test_member_add_refuses_an_existing_member(owner, workspace, reader):
    with pytest.raises(Conflict):
        services.member_add(actor=owner, workspace=workspace, username="rita", role="Owner")
    assert Membership.objects.get(user=reader).role == Role.READER


@pytest.mark.parametrize("persona", ["contributor", "reader", "data_scientist", "compute_operator"])
def test_only_an_owner_grants_access(request, workspace, persona):
    user = request.getfixturevalue(persona)
    UserFactory(username="bob")
    with pytest.raises(PermissionDenied):
        services.member_add(actor=user, workspace=workspace, username="bob", role="Reader")


def test_the_last_owner_cannot_be_removed_or_demoted(owner, workspace):
    with pytest.raises(Conflict):
        services.member_remove(actor=owner, workspace=workspace, username="alice")
    with pytest.raises(Conflict):
        services.member_update(actor=owner, workspace=workspace, username="alice", role="Reader")
    assert Membership.objects.get(user=owner).role == Role.OWNER


def test_an_owner_can_step_down_once_another_owner_exists(owner, workspace, reader):
    services.member_update(actor=owner, workspace=workspace, username="rita", role="Owner")
    services.member_update(actor=owner, workspace=workspace, username="alice", role="Reader")
    assert Membership.objects.get(user=owner).role == Role.READER
    summaries = [e.summary for e in RoleAuditEntry.objects.filter(workspace=workspace)]
    assert summaries[:2] == [
        "changed alice from Owner to Reader",
        "changed rita from Reader to Owner",
    ]


def test_member_remove_takes_away_access_and_audits_it(owner, workspace, reader):
    services.member_remove(actor=owner, workspace=workspace, username="rita")
    assert permissions.role_of(reader, Workspace.objects.get(pk=workspace.pk)) is None
    assert (
        RoleAuditEntry.objects.filter(workspace=workspace).first().summary
        == "removed rita (Reader)"
    )


def test_token_is_shown_once_and_stored_only_as_a_hash(owner):
    token, raw = services.token_create(actor=owner, name="laptop")
    assert raw.startswith("stu_") and len(raw) > 40
    stored = ApiToken.objects.get(pk=token.pk)
    assert raw not in (stored.token_hash, stored.hint) and stored.hint == raw[:10]
    assert services.token_authenticate(raw=raw) == owner


def test_revoked_expired_and_unknown_tokens_authenticate_no_one(owner):
    token, raw = services.token_create(actor=owner, name="a")
    services.token_revoke(actor=owner, token=token)
    assert services.token_authenticate(raw=raw) is None
    token2, raw2 = services.token_create(actor=owner, name="b", expires_in_days=1)
    from datetime import timedelta

    from django.utils import timezone

    ApiToken.objects.filter(pk=token2.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert services.token_authenticate(raw=raw2) is None
    assert services.token_authenticate(raw="stu_not-a-token") is None


def test_a_token_of_a_deactivated_user_stops_working(owner):
    _, raw = services.token_create(actor=owner, name="a")
    owner.is_active = False
    owner.save()
    assert services.token_authenticate(raw=raw) is None


def test_token_use_records_last_used_time(owner):
    token, raw = services.token_create(actor=owner, name="a")
    assert token.last_used_at is None
    services.token_authenticate(raw=raw)
    assert ApiToken.objects.get(pk=token.pk).last_used_at is not None


def test_token_names_are_unique_among_a_users_active_tokens(owner):
    services.token_create(actor=owner, name="laptop")
    with pytest.raises(Conflict):
        services.token_create(actor=owner, name="laptop")


def test_a_run_scoped_token_is_not_a_personal_token(owner):
    import uuid

    token, raw = services.token_create(actor=owner, name="run-x")
    ApiToken.objects.filter(pk=token.pk).update(scope_job_id=uuid.uuid4())
    assert services.token_authenticate(raw=raw) is None
    assert services.token_lookup(raw=raw).scope_job_id is not None


def test_delete_is_refused_while_jobs_run_and_names_them(owner, workspace):
    from apps.jobs.models import Experiment, Job

    experiment = Experiment.objects.create(workspace=workspace, name="Default")
    Job.objects.create(workspace=workspace, experiment=experiment, name="train-1", status="Running")
    Job.objects.create(workspace=workspace, experiment=experiment, name="old", status="Completed")
    with pytest.raises(Conflict) as err:
        services.workspace_delete(actor=owner, workspace=workspace)
    assert "train-1" in err.value.message and "old" not in err.value.message
    assert Workspace.objects.filter(pk=workspace.pk).exists()
    Job.objects.filter(name="train-1").update(status="Canceled")
    services.workspace_delete(actor=owner, workspace=workspace)
    assert not Workspace.objects.filter(pk=workspace.pk).exists()
