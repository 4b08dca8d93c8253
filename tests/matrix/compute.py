"""Matrix rows: Manage > Compute pages and the compute API.

A Compute Operator, an Owner or a Contributor creates, changes and deletes compute; a Data
Scientist uses it (start, stop, restart) but cannot create or delete it; a Reader sees it.
The serverless compute's settings are a workspace setting (Owner, Contributor).
"""

import pytest

from . import api_expect, expect

MANAGERS = {"owner", "contributor", "compute_operator"}
OPERATORS = MANAGERS | {"data_scientist"}


def managers(ok, **kw):
    return expect(403, **dict.fromkeys(MANAGERS, ok), **kw)


def operators(ok, **kw):
    return expect(403, **dict.fromkeys(OPERATORS, ok), **kw)


def api_managers(ok, **kw):
    return api_expect(403, **dict.fromkeys(MANAGERS, ok), **kw)


def api_operators(ok, **kw):
    return api_expect(403, **dict.fromkeys(OPERATORS, ok), **kw)


@pytest.fixture
def matrix_cluster(owner, workspace):
    """`cpu-cluster` in churn."""
    from apps.workspaces.services import compute as compute_services

    compute_services.compute_create(
        actor=owner,
        workspace=workspace,
        spec={"name": "cpu-cluster", "type": "amlcompute", "max_instances": 2},
    )


@pytest.fixture
def matrix_instance(owner, workspace):
    """`dev-box`, a running compute instance, and `off-box`, a stopped one."""
    from apps.workspaces.services import compute as compute_services

    for name in ("dev-box", "off-box"):
        compute, _ = compute_services.compute_create(
            actor=owner, workspace=workspace, spec={"name": name, "type": "computeinstance"}
        )
    compute_services.compute_stop(actor=owner, compute=compute)


CLUSTER_FORM = {
    "name": "new-cluster",
    "size": "Standard_DS3_v2",
    "min_instances": 0,
    "max_instances": 1,
    "idle_time_before_scale_down": 120,
}
EDIT_FORM = {**CLUSTER_FORM, "max_instances": 3}
del EDIT_FORM["name"]
SERVERLESS_FORM = {"size": "Standard_DS3_v2", "max_instances": 5, "idle_time_before_scale_down": 60}

HTML = [
    ("workspaces:compute-list", "get", "/w/churn/compute/", None, expect(200)),
    (
        "workspaces:compute-create",
        "get",
        "/w/churn/compute-create/amlcompute/",
        None,
        managers(200),
    ),
    (
        "workspaces:compute-create",
        "post",
        "/w/churn/compute-create/amlcompute/",
        CLUSTER_FORM,
        managers(302),
    ),
    ("workspaces:compute-detail", "get", "/w/churn/compute/cpu-cluster/", None, expect(200)),
    ("workspaces:compute-nodes", "get", "/w/churn/compute/cpu-cluster/nodes/", None, expect(200)),
    ("workspaces:compute-edit", "get", "/w/churn/compute/cpu-cluster/edit/", None, managers(200)),
    (
        "workspaces:compute-edit",
        "post",
        "/w/churn/compute/cpu-cluster/edit/",
        EDIT_FORM,
        managers(302),
    ),
    (
        "workspaces:compute-edit",
        "post",
        "/w/churn/compute/serverless/edit/",
        SERVERLESS_FORM,
        expect(403, owner=302, contributor=302),
    ),
    (
        "workspaces:compute-delete",
        "post",
        "/w/churn/compute/cpu-cluster/delete/",
        None,
        managers(302),
    ),
    (
        "workspaces:compute-operate",
        "post",
        "/w/churn/compute/dev-box/stop/",
        None,
        operators(302),
    ),
]

COMPUTES = "/api/v1/workspaces/churn/computes/"
API = [
    ("api:vm-size-list", "get", "/api/v1/vm-sizes/", None, api_expect(200, outsider=200)),
    ("api:compute-list", "get", COMPUTES, None, api_expect(200)),
    (
        "api:compute-list",
        "post",
        COMPUTES,
        {"name": "new-cluster", "type": "amlcompute", "max_instances": 2},
        api_managers(201),
    ),
    ("api:compute-detail", "get", f"{COMPUTES}cpu-cluster/", None, api_expect(200)),
    (
        "api:compute-detail",
        "patch",
        f"{COMPUTES}cpu-cluster/",
        {"max_instances": 3},
        api_managers(200),
    ),
    (
        "api:compute-detail",
        "patch",
        f"{COMPUTES}serverless/",
        {"max_instances": 6},
        api_expect(403, owner=200, contributor=200),
    ),
    ("api:compute-detail", "delete", f"{COMPUTES}cpu-cluster/", None, api_managers(204)),
    ("api:compute-start", "post", f"{COMPUTES}off-box/start/", None, api_operators(200)),
    ("api:compute-stop", "post", f"{COMPUTES}dev-box/stop/", None, api_operators(200)),
    ("api:compute-restart", "post", f"{COMPUTES}dev-box/restart/", None, api_operators(200)),
    ("api:compute-nodes", "get", f"{COMPUTES}cpu-cluster/nodes/", None, api_expect(200)),
    ("api:compute-events", "get", f"{COMPUTES}cpu-cluster/events/", None, api_expect(200)),
]

_CLUSTER_PATHS = [
    "/w/churn/compute/cpu-cluster/",
    "/w/churn/compute/cpu-cluster/nodes/",
    "/w/churn/compute/cpu-cluster/edit/",
    "/w/churn/compute/cpu-cluster/delete/",
    f"{COMPUTES}cpu-cluster/",
    f"{COMPUTES}cpu-cluster/nodes/",
    f"{COMPUTES}cpu-cluster/events/",
]
_INSTANCE_PATHS = [
    "/w/churn/compute/dev-box/stop/",
    f"{COMPUTES}off-box/start/",
    f"{COMPUTES}dev-box/stop/",
    f"{COMPUTES}dev-box/restart/",
]
FIXTURES = {
    **{path: ("matrix_cluster",) for path in _CLUSTER_PATHS},
    **{path: ("matrix_instance",) for path in _INSTANCE_PATHS},
}
