"""Fixtures of the Designer tests (imported with `from tests.designer.fixtures import *`):
components made in the test (a prep step, a trainer with ranged parameters, a scorer, a
table-only step), a data asset, a cluster, and a draft."""

from __future__ import annotations

import pytest

from apps.assets.models import Kind
from apps.assets.services import versions as version_services
from apps.assets.services.components import component_create
from apps.designer import drafts
from apps.workspaces.models import Compute
from tests.jobs.test_submit_fixtures import environment  # noqa: F401

ENV = "azureml:sklearn:1"


def make_component(owner, workspace, name, inputs, outputs, version="1"):
    parts = [f"--{k} ${{{{inputs.{k}}}}}" for k, d in inputs.items() if not d.get("optional")]
    parts += [f"$[[--{k} ${{{{inputs.{k}}}}}]]" for k, d in inputs.items() if d.get("optional")]
    parts += [f"--{k} ${{{{outputs.{k}}}}}" for k in outputs]
    return component_create(
        actor=owner,
        workspace=workspace,
        data={
            "name": name, "version": version, "display_name": name.replace("_", " ").title(),
            "command": f"python {name}.py " + " ".join(parts), "environment": ENV,
            "inputs": inputs, "outputs": outputs,
        },
    )  # fmt: skip


@pytest.fixture
def comps(owner, workspace, environment):  # noqa: F811
    return {
        "prep": make_component(
            owner, workspace, "prep", {"raw": {"type": "uri_folder"}},
            {"clean": {"type": "uri_folder"}},
        ),
        "train": make_component(
            owner, workspace, "train",
            {
                "data": {"type": "uri_folder"},
                "epochs": {"type": "integer", "default": 5, "min": 1, "max": 100},
                "label": {"type": "string"},
                "solver": {"type": "string", "enum": ["lbfgs", "saga"], "optional": True},
            },
            {"model": {"type": "mlflow_model"}},
        ),
        "score": make_component(
            owner, workspace, "score",
            {"model": {"type": "mlflow_model"}, "data": {"type": "uri_folder"}},
            {"scored": {"type": "uri_folder"}},
        ),
        "table": make_component(
            owner, workspace, "table_only", {"table": {"type": "mltable"}},
            {"out": {"type": "uri_folder"}},
        ),
    }  # fmt: skip


@pytest.fixture
def dataset(workspace, owner):
    return version_services.version_create(
        actor=owner, workspace=workspace, kind=Kind.DATA, name="iris", version="3",
        fields={"type": "uri_folder",
                "path": "azureml://datastores/workspaceblobstore/paths/iris/"},
    )  # fmt: skip


@pytest.fixture
def cluster(workspace):
    return Compute.objects.create(workspace=workspace, name="cpu-cluster", type="amlcompute")


@pytest.fixture
def draft(owner, workspace):
    return drafts.draft_create(actor=owner, workspace=workspace, name="My pipeline")


def chain(owner, draft, comps, dataset):
    """iris → prep → train → score (and iris → score.data): a full, valid graph."""
    d = drafts.node_add(actor=owner, draft=draft, kind="data", ref="azureml:iris:3", x=0, y=0)
    d = drafts.node_add(actor=owner, draft=d, kind="component", ref="azureml:prep:1", x=300)
    d = drafts.node_add(actor=owner, draft=d, kind="component", ref="azureml:train:1", x=600)
    d = drafts.node_add(actor=owner, draft=d, kind="component", ref="azureml:score:1", x=900)
    d = drafts.edge_connect(actor=owner, draft=d, source=["iris", "data"], target=["prep", "raw"])
    d = drafts.edge_connect(
        actor=owner, draft=d, source=["prep", "clean"], target=["train", "data"]
    )
    d = drafts.edge_connect(
        actor=owner, draft=d, source=["train", "model"], target=["score", "model"]
    )
    d = drafts.edge_connect(actor=owner, draft=d, source=["iris", "data"], target=["score", "data"])
    return drafts.node_set(actor=owner, draft=d, node="train", params={"label": "species"})
