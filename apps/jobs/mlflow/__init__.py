"""The MLflow tracking REST API the studio serves, so the stock `mlflow` 3.x client works
unchanged inside jobs and from a laptop: MLFLOW_TRACKING_URI=http://<studio>/mlflow/<workspace>
and MLFLOW_TRACKING_TOKEN=<personal token>. See docs/mlflow.md."""
