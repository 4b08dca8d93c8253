"""The MLflow REST API's routes, mounted under /mlflow/<workspace name>/ so that
MLFLOW_TRACKING_URI=http://<studio>/mlflow/<workspace> works with the stock client.

Paths are exactly MLflow's (no trailing slash: APPEND_SLASH cannot redirect a POST). The
model registry (registered-models/*, model-versions/*) is served by registry.py.
"""

from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from .links import ui_link

app_name = "mlflow"


def lazy(**methods: str):
    """A view that hands each HTTP method to the named function of views.py, imported on
    the first MLflow request: importing mlflow takes seconds, and the URLconf loads on the
    first request of every page of the studio."""

    @csrf_exempt
    def view(request, workspace_name: str, **kwargs):
        from . import views

        return views.dispatch(request, methods, workspace_name, **kwargs)

    return view


def lazy_registry(**methods: str):
    """As `lazy`, for the model registry's views (registry.py)."""

    @csrf_exempt
    def view(request, workspace_name: str, **kwargs):
        from . import registry

        return registry.dispatch(request, methods, workspace_name, **kwargs)

    return view


API = "api/2.0/mlflow"
ARTIFACTS = "api/2.0/mlflow-artifacts/artifacts"
MODEL = f"{API}/logged-models/<str:model_id>"

RM, MV = "registered-models", "model-versions"
REGISTRY = [
    (f"{RM}/create", "registered-model-create", {"POST": "registered_model_create"}),
    (f"{RM}/get", "registered-model-get", {"GET": "registered_model_get"}),
    (f"{RM}/update", "registered-model-update", {"PATCH": "registered_model_update"}),
    (f"{RM}/rename", "registered-model-rename", {"POST": "registered_model_rename"}),
    (f"{RM}/delete", "registered-model-delete", {"DELETE": "registered_model_delete"}),
    (f"{RM}/search", "registered-model-search", {"GET": "registered_model_search"}),
    (f"{RM}/set-tag", "registered-model-set-tag", {"POST": "registered_model_set_tag"}),
    (f"{RM}/delete-tag", "registered-model-delete-tag", {"DELETE": "registered_model_delete_tag"}),
    (
        f"{RM}/get-latest-versions",
        "registered-model-latest-versions",
        {"POST": "registered_model_latest_versions", "GET": "registered_model_latest_versions"},
    ),
    (
        f"{RM}/alias",
        "registered-model-alias",
        {"POST": "alias_set", "DELETE": "alias_delete", "GET": "alias_get"},
    ),
    (f"{MV}/create", "model-version-create", {"POST": "model_version_create"}),
    (f"{MV}/get", "model-version-get", {"GET": "model_version_get"}),
    (f"{MV}/update", "model-version-update", {"PATCH": "model_version_update"}),
    (
        f"{MV}/transition-stage",
        "model-version-transition-stage",
        {"POST": "model_version_transition_stage"},
    ),
    (f"{MV}/delete", "model-version-delete", {"DELETE": "model_version_delete"}),
    (f"{MV}/search", "model-version-search", {"GET": "model_version_search"}),
    (
        f"{MV}/get-download-uri",
        "model-version-download-uri",
        {"GET": "model_version_download_uri"},
    ),
    (f"{MV}/set-tag", "model-version-set-tag", {"POST": "model_version_set_tag"}),
    (f"{MV}/delete-tag", "model-version-delete-tag", {"DELETE": "model_version_delete_tag"}),
]

urlpatterns = [
    # MLflow's printed UI links (`<tracking URI>/#/experiments/…`) open the studio's pages
    path("", ui_link, name="ui-link"),
    # Experiments
    path(
        f"{API}/experiments/get-by-name",
        lazy(GET="experiment_get_by_name"),
        name="experiment-get-by-name",
    ),
    path(f"{API}/experiments/create", lazy(POST="experiment_create"), name="experiment-create"),
    path(f"{API}/experiments/get", lazy(GET="experiment_get"), name="experiment-get"),
    path(
        f"{API}/experiments/search",
        lazy(GET="experiment_search", POST="experiment_search"),
        name="experiment-search",
    ),
    path(f"{API}/experiments/update", lazy(POST="experiment_update"), name="experiment-update"),
    path(f"{API}/experiments/delete", lazy(POST="experiment_delete"), name="experiment-delete"),
    path(f"{API}/experiments/restore", lazy(POST="experiment_restore"), name="experiment-restore"),
    path(
        f"{API}/experiments/set-experiment-tag",
        lazy(POST="experiment_set_tag"),
        name="experiment-set-tag",
    ),
    path(
        f"{API}/experiments/delete-experiment-tag",
        lazy(POST="experiment_delete_tag"),
        name="experiment-delete-tag",
    ),
    # Runs
    path(f"{API}/runs/create", lazy(POST="run_create"), name="run-create"),
    path(f"{API}/runs/update", lazy(POST="run_update"), name="run-update"),
    path(f"{API}/runs/get", lazy(GET="run_get"), name="run-get"),
    path(f"{API}/runs/delete", lazy(POST="run_delete"), name="run-delete"),
    path(f"{API}/runs/restore", lazy(POST="run_restore"), name="run-restore"),
    path(f"{API}/runs/log-metric", lazy(POST="run_log_metric"), name="run-log-metric"),
    path(f"{API}/runs/log-parameter", lazy(POST="run_log_parameter"), name="run-log-parameter"),
    path(f"{API}/runs/set-tag", lazy(POST="run_set_tag"), name="run-set-tag"),
    path(f"{API}/runs/delete-tag", lazy(POST="run_delete_tag"), name="run-delete-tag"),
    path(f"{API}/runs/log-batch", lazy(POST="run_log_batch"), name="run-log-batch"),
    path(f"{API}/runs/search", lazy(POST="run_search"), name="run-search"),
    path(f"{API}/runs/log-inputs", lazy(POST="run_log_inputs"), name="run-log-inputs"),
    path(f"{API}/runs/outputs", lazy(POST="run_log_outputs"), name="run-outputs"),
    path(f"{API}/metrics/get-history", lazy(GET="metric_get_history"), name="metric-get-history"),
    path(
        f"{API}/metrics/get-history-bulk-interval",
        lazy(GET="metric_get_history_bulk_interval"),
        name="metric-get-history-bulk-interval",
    ),
    # Logged models (MLflow 3)
    path(f"{API}/logged-models", lazy(POST="logged_model_create"), name="logged-model-create"),
    path(
        f"{API}/logged-models/search",
        lazy(POST="logged_model_search"),
        name="logged-model-search",
    ),
    path(
        MODEL,
        lazy(GET="logged_model_get", PATCH="logged_model_finalize", DELETE="logged_model_delete"),
        name="logged-model",
    ),
    path(f"{MODEL}/tags", lazy(PATCH="logged_model_set_tags"), name="logged-model-tags"),
    path(
        f"{MODEL}/tags/<str:tag_key>",
        lazy(DELETE="logged_model_delete_tag"),
        name="logged-model-tag",
    ),
    path(f"{MODEL}/params", lazy(POST="logged_model_log_params"), name="logged-model-params"),
    path(
        f"{MODEL}/artifacts/directories",
        lazy(GET="logged_model_list_artifacts"),
        name="logged-model-artifacts",
    ),
    # Artifacts (proxied)
    path(ARTIFACTS, lazy(GET="artifact_list"), name="artifact-list"),
    path(
        f"{ARTIFACTS}/<path:artifact_path>",
        lazy(GET="artifact_download", PUT="artifact_upload", DELETE="artifact_delete"),
        name="artifact",
    ),
    path(f"{API}/artifacts/list", lazy(GET="legacy_artifact_list"), name="legacy-artifact-list"),
    path("api/3.0/mlflow/server-info", lazy(GET="server_info"), name="server-info"),
    *[
        path(f"{API}/{route}", lazy_registry(**methods), name=name)
        for route, name, methods in REGISTRY
    ],
]
