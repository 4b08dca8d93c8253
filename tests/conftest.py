"""Fixtures shared by the whole suite: personas (one per role, an outsider, an anonymous
user) in a workspace, API clients, and the services the suite runs against.

With CI=true a test that needs a missing service (PostgreSQL, Redis, Docker, Chromium) fails
instead of skipping: `require_service()` is the one place that decides.
"""

from __future__ import annotations

import os
import shutil
import socket
from urllib.parse import urlparse

import pytest
from rest_framework.test import APIClient

from apps.workspaces import services
from apps.workspaces.models import Role
from tests.factories import UserFactory, add_member, make_workspace

pytest_plugins = ["tests.browser_fixtures"]

IN_CI = os.environ.get("CI", "").lower() == "true"
PERSONAS = (
    "owner",
    "contributor",
    "reader",
    "data_scientist",
    "compute_operator",
    "outsider",
    "anonymous",
)
ROLE_OF = {
    "owner": Role.OWNER,
    "contributor": Role.CONTRIBUTOR,
    "reader": Role.READER,
    "data_scientist": Role.DATA_SCIENTIST,
    "compute_operator": Role.COMPUTE_OPERATOR,
}


def require_service(name: str, available: bool, why: str = "") -> None:
    """Skip a test whose service is missing; in CI, fail it instead."""
    if available:
        return
    message = f"{name} is not available{': ' + why if why else ''}"
    if IN_CI:
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


def tcp_open(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=1
        ):
            return True
    except OSError:
        return False


def pytest_sessionstart(session):
    """In CI the suite must run against the real services, not the embedded defaults."""
    if not IN_CI:
        return
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    problems = []
    if "postgresql" not in engine:
        problems.append(f"DATABASE_URL must point at PostgreSQL in CI (engine is {engine})")
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        problems.append(
            f"CELERY_BROKER_URL must point at Redis in CI (it is {settings.CELERY_BROKER_URL})"
        )
    if problems:
        raise pytest.UsageError("; ".join(problems))


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Argon2 is deliberately slow; tests that are not about hashing use a fast hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _studio_home(settings, tmp_path):
    """Each test keeps its files in its own STUDIO_HOME."""
    settings.STUDIO_HOME = tmp_path / "studio-home"
    settings.STUDIO_HOME.mkdir()
    yield settings.STUDIO_HOME
    shutil.rmtree(settings.STUDIO_HOME, ignore_errors=True)


@pytest.fixture
def owner(db):
    return UserFactory(username="alice")


@pytest.fixture
def workspace(owner):
    return make_workspace(owner=owner, name="churn", description="Churn prediction")


def _member(workspace, username, role):
    user = UserFactory(username=username)
    add_member(workspace, user, role)
    return user


@pytest.fixture
def contributor(workspace):
    return _member(workspace, "carol", Role.CONTRIBUTOR)


@pytest.fixture
def reader(workspace):
    return _member(workspace, "rita", Role.READER)


@pytest.fixture
def data_scientist(workspace):
    return _member(workspace, "dana", Role.DATA_SCIENTIST)


@pytest.fixture
def compute_operator(workspace):
    return _member(workspace, "omar", Role.COMPUTE_OPERATOR)


@pytest.fixture
def outsider(db, workspace):
    """A user with a workspace of their own, but no role in `churn`."""
    user = UserFactory(username="eve")
    make_workspace(owner=user, name="eves-space")
    return user


@pytest.fixture
def anonymous(db):
    return None


@pytest.fixture
def persona(request):
    """Resolve a persona name (parametrized tests) to its user, or None for anonymous."""
    name = request.param if hasattr(request, "param") else request
    return request.getfixturevalue(name)


def client_for(user):
    from django.test import Client

    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def api_client_for(user, *, token: bool = True):
    client = APIClient()
    if user is not None:
        if token:
            _, raw = services.token_create(actor=user, name=f"test-{user.pk}-{os.urandom(3).hex()}")
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        else:
            client.force_login(user)
    return client


@pytest.fixture
def api(owner):
    """An API client authenticated with a real personal token of the owner."""
    return api_client_for(owner)
