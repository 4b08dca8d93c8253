"""Fixtures of the compute tests: computes made through the services, as users make them."""

from __future__ import annotations

import os

import pytest

from apps.workspaces.services import compute as compute_services
from tests.compute.sizes import seed_vm_sizes
from tests.conftest import require_service

DOCKER_SOCKET = "/var/run/docker.sock"


@pytest.fixture
def vm_sizes(db):
    """The seeded VM sizes, also in transactional tests (which start from a flushed DB)."""
    seed_vm_sizes()


@pytest.fixture
def cluster(owner, workspace, vm_sizes):
    """`cpu-cluster`: Standard_DS3_v2, 0 to 2 nodes, 120 s idle time."""
    compute, _ = compute_services.compute_create(
        actor=owner,
        workspace=workspace,
        spec={
            "name": "cpu-cluster",
            "type": "amlcompute",
            "size": "Standard_DS3_v2",
            "min_instances": 0,
            "max_instances": 2,
            "idle_time_before_scale_down": 120,
        },
    )
    return compute


@pytest.fixture
def instance(owner, workspace, data_scientist, vm_sizes):
    """`dana-box`: a compute instance assigned to the Data Scientist (dana)."""
    compute, _ = compute_services.compute_create(
        actor=owner,
        workspace=workspace,
        spec={"name": "dana-box", "type": "computeinstance", "assigned_user": "dana"},
    )
    return compute


@pytest.fixture
def docker_url():
    """The local Docker engine as an attached compute's URL."""
    require_service("Docker", os.path.exists(DOCKER_SOCKET), f"no {DOCKER_SOCKET}")
    return f"unix://{DOCKER_SOCKET}"
