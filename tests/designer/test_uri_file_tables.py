"""A tabular file registered as a uri_file data asset (the upload form's default for one file)
feeds a built-in's table input, as in Azure ML's Designer: churn.csv connects to Clean
Missing Data, the draft validates, and submitting hands the step the file itself (a uri_file
input). Truly incompatible links stay refused: a model into a table, a uri_file into a
parameter, a non-tabular file into a table, a uri_file into a folder-only input (Train
Model's untrained model, another component's uri_folder input). A Parquet file is a table too:
the curated sklearn image the built-ins run on has pyarrow."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from apps.assets.models import Kind
from apps.assets.services import versions as version_services
from apps.designer import builtins, drafts, pipeline_yaml
from apps.designer import graph as g
from apps.designer.models import Draft
from apps.jobs.models import Job
from apps.jobs.services import lifecycle
from apps.workspaces import storage
from apps.workspaces.models import Datastore
from studio.errors import ValidationError
from tests.designer.fixtures import *  # noqa: F403 (fixtures)

pytestmark = pytest.mark.django_db

CSV = b"age,plan,churned\n34,basic,0\n,premium,1\n51,,0\n"


def uri_file(owner, workspace, name, filename, content=CSV):
    store = storage.open_store(Datastore.objects.get(workspace=workspace, is_default=True))
    store.write_stream(f"uploads/{name}/{filename}", io.BytesIO(content))
    return version_services.version_create(
        actor=owner, workspace=workspace, kind=Kind.DATA, name=name, version="1",
        fields={"type": "uri_file",
                "path": f"azureml://datastores/workspaceblobstore/paths/uploads/{name}/{filename}"},
    )  # fmt: skip


@pytest.fixture
def builtin(workspace):
    return {c.name: c for c in builtins.builtin_components_ensure(workspace=workspace)}


def _ref(row) -> str:
    return f"azureml:{row.name}:{row.version}"


def _refused(owner, d, source, target) -> str:
    before = d.revision
    with pytest.raises(ValidationError) as caught:
        drafts.edge_connect(actor=owner, draft=d, source=source, target=target)
    assert Draft.objects.get(pk=d.pk).revision == before
    assert "target" in caught.value.fields
    return caught.value.message


def test_a_uri_file_csv_feeds_clean_missing_data_validates_and_submits_as_a_file(
    owner, workspace, draft, builtin, cluster, monkeypatch, django_capture_on_commit_callbacks
):
    uri_file(owner, workspace, "churn", "churn.csv")
    d = drafts.node_add(actor=owner, draft=draft, kind="data", ref="azureml:churn:1")
    d = drafts.node_add(
        actor=owner, draft=d, kind="component", ref=_ref(builtin["clean_missing_data"]), x=300
    )
    d = drafts.edge_connect(
        actor=owner, draft=d, source=["churn", "data"], target=["clean_missing_data", "dataset"]
    )
    assert [e["id"] for e in d.graph["edges"]] == ["churn.data->clean_missing_data.dataset"]
    d = drafts.draft_set_settings(actor=owner, draft=d, settings={"default_compute": "cpu-cluster"})
    assert pipeline_yaml.draft_validate(actor=owner, draft=d) == []
    assert pipeline_yaml.draft_check(actor=owner, draft=d) == []

    sent: list[str] = []
    monkeypatch.setattr(lifecycle, "_send", lambda job: sent.append(job.name))
    with django_capture_on_commit_callbacks(execute=True):
        job = pipeline_yaml.draft_submit(actor=owner, draft=d)
    step = Job.objects.get(parent=job, spec__step="clean_missing_data")
    given = step.spec["inputs"]["dataset"]
    assert given["type"] == "uri_file"  # the runner hands the step the file's path
    assert given["uri"].endswith("/uploads/churn/churn.csv")
    assert step.name in sent


def test_a_uri_file_csv_feeds_every_builtin_table_input_and_no_folder_only_input(
    owner, workspace, draft, builtin
):
    uri_file(owner, workspace, "churn", "churn.csv")
    d = drafts.node_add(actor=owner, draft=draft, kind="data", ref="azureml:churn:1")
    for name, inputs in builtins.TABLE_INPUTS.items():
        d = drafts.node_add(actor=owner, draft=d, kind="component", ref=_ref(builtin[name]))
        for port in inputs:
            d = drafts.edge_connect(
                actor=owner, draft=d, source=["churn", "data"], target=[name, port]
            )
    assert len(d.graph["edges"]) == sum(len(v) for v in builtins.TABLE_INPUTS.values())
    err = _refused(owner, d, ["churn", "data"], ["train_model", "untrained_model"])
    assert err.startswith("a uri_file output cannot feed 'untrained_model', a uri_folder input")
    err = _refused(owner, d, ["churn", "data"], ["execute_python_script", "script_bundle"])
    assert "cannot feed 'script_bundle'" in err


def test_a_uri_file_parquet_feeds_split_data_validates_and_submits_as_a_file(
    owner, workspace, draft, builtin, cluster, monkeypatch, django_capture_on_commit_callbacks
):
    buf = io.BytesIO()
    pd.DataFrame({"age": [34, 51], "churned": [0, 1]}).to_parquet(buf, index=False)
    uri_file(owner, workspace, "events", "events.parquet", buf.getvalue())
    d = drafts.node_add(actor=owner, draft=draft, kind="data", ref="azureml:events:1")
    for name, inputs in builtins.TABLE_INPUTS.items():
        d = drafts.node_add(actor=owner, draft=d, kind="component", ref=_ref(builtin[name]))
        for port in inputs:
            d = drafts.edge_connect(
                actor=owner, draft=d, source=["events", "data"], target=[name, port]
            )
    assert len(d.graph["edges"]) == sum(len(v) for v in builtins.TABLE_INPUTS.values())
    err = _refused(owner, d, ["events", "data"], ["train_model", "untrained_model"])
    assert err.startswith("a uri_file output cannot feed 'untrained_model', a uri_folder input")

    d = drafts.draft_create(actor=owner, workspace=workspace, name="Events")
    d = drafts.node_add(actor=owner, draft=d, kind="data", ref="azureml:events:1")
    d = drafts.node_add(actor=owner, draft=d, kind="component", ref=_ref(builtin["split_data"]))
    d = drafts.edge_connect(
        actor=owner, draft=d, source=["events", "data"], target=["split_data", "dataset"]
    )
    d = drafts.draft_set_settings(actor=owner, draft=d, settings={"default_compute": "cpu-cluster"})
    assert pipeline_yaml.draft_validate(actor=owner, draft=d) == []
    assert pipeline_yaml.draft_check(actor=owner, draft=d) == []
    monkeypatch.setattr(lifecycle, "_send", lambda job: None)
    with django_capture_on_commit_callbacks(execute=True):
        job = pipeline_yaml.draft_submit(actor=owner, draft=d)
    given = Job.objects.get(parent=job, spec__step="split_data").spec["inputs"]["dataset"]
    assert given["type"] == "uri_file"
    assert given["uri"].endswith("/uploads/events/events.parquet")


def test_every_builtin_folder_input_is_either_a_table_or_named_folder_only(builtin):
    folder_only = {("train_model", "untrained_model"), ("execute_python_script", "script_bundle")}
    for name, row in builtin.items():
        for port, decl in row.inputs.items():
            if decl["type"] == "uri_folder":
                table = builtins.is_table_input(row, port)
                assert table != ((name, port) in folder_only), (name, port)


def test_incompatible_links_to_builtins_stay_refused(
    owner, workspace, draft, builtin, comps, dataset
):
    uri_file(owner, workspace, "churn", "churn.csv")
    uri_file(owner, workspace, "notes", "notes.json", b'{"a": 1}')
    d = drafts.node_add(actor=owner, draft=draft, kind="data", ref="azureml:churn:1")
    d = drafts.node_add(actor=owner, draft=d, kind="data", ref="azureml:notes:1")
    for name in ("clean_missing_data", "train_model", "split_data"):
        d = drafts.node_add(actor=owner, draft=d, kind="component", ref=_ref(builtin[name]))
    d = drafts.node_add(actor=owner, draft=d, kind="component", ref="azureml:prep:1")
    # a model into a table
    err = _refused(owner, d, ["train_model", "trained_model"], ["clean_missing_data", "dataset"])
    assert err == (
        "a mlflow_model output cannot feed 'dataset', a table input "
        "(it takes mltable, uri_file, uri_folder)."
    )
    # a uri_file into a parameter (an integer)
    err = _refused(owner, d, ["churn", "data"], ["split_data", "random_seed"])
    assert "'random_seed' is a parameter (integer)" in err
    # a file that is not a table
    err = _refused(owner, d, ["notes", "data"], ["clean_missing_data", "dataset"])
    assert err == (
        "'dataset' reads a table: a uri_file feeding it must be a CSV, TSV or Parquet file, "
        "and this one is notes.json."
    )
    # another component's folder input is not a built-in's table input
    err = _refused(owner, d, ["churn", "data"], ["prep", "raw"])
    assert err.startswith("a uri_file output cannot feed 'raw', a uri_folder input")


@pytest.mark.parametrize(
    "path, refusal",
    [
        ("azureml://datastores/workspaceblobstore/paths/u/churn.csv", None),
        ("azureml://datastores/workspaceblobstore/paths/u/CHURN.TSV", None),
        ("https://example.org/data/churn.csv?sig=x", None),
        ("azureml://datastores/workspaceblobstore/paths/u/t.parquet", None),
        ("azureml://datastores/workspaceblobstore/paths/u/part-0.PQ", None),
        (
            "azureml://datastores/workspaceblobstore/paths/u/t.parquet.crc",
            "this one is t.parquet.crc",
        ),
        ("azureml://datastores/workspaceblobstore/paths/u/notes.json", "this one is notes.json"),
    ],
)
def test_only_a_csv_tsv_or_parquet_file_feeds_a_table_input(path, refusal):
    got = g.file_table_refusal(path, "dataset")
    assert got is None if refusal is None else refusal in got


def test_type_refusal_takes_a_uri_file_only_into_a_table_input():
    assert g.type_refusal("uri_file", "uri_folder", "dataset", table=True) is None
    assert g.type_refusal("uri_file", "uri_folder", "raw") is not None
    assert g.type_refusal("mlflow_model", "uri_folder", "raw") is None  # a folder takes a model
    assert g.type_refusal("mlflow_model", "uri_folder", "dataset", table=True) is not None
    assert g.type_refusal("uri_file", "integer", "n", table=True).startswith("'n' is a parameter")
