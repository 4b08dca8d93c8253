"""User management services and selectors: staff only, passwords validated, generated
passwords returned once, and a staff member cannot lock themselves out."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from apps.workspaces.models import Role, UserAuditEntry
from apps.workspaces.selectors import users as selectors
from apps.workspaces.services import users as services
from studio.errors import Conflict, NotFound, PermissionDenied, ValidationError
from tests.factories import UserFactory, add_member

pytestmark = pytest.mark.django_db
User = get_user_model()
GOOD = "correct-horse-battery-staple"


@pytest.fixture
def admin(db):
    return UserFactory(username="admin", is_staff=True)


def test_staff_creates_a_user_with_a_given_password_that_signs_in(admin):
    user, generated = services.user_create(
        actor=admin,
        username="dana",
        email="dana@example.com",
        full_name="Dana Scott",
        password=GOOD,
    )
    assert generated is None
    assert user.check_password(GOOD) and user.is_active and not user.is_staff
    assert (user.first_name, user.last_name, user.get_full_name()) == (
        "Dana",
        "Scott",
        "Dana Scott",
    )


def test_a_generated_password_is_returned_once_and_stored_only_hashed(admin):
    user, generated = services.user_create(actor=admin, username="omar", generate_password=True)
    assert generated and len(generated) >= 16
    stored = User.objects.get(username="omar")
    assert stored.check_password(generated) and generated not in stored.password


@pytest.mark.parametrize(
    "password,message",
    [("short", "too short"), ("password123", "too common"), ("ritarita-x", "too similar")],
)
def test_a_weak_password_is_refused_naming_the_password_field(admin, password, message):
    with pytest.raises(ValidationError) as err:
        services.user_create(actor=admin, username="ritarita", password=password)
    assert list(err.value.fields) == ["password"] and message in err.value.message
    assert not User.objects.filter(username="ritarita").exists()


def test_create_needs_a_password_or_generate_but_not_both(admin):
    with pytest.raises(ValidationError) as neither:
        services.user_create(actor=admin, username="rita")
    with pytest.raises(ValidationError) as both:
        services.user_create(actor=admin, username="rita", password=GOOD, generate_password=True)
    assert list(neither.value.fields) == list(both.value.fields) == ["password"]


def test_bad_user_name_and_email_are_refused_naming_the_field(admin):
    with pytest.raises(ValidationError) as name:
        services.user_create(actor=admin, username="da na", generate_password=True)
    with pytest.raises(ValidationError) as email:
        services.user_create(actor=admin, username="dana", email="nope", generate_password=True)
    assert "username" in name.value.fields and "email" in email.value.fields


def test_a_taken_user_name_is_a_conflict_whatever_its_case(admin):
    UserFactory(username="dana")
    with pytest.raises(Conflict) as err:
        services.user_create(actor=admin, username="Dana", generate_password=True)
    assert "username" in err.value.fields


def test_non_staff_cannot_tell_user_management_exists(owner, workspace):
    bob = UserFactory(username="bob")
    calls = [
        lambda: services.user_create(actor=owner, username="x", generate_password=True),
        lambda: services.user_update(actor=owner, username="bob", is_active=False),
        lambda: services.user_password_reset(actor=owner, username="bob"),
        lambda: selectors.user_list(actor=owner),
        lambda: selectors.user_get(actor=owner, username="bob"),
    ]
    for call in calls:
        with pytest.raises(NotFound):
            call()
    bob.refresh_from_db()
    assert bob.is_active


def test_deactivate_reactivate_and_staff_flag(admin):
    UserFactory(username="dana")
    services.user_update(actor=admin, username="dana", is_active=False, is_staff=True)
    dana = User.objects.get(username="dana")
    assert not dana.is_active and dana.is_staff
    services.user_update(actor=admin, username="dana", is_active=True, is_staff=False)
    dana.refresh_from_db()
    assert dana.is_active and not dana.is_staff


def test_email_and_full_name_change_and_are_validated(admin):
    UserFactory(username="rita")
    services.user_update(
        actor=admin, username="rita", email="rita@x.org", full_name="Rita van Dijk"
    )
    rita = User.objects.get(username="rita")
    assert (rita.email, rita.get_full_name()) == ("rita@x.org", "Rita van Dijk")
    with pytest.raises(ValidationError) as err:
        services.user_update(actor=admin, username="rita", email="not-an-email")
    assert "email" in err.value.fields


def test_other_fields_cannot_be_changed_here(admin):
    UserFactory(username="rita")
    with pytest.raises(ValidationError) as err:
        services.user_update(actor=admin, username="rita", is_superuser=True)
    assert "is_superuser" in err.value.fields


def test_a_staff_member_cannot_deactivate_themselves_or_drop_their_staff_flag(admin):
    with pytest.raises(Conflict) as deactivate:
        services.user_update(actor=admin, username="admin", is_active=False)
    with pytest.raises(Conflict) as unstaff:
        services.user_update(actor=admin, username="admin", is_staff=False)
    assert "is_active" in deactivate.value.fields and "is_staff" in unstaff.value.fields
    admin.refresh_from_db()
    assert admin.is_active and admin.is_staff


def test_only_a_superuser_changes_a_superuser(admin):
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    with pytest.raises(PermissionDenied):
        services.user_password_reset(actor=admin, username="root")
    with pytest.raises(PermissionDenied):
        services.user_update(actor=admin, username="root", is_active=False)
    services.user_update(actor=root, username="admin", is_staff=False)  # the other way is fine


def test_reset_password_replaces_the_old_one(admin):
    UserFactory(username="dana", password=GOOD)
    user, password = services.user_password_reset(actor=admin, username="dana")
    user.refresh_from_db()
    assert user.check_password(password) and not user.check_password(GOOD)


def test_update_of_an_unknown_user_is_not_found(admin):
    with pytest.raises(NotFound):
        services.user_update(actor=admin, username="ghost", is_active=False)


def test_user_list_filters_and_counts_workspaces(admin, owner, workspace):
    dana = UserFactory(username="dana", first_name="Dana", last_name="Scott", email="d@x.org")
    add_member(workspace, dana, Role.DATA_SCIENTIST)
    UserFactory(username="omar", email="omar@y.org")

    by_name = selectors.user_list(actor=admin, search="dana scott")
    by_email = selectors.user_list(actor=admin, search="Y.ORG")
    everyone = {u.username: u.workspace_count for u in selectors.user_list(actor=admin)}

    assert [u.username for u in by_name] == ["dana"] and by_name[0].full_name == "Dana Scott"
    assert [u.username for u in by_email] == ["omar"]
    assert everyone == {"admin": 0, "alice": 1, "dana": 1, "omar": 0}


def _trail(username: str) -> list[tuple[str, str, list[str]]]:
    rows = UserAuditEntry.objects.filter(subject_username=username).order_by("created_at", "id")
    return [(r.actor_username, r.action, r.fields) for r in rows]


def test_each_change_writes_exactly_one_audit_row_naming_the_actor_and_the_action(admin):
    services.user_create(
        actor=admin, username="dana", email="d@x.org", full_name="Dana Scott", password=GOOD
    )
    services.user_update(actor=admin, username="dana", is_active=False)
    services.user_update(actor=admin, username="dana", is_active=True)
    services.user_update(actor=admin, username="dana", is_staff=True)
    services.user_update(actor=admin, username="dana", is_staff=False)
    services.user_password_reset(actor=admin, username="dana")
    services.user_update(actor=admin, username="dana", email="dana@x.org", full_name="Dana Scott")
    assert _trail("dana") == [
        ("admin", "created", ["email", "full_name"]),
        ("admin", "deactivated", []),
        ("admin", "reactivated", []),
        ("admin", "staff_granted", []),
        ("admin", "staff_revoked", []),
        ("admin", "password_reset", []),
        ("admin", "updated", ["email"]),  # the full name was sent unchanged
    ]
    entry = UserAuditEntry.objects.filter(subject_username="dana").first()
    assert entry.actor == admin and entry.user == User.objects.get(username="dana")


def test_one_update_of_several_kinds_writes_one_row_per_kind(admin):
    UserFactory(username="omar", email="o@x.org")
    services.user_update(
        actor=admin, username="omar", is_active=False, is_staff=True, full_name="Omar H"
    )
    assert sorted(action for _, action, _ in _trail("omar")) == [
        "deactivated",
        "staff_granted",
        "updated",
    ]
    assert ("admin", "updated", ["full_name"]) in _trail("omar")


def test_a_refused_or_empty_change_writes_no_audit_row(admin):
    UserFactory(username="omar", is_active=True)
    with pytest.raises(Conflict):
        services.user_update(actor=admin, username="admin", is_active=False)
    with pytest.raises(Conflict):
        services.user_update(actor=admin, username="admin", is_staff=False)
    with pytest.raises(ValidationError):
        services.user_update(actor=admin, username="omar", is_staff=True, email="nope")
    with pytest.raises(ValidationError):
        services.user_create(actor=admin, username="rita", password="short")
    services.user_update(actor=admin, username="omar", is_active=True)  # already active
    assert not UserAuditEntry.objects.exists()
    assert not User.objects.get(username="omar").is_staff


def test_a_non_staff_change_writes_no_audit_row(owner):
    UserFactory(username="omar")
    with pytest.raises(NotFound):
        services.user_update(actor=owner, username="omar", is_active=False)
    with pytest.raises(NotFound):
        services.user_password_reset(actor=owner, username="omar")
    assert not UserAuditEntry.objects.exists()


def test_no_audit_row_holds_a_password_or_its_hash(admin):
    user, _ = services.user_create(actor=admin, username="dana", password=GOOD)
    _, generated = services.user_create(actor=admin, username="omar", generate_password=True)
    _, reset = services.user_password_reset(actor=admin, username="dana")
    hashes = list(User.objects.values_list("password", flat=True))
    for entry in UserAuditEntry.objects.all():
        text = repr(list(UserAuditEntry.objects.filter(pk=entry.pk).values().get().values()))
        for secret in (GOOD, generated, reset, *hashes):
            assert secret not in text
        assert "password" not in entry.fields


def test_the_audit_selector_is_staff_only_and_newest_first(admin, owner):
    services.user_create(actor=admin, username="dana", password=GOOD)
    services.user_password_reset(actor=admin, username="dana")
    dana = User.objects.get(username="dana")
    actions = [e.action for e in selectors.user_audit_list(actor=admin, user=dana)]
    assert actions == ["password_reset", "created"]
    with pytest.raises(NotFound):
        selectors.user_audit_list(actor=owner, user=dana)
