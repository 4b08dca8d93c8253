"""Fixtures of the datastore tests: the real storage servers (tests/storage_servers.py) and
a factory of datastores of each type in the `churn` workspace."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from apps.workspaces.models import Datastore
from apps.workspaces.services import datastores as datastore_services
from tests.storage_servers import (  # noqa: F401 - fixtures
    azure_container,
    azure_fields,
    azurite,
    make_bucket,
    make_container,
    moto_s3,
    s3_bucket,
    s3_fields,
)

KINDS = ("local", "azure_blob", "s3")


@pytest.fixture
def make_datastore(request, workspace, owner) -> Callable[..., Datastore]:
    """`make_datastore("s3", name="raw")`: a datastore of that type in `churn`, on a fresh
    container or bucket of the running servers (the local one is the built-in default)."""

    def make(kind: str, *, name: str | None = None, **overrides) -> Datastore:
        if kind == "local":
            if name is None:
                return Datastore.objects.get(workspace=workspace, name="workspaceblobstore")
            fields = {"type": "local", "path": name, **overrides}
        elif kind == "azure_blob":
            server = request.getfixturevalue("azurite")
            fields = azure_fields(server, make_container(server), **overrides)
        else:
            server = request.getfixturevalue("moto_s3")
            fields = s3_fields(server, make_bucket(server), **overrides)
        return datastore_services.datastore_create(
            actor=owner, workspace=workspace, name=name or f"{kind}_store", **fields
        )

    return make
