"""factory_boy factories: minimal valid objects."""

import factory
from django.contrib.auth import get_user_model
from django.test import TestCase

from apps.workspaces import services
from apps.workspaces.models import Role


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    password = factory.django.Password("a-long-test-password")


def make_workspace(*, owner, name: str = "churn", **kwargs):
    """A workspace made the way users make one: through the service (defaults and all),
    with its on-commit work (the datastore folders) run as a real commit would."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return services.workspace_create(actor=owner, name=name, **kwargs)


def add_member(workspace, user, role: Role):
    from apps.workspaces.models import Membership

    return Membership.objects.create(workspace=workspace, user=user, role=role)
