"""Designer drafts: create, rename, delete; every gesture is one change (who, what, when, the
graph after it) and undo/redo walk them; the server refuses a bad connection or value with
the reason, writing nothing."""

from __future__ import annotations

import pytest

from apps.designer import drafts, pipeline_yaml
from apps.designer.models import Draft, DraftChange
from studio.errors import Conflict, NotFound, PermissionDenied, ValidationError
from tests.designer.fixtures import *  # noqa: F403 (fixtures)
from tests.designer.fixtures import chain

pytestmark = pytest.mark.django_db


def test_a_new_draft_starts_empty_at_revision_zero(owner, workspace):
    draft = drafts.draft_create(actor=owner, workspace=workspace, name="Churn v1")
    assert draft.graph == {"nodes": {}, "edges": [], "settings": {}}
    change = DraftChange.objects.get(draft=draft)
    assert (change.revision, change.action, change.actor) == (0, "create", owner)


def test_draft_names_are_unique_in_a_workspace_and_rename_checks_it(owner, workspace, draft):
    with pytest.raises(Conflict):
        drafts.draft_create(actor=owner, workspace=workspace, name="My pipeline")
    other = drafts.draft_create(actor=owner, workspace=workspace, name="Other")
    with pytest.raises(Conflict):
        drafts.draft_rename(actor=owner, draft=other, name="My pipeline")
    drafts.draft_rename(actor=owner, draft=other, name="Renamed")
    assert Draft.objects.get(pk=other.pk).name == "Renamed"
    drafts.draft_delete(actor=owner, draft=other)
    assert not Draft.objects.filter(pk=other.pk).exists()


def test_a_reader_cannot_change_a_draft_and_an_outsider_does_not_see_it(reader, outsider, draft):
    with pytest.raises(PermissionDenied):
        drafts.node_move(actor=reader, draft=draft, node="x", x=1, y=1)
    with pytest.raises(NotFound):
        drafts.draft_rename(actor=outsider, draft=draft, name="mine")


def test_each_gesture_is_one_revision_with_who_and_what(owner, draft, comps, dataset):
    d = chain(owner, draft, comps, dataset)
    assert d.revision == d.head_revision == 9
    actions = list(
        DraftChange.objects.filter(draft=d).order_by("revision").values_list("action", flat=True)
    )
    assert actions == ["create", *["add-node"] * 4, *["connect"] * 4, "set-param"]
    last = DraftChange.objects.get(draft=d, revision=9)
    assert last.actor == owner and "label" in last.summary and last.graph == d.graph
    assert d.graph["nodes"]["train"]["params"] == {"label": "species"}
    assert d.graph["nodes"]["train"]["label"] == "Train"


def test_undo_and_redo_walk_the_revisions_and_a_new_gesture_drops_the_redo_tail(
    owner, draft, comps
):
    d = drafts.node_add(actor=owner, draft=draft, kind="component", ref="azureml:prep:1")
    d = drafts.node_move(actor=owner, draft=d, node="prep", x=500, y=200)
    d = drafts.draft_undo(actor=owner, draft=d)
    assert (d.graph["nodes"]["prep"]["x"], d.revision, d.head_revision) == (40, 1, 2)
    d = drafts.draft_redo(actor=owner, draft=d)
    assert d.graph["nodes"]["prep"]["x"] == 500
    d = drafts.draft_undo(actor=owner, draft=d)
    d = drafts.draft_undo(actor=owner, draft=d)
    assert d.graph["nodes"] == {}
    with pytest.raises(Conflict, match="Nothing to undo"):
        drafts.draft_undo(actor=owner, draft=d)
    d = drafts.node_add(actor=owner, draft=d, kind="component", ref="azureml:train:1")
    assert (d.revision, d.head_revision) == (1, 1)
    with pytest.raises(Conflict, match="Nothing to redo"):
        drafts.draft_redo(actor=owner, draft=d)


def test_node_ids_are_unique_step_names(owner, draft, comps):
    d = drafts.node_add(actor=owner, draft=draft, kind="component", ref="azureml:prep:1")
    d = drafts.node_add(actor=owner, draft=d, kind="component", ref="azureml:prep@latest")
    assert sorted(d.graph["nodes"]) == ["prep", "prep_2"]
    assert d.graph["nodes"]["prep_2"]["ref"] == "azureml:prep:1"


def _refused(owner, d, source, target):
    before = d.revision
    with pytest.raises(ValidationError) as caught:
        drafts.edge_connect(actor=owner, draft=d, source=source, target=target)
    assert Draft.objects.get(pk=d.pk).revision == before
    return caught.value


def test_incompatible_types_and_parameters_are_refused_with_the_reason(
    owner, draft, comps, dataset, workspace
):
    d = chain(owner, draft, comps, dataset)
    d = drafts.node_add(actor=owner, draft=d, kind="component", ref="azureml:table_only:1")
    err = _refused(owner, d, ["train", "model"], ["table_only", "table"])
    assert "a mlflow_model output cannot feed 'table', a mltable input" in err.message
    assert "target" in err.fields
    err = _refused(owner, d, ["iris", "data"], ["train", "epochs"])
    assert "'epochs' is a parameter (integer)" in err.message
    err = _refused(owner, d, ["prep", "clean"], ["score", "model"])
    assert "uri_folder output cannot feed 'model', a mlflow_model input" in err.message


def test_a_connection_that_makes_a_cycle_is_refused_naming_the_path(owner, draft, comps, dataset):
    d = chain(owner, draft, comps, dataset)
    err = _refused(owner, d, ["score", "scored"], ["prep", "raw"])
    assert err.message == "it would make a cycle: prep → train → score → prep."


def test_a_new_edge_to_a_fed_input_replaces_the_old_one(owner, draft, comps, dataset):
    d = chain(owner, draft, comps, dataset)
    d = drafts.edge_connect(
        actor=owner, draft=d, source=["prep", "clean"], target=["score", "data"]
    )
    into_score_data = [e for e in d.graph["edges"] if e["target"] == ["score", "data"]]
    assert [e["source"] for e in into_score_data] == [["prep", "clean"]]


def test_parameters_are_typed_and_checked_against_the_component(owner, draft, comps, dataset):
    d = chain(owner, draft, comps, dataset)
    d = drafts.node_set(actor=owner, draft=d, node="train", params={"epochs": "12"})
    assert d.graph["nodes"]["train"]["params"]["epochs"] == 12
    with pytest.raises(ValidationError) as caught:
        drafts.node_set(
            actor=owner, draft=d, node="train", params={"epochs": "500", "solver": "adam"}
        )
    assert caught.value.fields["params.epochs"] == ["500 is above the maximum, 100."]
    assert "not one of the choices: lbfgs, saga" in caught.value.fields["params.solver"][0]
    assert Draft.objects.get(pk=d.pk).graph["nodes"]["train"]["params"]["epochs"] == 12
    d = drafts.node_set(actor=owner, draft=d, node="train", params={"epochs": ""})
    assert "epochs" not in d.graph["nodes"]["train"]["params"]


def test_deleting_a_node_removes_its_edges_in_one_change(owner, draft, comps, dataset):
    d = chain(owner, draft, comps, dataset)
    d = drafts.nodes_delete(actor=owner, draft=d, nodes=["train"])
    assert "train" not in d.graph["nodes"]
    assert all("train" not in e["id"] for e in d.graph["edges"])
    edge = d.graph["edges"][0]["id"]
    d = drafts.nodes_delete(actor=owner, draft=d, nodes=[], edges=[edge])
    assert edge not in {e["id"] for e in d.graph["edges"]}


def test_auto_layout_puts_each_node_right_of_its_inputs(owner, draft, comps, dataset):
    d = chain(owner, draft, comps, dataset)
    for node in d.graph["nodes"].values():
        node["x"] = node["y"] = 0
    d.save()
    d = drafts.draft_layout(actor=owner, draft=d)
    xs = {n: v["x"] for n, v in d.graph["nodes"].items()}
    assert xs["iris"] < xs["prep"] < xs["train"] < xs["score"]


def test_validate_lists_each_problem_on_its_node(owner, draft, comps, dataset, cluster):
    d = drafts.node_add(actor=owner, draft=draft, kind="component", ref="azureml:train:1")
    d = drafts.node_add(actor=owner, draft=d, kind="component", ref="azureml:score:1")
    issues = pipeline_yaml.draft_validate(actor=owner, draft=d)
    got = {(i["node"], i["field"]) for i in issues}
    assert ("train", "inputs.data") in got and ("train", "inputs.label") in got
    assert ("train", "compute") in got and ("score", "inputs.model") in got
    assert ("train", "inputs.epochs") not in got  # it has a default
    message = next(i["message"] for i in issues if i["field"] == "inputs.data")
    assert message == "required input port 'data' is not connected."
    d.graph["nodes"]["train"]["params"]["epochs"] = 0  # written by an older release
    d.save()
    issues = pipeline_yaml.draft_validate(actor=owner, draft=d)
    assert {"node": "train", "field": "inputs.epochs",
            "message": "0 is below the minimum, 1."} in issues  # fmt: skip


def test_a_complete_draft_with_a_compute_validates_clean(owner, draft, comps, dataset, cluster):
    d = chain(owner, draft, comps, dataset)
    d = drafts.draft_set_settings(actor=owner, draft=d, settings={"default_compute": "cpu-cluster"})
    assert pipeline_yaml.draft_validate(actor=owner, draft=d) == []
    assert pipeline_yaml.draft_check(actor=owner, draft=d) == []
