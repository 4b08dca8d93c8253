"""The properties panel's problem list (draft_validate with `node`) is exactly the whole
draft's validation filtered to that node: on an incomplete draft, a complete one, one with
a missing component and one whose graph has a cycle."""

from __future__ import annotations

import pytest

from apps.designer import drafts, pipeline_yaml
from tests.designer.fixtures import *  # noqa: F403 (fixtures)
from tests.designer.fixtures import chain

pytestmark = pytest.mark.django_db


def per_node_matches_whole(owner, draft) -> list[dict]:
    whole = pipeline_yaml.draft_validate(actor=owner, draft=draft)
    for nid in [*(draft.graph.get("nodes") or {}), "no_such_node"]:
        one = pipeline_yaml.draft_validate(actor=owner, draft=draft, node=nid)
        assert one == [i for i in whole if i["node"] == nid], nid
    return whole


def test_one_nodes_problems_are_the_whole_validation_filtered_to_it(
    owner, draft, comps, dataset, cluster
):
    d = drafts.node_add(actor=owner, draft=draft, kind="component", ref="azureml:train:1")
    d = drafts.node_add(actor=owner, draft=d, kind="component", ref="azureml:score:1", x=300)
    d = drafts.node_set(actor=owner, draft=d, node="train", params={"epochs": "7"})
    assert len(per_node_matches_whole(owner, d)) >= 4  # ports, label, computes

    full = chain(owner, drafts.draft_create(actor=owner, workspace=d.workspace, name="c"),
                 comps, dataset)  # fmt: skip
    full = drafts.draft_set_settings(
        actor=owner, draft=full, settings={"default_compute": "cpu-cluster"}
    )
    assert per_node_matches_whole(owner, full) == []

    graph = full.graph
    graph["nodes"]["prep"]["ref"] = "azureml:prep:99"
    graph["nodes"]["train"]["compute"] = "gone"
    graph["edges"].append(
        {"id": "score.scored->prep.raw", "source": ["score", "scored"], "target": ["prep", "raw"]}
    )
    broken = drafts.draft_create(actor=owner, workspace=d.workspace, name="b", graph=graph)
    whole = per_node_matches_whole(owner, broken)
    assert any("cycle" in i["message"] for i in whole)
    assert any("no longer exists" in i["message"] for i in whole)
