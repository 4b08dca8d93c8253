"""The MLflow REST API's behaviour: error shapes, params, metrics, runs, search, logged
models, with Django's test client and a real personal token."""

from __future__ import annotations

import pytest

from apps.jobs.models import (
    Experiment,
    Job,
    JobParam,
    JobStatusChange,
    LatestMetric,
    LoggedModel,
    MetricRollup,
    MetricSample,
)
from apps.jobs.services import tracking
from tests.factories import make_workspace

from .conftest import error_of

pytestmark = pytest.mark.django_db


def metric(key, value, step, timestamp=1000):
    return {"key": key, "value": value, "timestamp": timestamp, "step": step}


# Errors ------------------------------------------------------------------------------------


def test_get_by_name_of_a_missing_experiment_is_exactly_resource_does_not_exist(api):
    response = api.get("experiments/get-by-name", {"experiment_name": "nope"})
    assert response.status_code == 404
    assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert "nope" in response.json()["message"]


def test_creating_an_experiment_twice_is_resource_already_exists(api, experiment):
    assert error_of(api.post("experiments/create", {"name": "exp"})) == (
        400,
        "RESOURCE_ALREADY_EXISTS",
    )


def test_bad_input_is_a_4xx_with_mlflow_error_json_never_a_500(api, run):
    cases = [
        (api.client.post("/mlflow/churn/api/2.0/mlflow/runs/log-metric", "{not json",
                         content_type="application/json"), 400, "MALFORMED_REQUEST"),
        (api.post("runs/log-metric", {"run_id": run.run_id, "key": "k", "value": "abc",
                                      "timestamp": 1}), 400, "INVALID_PARAMETER_VALUE"),
        (api.post("runs/log-metric", {"key": "k", "value": 1.0, "timestamp": 1}), 400,
         "INVALID_PARAMETER_VALUE"),
        (api.post("runs/log-metric", {"run_id": "f" * 32, "key": "k", "value": 1.0,
                                      "timestamp": 1}), 404, "RESOURCE_DOES_NOT_EXIST"),
        (api.post("runs/log-metric", {"run_id": "zzz", "key": "k", "value": 1.0,
                                      "timestamp": 1}), 404, "RESOURCE_DOES_NOT_EXIST"),
        (api.post("runs/log-batch", {"run_id": run.run_id, "metrics": "x"}), 400,
         "INVALID_PARAMETER_VALUE"),
        (api.post("runs/log-batch", {"run_id": run.run_id,
                                     "metrics": [metric("k", 1.0, 0)] * 1001}), 400,
         "INVALID_PARAMETER_VALUE"),
        (api.post("runs/log-parameter", {"run_id": run.run_id, "key": "../x", "value": "1"}),
         400, "INVALID_PARAMETER_VALUE"),
        (api.post("runs/search", {"experiment_ids": [str(run.experiment_id)],
                                  "filter": "metrics.acc >"}), 400, "INVALID_PARAMETER_VALUE"),
        (api.post("runs/search", {"experiment_ids": [str(run.experiment_id)],
                                  "page_token": "???"}), 400, "INVALID_PARAMETER_VALUE"),
        (api.post("runs/search", {"experiment_ids": ["abc"]}), 400, "INVALID_PARAMETER_VALUE"),
        (api.get("experiments/get", {"experiment_id": "999999"}), 404,
         "RESOURCE_DOES_NOT_EXIST"),
        (api.post("runs/create", {"experiment_id": "999999"}), 404, "RESOURCE_DOES_NOT_EXIST"),
        (api.get("logged-models/m-nope"), 404, "RESOURCE_DOES_NOT_EXIST"),
        (api.post("runs/update", {"run_id": run.run_id, "status": "NOPE"}), 400,
         "INVALID_PARAMETER_VALUE"),
        (api.get("runs/create"), 405, "ENDPOINT_NOT_FOUND"),
    ]  # fmt: skip
    for response, status, code in cases:
        assert error_of(response) == (status, code), response.content


# Params, tags, metrics ----------------------------------------------------------------------


def test_a_param_keeps_its_first_value(api, run):
    body = {"run_id": run.run_id, "key": "lr", "value": "0.1"}
    assert api.post("runs/log-parameter", body).status_code == 200
    assert api.post("runs/log-parameter", body).status_code == 200  # same value: fine
    response = api.post("runs/log-parameter", {**body, "value": "0.2"})
    assert error_of(response) == (400, "INVALID_PARAMETER_VALUE")
    assert "Changing param values is not allowed" in response.json()["message"]
    assert JobParam.objects.get(job=run, key="lr").value == "0.1"


def test_a_refused_batch_leaves_nothing_half_made(api, run):
    api.post("runs/log-parameter", {"run_id": run.run_id, "key": "lr", "value": "0.1"})
    response = api.post(
        "runs/log-batch",
        {
            "run_id": run.run_id,
            "metrics": [metric("loss", 0.5, 1)],
            "params": [{"key": "lr", "value": "9"}],
            "tags": [{"key": "t", "value": "v"}],
        },
    )
    assert error_of(response) == (400, "INVALID_PARAMETER_VALUE")
    assert not MetricSample.objects.filter(job=run).exists()
    assert "t" not in Job.objects.get(pk=run.pk).tags


def test_the_latest_metric_is_the_highest_step_whatever_the_order_of_arrival(api, run):
    def log(*metrics):
        response = api.post("runs/log-batch", {"run_id": run.run_id, "metrics": list(metrics)})
        assert response.status_code == 200, response.content

    log(metric("loss", 0.5, 5, 1000))
    log(metric("loss", 0.9, 3, 2000))  # older step, later time: not the latest
    latest = LatestMetric.objects.get(job=run, key="loss")
    assert (latest.step, latest.value) == (5, 0.5)
    log(metric("loss", 0.4, 5, 1500))  # same step, later time: replaces
    log(metric("loss", 0.3, 5, 1400))  # same step, earlier time: does not
    assert LatestMetric.objects.get(job=run, key="loss").value == 0.4
    log(metric("loss", 0.2, 7, 10), metric("loss", 0.1, 9, 5), metric("loss", 0.6, 8, 99))
    latest = LatestMetric.objects.get(job=run, key="loss")
    assert (latest.step, latest.value) == (9, 0.1)
    assert MetricSample.objects.filter(job=run, key="loss").count() == 7
    history = api.get("metrics/get-history", {"run_id": run.run_id, "metric_key": "loss"})
    assert [m["step"] for m in history.json()["metrics"]] == [3, 5, 5, 5, 7, 8, 9]


def test_log_batch_costs_the_same_queries_for_one_entity_or_a_thousand(
    api, run, django_assert_num_queries
):
    def batch(n, prefix):
        return {
            "run_id": run.run_id,
            "metrics": [metric(f"m{i % 10}", float(i), i) for i in range(n)],
            "params": [{"key": f"{prefix}p{i}", "value": "1"} for i in range(min(n, 50))],
            "tags": [{"key": f"{prefix}t{i}", "value": "1"} for i in range(min(n, 50))],
        }

    api.post("runs/log-batch", batch(1, "warm"))  # the token's last-use stamp is written once
    # token + membership + workspace (one query), job (locked), params insert + check, tags,
    # samples + latest + rollups (one statement on PostgreSQL, three on SQLite), and the test
    # transaction's savepoint and release around the service. (Was 10 and 12, with three
    # queries for the caller.)
    queries = 8 if _one_write_statement() else 10
    with django_assert_num_queries(queries):
        assert api.post("runs/log-batch", batch(1, "a")).status_code == 200
    with django_assert_num_queries(queries):
        assert api.post("runs/log-batch", batch(900, "b")).status_code == 200  # + 100 = 1000
    assert MetricSample.objects.filter(job=run).count() == 902
    assert LatestMetric.objects.get(job=run, key="m9").step == 899


def test_log_metric_costs_a_constant_few_queries(api, run, django_assert_num_queries):
    body = metric("loss", 0.1, 0) | {"run_id": run.run_id}
    api.post("runs/log-metric", body)
    # PostgreSQL: the caller (token, membership, workspace), then the run's check and the
    # samples + latest + rollups in one statement, without a transaction of its own (was 7).
    # SQLite: the caller, savepoint, job, the three writes, release (was 9).
    with django_assert_num_queries(2 if _one_write_statement() else 7):
        assert api.post("runs/log-metric", body).status_code == 200
    assert LatestMetric.objects.get(job=run, key="loss").value == 0.1
    assert MetricRollup.objects.get(job=run, key="loss").n == 2


def test_a_log_batch_of_metrics_alone_is_two_queries_on_postgresql(
    api, run, django_assert_num_queries
):
    body = {
        "run_id": run.run_id,
        "metrics": [metric(f"m{i % 10}", float(i), i) for i in range(1000)],
    }
    api.post("runs/log-batch", {"run_id": run.run_id, "metrics": [metric("w", 0.0, 0)]})
    with django_assert_num_queries(2 if _one_write_statement() else 7):
        assert api.post("runs/log-batch", body).status_code == 200
    assert MetricSample.objects.filter(job=run).count() == 1001
    assert LatestMetric.objects.get(job=run, key="m3").step == 993


def test_logging_to_a_deleted_run_or_another_workspaces_run_writes_nothing(api, owner, run):
    elsewhere = make_workspace(owner=owner, name="elsewhere")
    other = tracking.run_create(
        actor=owner, experiment=tracking.experiment_default(workspace=elsewhere)
    )
    one = metric("k", 1.0, 0)
    for path, body in (("runs/log-metric", one), ("runs/log-batch", {"metrics": [one]})):
        assert error_of(api.post(path, body | {"run_id": other.run_id})) == (
            404,
            "RESOURCE_DOES_NOT_EXIST",
        )
    assert api.post("runs/delete", {"run_id": run.run_id}).status_code == 200
    for path, body in (("runs/log-metric", one), ("runs/log-batch", {"metrics": [one]})):
        response = api.post(path, body | {"run_id": run.run_id})
        assert error_of(response) == (400, "INVALID_PARAMETER_VALUE")
        assert "must be in the 'active' state" in response.json()["message"]
    for model in (MetricSample, LatestMetric, MetricRollup):
        assert not model.objects.exists()


def _one_write_statement() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


def test_a_batch_of_awkward_values_is_stored_exactly(api, run):
    from django.db import connection

    values = [0.1, -0.0, 5e-324, 1.7976931348623157e308, -3.25, 2.0**53 + 2, float("inf")]
    if connection.vendor == "postgresql":
        values.append(float("nan"))
    as_json = {float("inf"): "Infinity"}  # as MLflow's client sends them
    odd = "a \"quoted\", {braced} \\back\\slashed\\ name; 'single' NULL"
    metrics = [
        {"key": "odd key/é", "value": "NaN" if v != v else as_json.get(v, v),
         "timestamp": 2**62 + i, "step": -(2**63) + i, "dataset_name": odd,
         "dataset_digest": "NULL"}
        for i, v in enumerate(values)
    ]  # fmt: skip
    response = api.post("runs/log-batch", {"run_id": run.run_id, "metrics": metrics})
    assert response.status_code == 200, response.content
    stored = MetricSample.objects.filter(job=run).order_by("step")
    rows = stored.values_list(
        "key", "value", "timestamp_ms", "step", "dataset_name", "dataset_digest"
    )
    assert len(rows) == len(values)
    for i, (key, value, ts, step, name, digest) in enumerate(rows):
        assert (key, ts, step, name, digest) == ("odd key/é", 2**62 + i, -(2**63) + i, odd, "NULL")
        # repr: exact to the bit, NaN included (SQLite alone turns -0.0 into 0.0)
        assert repr(value) == repr(values[i]) or (connection.vendor == "sqlite" and value == 0)
    assert LatestMetric.objects.get(job=run, key="odd key/é").step == -(2**63) + len(values) - 1
    rollup = MetricRollup.objects.get(job=run, key="odd key/é")
    assert rollup.n == len(values) and rollup.v_hi == float("inf")


def test_nan_and_infinite_metrics_are_accepted_where_the_database_can_hold_them(api, run):
    from django.db import connection

    response = api.post("runs/log-metric", metric("inf", "Infinity", 0) | {"run_id": run.run_id})
    assert response.status_code == 200
    assert LatestMetric.objects.get(job=run, key="inf").value == float("inf")
    response = api.post("runs/log-metric", metric("nan", "NaN", 0) | {"run_id": run.run_id})
    if connection.vendor == "postgresql":
        assert response.status_code == 200
    else:
        assert error_of(response) == (400, "INVALID_PARAMETER_VALUE")
        assert "NaN" in response.json()["message"]


def test_set_and_delete_tags_and_rename_through_the_run_name_tag(api, run):
    assert (
        api.post("runs/set-tag", {"run_id": run.run_id, "key": "k", "value": "v"}).status_code
        == 200
    )
    api.post("runs/set-tag", {"run_id": run.run_id, "key": "mlflow.runName", "value": "renamed"})
    job = Job.objects.get(pk=run.pk)
    assert job.tags["k"] == "v" and job.display_name == "renamed"
    assert api.post("runs/delete-tag", {"run_id": run.run_id, "key": "k"}).status_code == 200
    assert "k" not in Job.objects.get(pk=run.pk).tags
    assert error_of(api.post("runs/delete-tag", {"run_id": run.run_id, "key": "k"}))[0] == 404


# Runs ---------------------------------------------------------------------------------------


def test_a_run_is_a_job_and_its_statuses_map_to_azures(api, experiment, owner):
    response = api.post(
        "runs/create",
        {"experiment_id": str(experiment.pk), "run_name": "laptop run", "user_id": "bob",
         "start_time": 1700000000000, "tags": [{"key": "mlflow.source.type", "value": "LOCAL"}]},
    )  # fmt: skip
    info = response.json()["run"]["info"]
    job = Job.objects.get(pk=info["run_id"])
    assert (job.type, job.status, job.display_name) == (Job.Type.RUN, "Running", "laptop run")
    assert job.mlflow_user == "bob" and job.created_by == owner and job.compute is None
    assert job.name != job.display_name and job.name.count("_") == 2
    assert info["status"] == "RUNNING" and info["start_time"] == 1700000000000
    assert info["artifact_uri"] == f"mlflow-artifacts:/{experiment.pk}/{job.run_id}/artifacts"
    for mlflow_status, azure in [("KILLED", "Canceled"), ("FAILED", "Failed"),
                                 ("SCHEDULED", "Queued"), ("FINISHED", "Completed")]:  # fmt: skip
        response = api.post(
            "runs/update", {"run_id": job.run_id, "status": mlflow_status, "end_time": 5}
        )
        assert response.json()["run_info"]["status"] == mlflow_status
        assert Job.objects.get(pk=job.pk).status == azure
    assert list(JobStatusChange.objects.filter(job=job).values_list("status", flat=True)) == [
        "Running", "Canceled", "Failed", "Queued", "Completed",
    ]  # fmt: skip


def test_a_container_jobs_status_stays_with_its_runner(api, run):
    Job.objects.filter(pk=run.pk).update(type=Job.Type.COMMAND)
    api.post("runs/update", {"run_id": run.run_id, "status": "FINISHED", "run_name": "x"})
    job = Job.objects.get(pk=run.pk)
    assert job.status == Job.Status.RUNNING and job.display_name == "x"


def test_deleted_runs_refuse_logging_and_leave_active_searches(api, run):
    assert api.post("runs/delete", {"run_id": run.run_id}).status_code == 200
    response = api.post("runs/log-metric", metric("k", 1.0, 0) | {"run_id": run.run_id})
    assert error_of(response) == (400, "INVALID_PARAMETER_VALUE")
    search = {"experiment_ids": [str(run.experiment_id)]}
    assert api.post("runs/search", search).json() == {}
    deleted = api.post("runs/search", search | {"run_view_type": "DELETED_ONLY"}).json()
    assert [r["info"]["run_id"] for r in deleted["runs"]] == [run.run_id]
    assert api.post("runs/restore", {"run_id": run.run_id}).status_code == 200
    assert len(api.post("runs/search", search).json()["runs"]) == 1


def test_run_search_filters_on_metrics_params_tags_and_attributes_and_orders(
    api, owner, experiment
):
    from apps.jobs.services import tracking

    runs = []
    for i in range(3):
        job = tracking.run_create(actor=owner, experiment=experiment, run_name=f"run{i}")
        api.post(
            "runs/log-batch",
            {
                "run_id": job.run_id,
                "metrics": [metric("acc", 0.5 + i / 10, 1)],
                "params": [{"key": "lr", "value": str(i)}],
                "tags": [{"key": "team", "value": "a" if i < 2 else "b"}],
            },
        )
        runs.append(job.run_id)

    def search(filter_string="", order_by=(), **extra):
        body = {"experiment_ids": [str(experiment.pk)], "filter": filter_string,
                "order_by": list(order_by), **extra}  # fmt: skip
        response = api.post("runs/search", body)
        assert response.status_code == 200, response.content
        return [r["info"]["run_id"] for r in response.json().get("runs", [])], response.json()

    assert search("metrics.acc > 0.55", ["metrics.acc DESC"])[0] == [runs[2], runs[1]]
    assert search("params.lr = '1'")[0] == [runs[1]]
    assert search("params.lr != '1'", ["params.lr"])[0] == [runs[0], runs[2]]
    assert search("tags.team = 'a'", ["attributes.run_name DESC"])[0] == [runs[1], runs[0]]
    assert search("tags.team LIKE 'b%' and metrics.acc >= 0.7")[0] == [runs[2]]
    assert search("tags.missing IS NULL", ["run_name"])[0] == runs
    assert search("attributes.status = 'RUNNING' and run_name ILIKE 'RUN_'")[1]["runs"]
    assert search(f"attributes.run_id IN ('{runs[0]}', '{runs[2]}')", ["run_name"])[0] == [
        runs[0],
        runs[2],
    ]
    page, body = search(order_by=["run_name"], max_results=2)
    assert page == runs[:2] and body["next_page_token"]
    assert search(order_by=["run_name"], page_token=body["next_page_token"])[0] == runs[2:]
    data = api.post("runs/search", {"experiment_ids": [str(experiment.pk)]}).json()["runs"][0]
    assert {p["key"] for p in data["data"]["params"]} == {"lr"}
    assert data["data"]["metrics"][0]["key"] == "acc"


def test_experiments_search_update_delete_restore_and_tags(api, experiment):
    body = api.get("experiments/search", {"max_results": "10"}).json()
    assert {e["name"] for e in body["experiments"]} == {"Default", "exp"}
    ident = {"experiment_id": str(experiment.pk)}
    assert (
        api.post("experiments/set-experiment-tag", ident | {"key": "k", "value": "v"}).status_code
        == 200
    )
    assert api.post("experiments/update", ident | {"new_name": "renamed"}).status_code == 200
    assert api.post("experiments/delete", ident).status_code == 200
    found = api.post("experiments/search", {"view_type": "DELETED_ONLY"}).json()["experiments"]
    assert [(e["name"], e["tags"]) for e in found] == [("renamed", [{"key": "k", "value": "v"}])]
    assert error_of(api.post("experiments/create", {"name": "renamed"}))[1] == (
        "RESOURCE_ALREADY_EXISTS"
    )
    assert api.post("experiments/restore", ident).status_code == 200
    assert Experiment.objects.get(pk=experiment.pk).lifecycle_stage == "active"
    named = api.post("experiments/search", {"filter": "name LIKE 'ren%'"}).json()["experiments"]
    assert [e["experiment_id"] for e in named] == [str(experiment.pk)]


def test_experiment_zero_is_the_workspaces_default_experiment(api, workspace):
    body = api.get("experiments/get", {"experiment_id": "0"}).json()["experiment"]
    default = Experiment.objects.get(workspace=workspace, name="Default")
    assert body["experiment_id"] == str(default.pk)
    assert body["artifact_location"] == f"mlflow-artifacts:/{default.pk}"


def test_metric_history_pages_and_bulk_interval_samples(api, run):
    api.post(
        "runs/log-batch",
        {"run_id": run.run_id, "metrics": [metric("loss", float(s), s) for s in range(100)]},
    )
    first = api.get(
        "metrics/get-history", {"run_id": run.run_id, "metric_key": "loss", "max_results": "60"}
    ).json()
    rest = api.get(
        "metrics/get-history",
        {"run_id": run.run_id, "metric_key": "loss", "page_token": first["next_page_token"],
         "max_results": "60"},
    ).json()  # fmt: skip
    assert [m["step"] for m in first["metrics"] + rest["metrics"]] == list(range(100))
    sampled = api.get(
        "metrics/get-history-bulk-interval",
        {"run_ids": [run.run_id], "metric_key": "loss", "max_results": "5"},
    ).json()["metrics"]
    assert [m["step"] for m in sampled] == [0, 25, 50, 74, 99]
    assert {m["run_id"] for m in sampled} == {run.run_id}


# Logged models -------------------------------------------------------------------------------


def test_logged_models_are_created_finalized_tagged_searched_and_deleted(api, run):
    created = api.post(
        "logged-models",
        {"experiment_id": str(run.experiment_id), "name": "model", "source_run_id": run.run_id,
         "params": [{"key": "lr", "value": "0.1"}], "tags": [{"key": "a", "value": "1"}]},
    ).json()["model"]  # fmt: skip
    model_id = created["info"]["model_id"]
    assert model_id.startswith("m-") and len(model_id) == 34
    assert created["info"]["status"] == "LOGGED_MODEL_PENDING"
    assert created["info"]["artifact_uri"] == (
        f"mlflow-artifacts:/{run.experiment_id}/models/{model_id}/artifacts"
    )
    path = f"logged-models/{model_id}"
    final = api.patch(path, {"model_id": model_id, "status": "LOGGED_MODEL_READY"}).json()
    assert final["model"]["info"]["status"] == "LOGGED_MODEL_READY"
    assert api.patch(f"{path}/tags", {"tags": [{"key": "b", "value": "2"}]}).status_code == 200
    assert api.delete(f"{path}/tags/a").status_code == 200
    assert (
        api.post(f"{path}/params", {"params": [{"key": "depth", "value": "3"}]}).status_code == 200
    )
    api.post("runs/outputs", {"run_id": run.run_id, "models": [{"model_id": model_id, "step": 4}]})
    info = api.get(path).json()["model"]
    assert info["info"]["tags"] == [{"key": "b", "value": "2"}]
    assert {p["key"] for p in info["data"]["params"]} == {"lr", "depth"}
    run_body = api.get("runs/get", {"run_id": run.run_id}).json()["run"]
    assert run_body["outputs"]["model_outputs"] == [{"model_id": model_id, "step": 4}]

    search = {"experiment_ids": [str(run.experiment_id)]}
    found = api.post("logged-models/search", search | {"filter": "name = 'model'"}).json()
    assert [m["info"]["model_id"] for m in found["models"]] == [model_id]
    assert api.post("logged-models/search", search | {"filter": "name = 'other'"}).json() == {}
    by_run = api.post(
        "logged-models/search", search | {"filter": f"source_run_id = '{run.run_id}'"}
    ).json()
    assert len(by_run["models"]) == 1
    assert api.delete(path).status_code == 200
    assert not LoggedModel.objects.filter(pk=model_id).exists()


def test_server_info_announces_plain_proxied_transfers(api):
    body = api.get("/mlflow/churn/api/3.0/mlflow/server-info").json()
    assert body["multipart_uploads_enabled"] is False
    assert body["multipart_downloads_enabled"] is False
