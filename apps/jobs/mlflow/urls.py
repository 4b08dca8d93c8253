"""The MLflow REST API's routes, mounted under /mlflow/<workspace name>/ so that
MLFLOW_TRACKING_URI=http://<studio>/mlflow/<workspace> works with the stock client.

Paths are exactly MLflow's (no trailing slash: APPEND_SLASH cannot redirect a POST). The
model registry (registered-models/*, model-versions/*) is not served yet.
"""

from django.urls import path

from . import views as v

app_name = "mlflow"

API = "api/2.0/mlflow"
ARTIFACTS = "api/2.0/mlflow-artifacts/artifacts"
MODEL = f"{API}/logged-models/<str:model_id>"

urlpatterns = [
    # Experiments
    path(
        f"{API}/experiments/get-by-name",
        v.route(GET=v.experiment_get_by_name),
        name="experiment-get-by-name",
    ),
    path(f"{API}/experiments/create", v.route(POST=v.experiment_create), name="experiment-create"),
    path(f"{API}/experiments/get", v.route(GET=v.experiment_get), name="experiment-get"),
    path(
        f"{API}/experiments/search",
        v.route(GET=v.experiment_search, POST=v.experiment_search),
        name="experiment-search",
    ),
    path(f"{API}/experiments/update", v.route(POST=v.experiment_update), name="experiment-update"),
    path(f"{API}/experiments/delete", v.route(POST=v.experiment_delete), name="experiment-delete"),
    path(
        f"{API}/experiments/restore", v.route(POST=v.experiment_restore), name="experiment-restore"
    ),
    path(
        f"{API}/experiments/set-experiment-tag",
        v.route(POST=v.experiment_set_tag),
        name="experiment-set-tag",
    ),
    path(
        f"{API}/experiments/delete-experiment-tag",
        v.route(POST=v.experiment_delete_tag),
        name="experiment-delete-tag",
    ),
    # Runs
    path(f"{API}/runs/create", v.route(POST=v.run_create), name="run-create"),
    path(f"{API}/runs/update", v.route(POST=v.run_update), name="run-update"),
    path(f"{API}/runs/get", v.route(GET=v.run_get), name="run-get"),
    path(f"{API}/runs/delete", v.route(POST=v.run_delete), name="run-delete"),
    path(f"{API}/runs/restore", v.route(POST=v.run_restore), name="run-restore"),
    path(f"{API}/runs/log-metric", v.route(POST=v.run_log_metric), name="run-log-metric"),
    path(f"{API}/runs/log-parameter", v.route(POST=v.run_log_parameter), name="run-log-parameter"),
    path(f"{API}/runs/set-tag", v.route(POST=v.run_set_tag), name="run-set-tag"),
    path(f"{API}/runs/delete-tag", v.route(POST=v.run_delete_tag), name="run-delete-tag"),
    path(f"{API}/runs/log-batch", v.route(POST=v.run_log_batch), name="run-log-batch"),
    path(f"{API}/runs/search", v.route(POST=v.run_search), name="run-search"),
    path(f"{API}/runs/log-inputs", v.route(POST=v.run_log_inputs), name="run-log-inputs"),
    path(f"{API}/runs/outputs", v.route(POST=v.run_log_outputs), name="run-outputs"),
    path(
        f"{API}/metrics/get-history", v.route(GET=v.metric_get_history), name="metric-get-history"
    ),
    path(
        f"{API}/metrics/get-history-bulk-interval",
        v.route(GET=v.metric_get_history_bulk_interval),
        name="metric-get-history-bulk-interval",
    ),
    # Logged models (MLflow 3)
    path(f"{API}/logged-models", v.route(POST=v.logged_model_create), name="logged-model-create"),
    path(
        f"{API}/logged-models/search",
        v.route(POST=v.logged_model_search),
        name="logged-model-search",
    ),
    path(
        MODEL,
        v.route(
            GET=v.logged_model_get, PATCH=v.logged_model_finalize, DELETE=v.logged_model_delete
        ),
        name="logged-model",
    ),
    path(f"{MODEL}/tags", v.route(PATCH=v.logged_model_set_tags), name="logged-model-tags"),
    path(
        f"{MODEL}/tags/<str:tag_key>",
        v.route(DELETE=v.logged_model_delete_tag),
        name="logged-model-tag",
    ),
    path(f"{MODEL}/params", v.route(POST=v.logged_model_log_params), name="logged-model-params"),
    path(
        f"{MODEL}/artifacts/directories",
        v.route(GET=v.logged_model_list_artifacts),
        name="logged-model-artifacts",
    ),
    # Artifacts (proxied)
    path(ARTIFACTS, v.route(GET=v.artifact_list), name="artifact-list"),
    path(
        f"{ARTIFACTS}/<path:artifact_path>",
        v.route(GET=v.artifact_download, PUT=v.artifact_upload, DELETE=v.artifact_delete),
        name="artifact",
    ),
    path(f"{API}/artifacts/list", v.route(GET=v.legacy_artifact_list), name="legacy-artifact-list"),
    path("api/3.0/mlflow/server-info", v.route(GET=v.server_info), name="server-info"),
]
