"""The built-in components' scripts, run on this machine (pandas, scikit-learn and mlflow of
the venv) against the sample datasets: real numbers, no database. Each script's `main(argv)`
is what `python <script>.py ...` runs in a container."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from apps.designer.builtins import BUILTIN_ROOT, SAMPLES, sample_frame

SHARED = str(BUILTIN_ROOT / "_shared")
if SHARED not in sys.path:
    sys.path.insert(0, SHARED)

import designer_io  # noqa: E402
import learners  # noqa: E402


def script(folder: str, name: str):
    spec = importlib.util.spec_from_file_location(name, BUILTIN_ROOT / folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    """Each sample dataset as Designer data folders (data.csv + MLTable), by short name."""
    root = tmp_path_factory.mktemp("samples")
    out = {}
    for sample in SAMPLES:
        short = sample.name.removeprefix("sample-").replace("-", "_")
        designer_io.write_dataset(sample_frame(sample), root / short)
        out[short] = root / short
    return out


def read(folder) -> pd.DataFrame:
    return designer_io.read_dataset(folder)


def split(source, tmp_path, fraction="0.7", *extra) -> tuple:
    one, two = tmp_path / "one", tmp_path / "two"
    script("split_data", "split_data").main(
        ["--dataset", str(source), "--fraction", fraction, "--randomized", "True",
         "--random_seed", "0", "--results_dataset1", str(one), "--results_dataset2", str(two),
         *extra]
    )  # fmt: skip
    return one, two


def learner(tmp_path, name: str, *params: str):
    out = tmp_path / name
    argv = ["--learner", name, "--untrained_model", str(out)]
    for p in params:
        argv += ["--param", p]
    learners.main(argv)
    return out


def train_score_evaluate(tmp_path, data, learner_name: str, *params: str) -> dict:
    train, test = split(data, tmp_path)
    untrained = learner(tmp_path, learner_name, *params)
    model, scored, results = tmp_path / "model", tmp_path / "scored", tmp_path / "eval"
    script("train_model", "train_model").main(
        ["--untrained_model", str(untrained), "--dataset", str(train),
         "--label_column", "target", "--trained_model", str(model)]
    )  # fmt: skip
    script("score_model", "score_model").main(
        ["--trained_model", str(model), "--dataset", str(test), "--scored_dataset", str(scored)]
    )
    script("evaluate_model", "evaluate_model").main(
        ["--scored_dataset", str(scored), "--evaluation_results", str(results)]
    )
    return json.loads((results / "results.json").read_text())


# Data transformation ---------------------------------------------------------------------------


def test_sample_datasets_have_plain_column_names_and_a_target(samples):
    iris = read(samples["iris"])
    assert list(iris.columns) == [
        "sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm", "target"
    ]  # fmt: skip
    assert len(iris) == 150 and len(read(samples["breast_cancer"])) == 569
    assert (samples["iris"] / "MLTable").read_text().count("data.csv") == 1


def test_select_columns_keeps_or_drops_the_named_columns(samples, tmp_path):
    select = script("select_columns_in_dataset", "select_columns")
    select.main(["--dataset", str(samples["iris"]), "--columns", "petal_width_cm, target",
                 "--results_dataset", str(tmp_path / "kept")])  # fmt: skip
    select.main(["--dataset", str(samples["iris"]), "--columns", "target", "--mode", "exclude",
                 "--results_dataset", str(tmp_path / "dropped")])  # fmt: skip
    assert list(read(tmp_path / "kept").columns) == ["petal_width_cm", "target"]
    assert "target" not in read(tmp_path / "dropped").columns
    assert len(read(tmp_path / "dropped").columns) == 4


def test_select_columns_names_a_missing_column(samples, tmp_path):
    with pytest.raises(SystemExit, match="no column named 'petal'"):
        script("select_columns_in_dataset", "select_columns").main(
            ["--dataset", str(samples["iris"]), "--columns", "petal",
             "--results_dataset", str(tmp_path / "x")]
        )  # fmt: skip


def test_split_data_sends_the_fraction_to_the_first_output_and_the_rest_to_the_second(
    samples, tmp_path
):
    one, two = split(samples["iris"], tmp_path)
    first, second = read(one), read(two)
    assert (len(first), len(second)) == (105, 45)
    whole = pd.concat([first, second]).sort_values(list(first.columns)).reset_index(drop=True)
    original = read(samples["iris"]).sort_values(list(first.columns)).reset_index(drop=True)
    pd.testing.assert_frame_equal(whole, original)
    # shuffled: the first output is not the first 105 rows (which hold no virginica)
    assert set(first["target"]) == {0, 1, 2}


def test_split_data_stratified_keeps_each_class_in_proportion(samples, tmp_path):
    one, two = split(samples["iris"], tmp_path, "0.8", "--stratify_column", "target")
    assert read(one)["target"].value_counts().to_dict() == {0: 40, 1: 40, 2: 40}
    assert read(two)["target"].value_counts().to_dict() == {0: 10, 1: 10, 2: 10}


def test_split_data_not_randomized_keeps_the_row_order(samples, tmp_path):
    one = tmp_path / "a"
    script("split_data", "split_data").main(
        ["--dataset", str(samples["iris"]), "--fraction", "0.2", "--randomized", "False",
         "--results_dataset1", str(one), "--results_dataset2", str(tmp_path / "b")]
    )  # fmt: skip
    pd.testing.assert_frame_equal(read(one), read(samples["iris"]).head(30))


@pytest.fixture
def holes(samples, tmp_path):
    """Iris with 15 missing sepal lengths and 3 missing petal widths."""
    frame = read(samples["iris"])
    frame.loc[frame.index[::10], "sepal_length_cm"] = np.nan
    frame.loc[frame.index[:3], "petal_width_cm"] = np.nan
    designer_io.write_dataset(frame, tmp_path / "holes")
    return tmp_path / "holes", frame


def clean(source, out, *args):
    script("clean_missing_data", "clean_missing_data").main(
        ["--dataset", str(source), "--cleaned_dataset", str(out),
         "--cleaning_transformation", str(out) + "-t", *args]
    )  # fmt: skip
    return read(out)


def test_clean_missing_data_fills_with_the_column_mean(holes, tmp_path):
    source, frame = holes
    cleaned = clean(source, tmp_path / "mean", "--columns", "sepal_length_cm",
                    "--cleaning_mode", "mean")  # fmt: skip
    mean = frame["sepal_length_cm"].mean()
    assert cleaned["sepal_length_cm"].isna().sum() == 0
    assert cleaned["sepal_length_cm"].iloc[0] == pytest.approx(mean)
    assert cleaned["petal_width_cm"].isna().sum() == 3  # not a chosen column
    done = json.loads((tmp_path / "mean-t" / "transformation.json").read_text())
    assert done["sepal_length_cm"]["value"] == pytest.approx(mean)
    assert done["sepal_length_cm"]["missing_ratio"] == pytest.approx(0.1)


def test_clean_missing_data_substitutes_a_custom_value_and_removes_rows(holes, tmp_path):
    source, _ = holes
    custom = clean(source, tmp_path / "c", "--replacement_value", "-1")
    assert custom.isna().sum().sum() == 0
    assert (custom["petal_width_cm"] == -1).sum() == 3
    rows = clean(source, tmp_path / "r", "--cleaning_mode", "remove_entire_row")
    assert len(rows) == 150 - 15 - 2  # row 0 has both holes
    columns = clean(source, tmp_path / "k", "--cleaning_mode", "remove_entire_column")
    assert list(columns.columns) == ["sepal_width_cm", "petal_length_cm", "target"]


def test_clean_missing_data_leaves_columns_outside_the_missing_ratio_range(holes, tmp_path):
    source, _ = holes
    cleaned = clean(source, tmp_path / "x", "--cleaning_mode", "median",
                    "--minimum_missing_value_ratio", "0.05")  # fmt: skip
    assert cleaned["sepal_length_cm"].isna().sum() == 0  # 10% missing: cleaned
    assert cleaned["petal_width_cm"].isna().sum() == 3  # 2% missing: left


def test_normalize_data_rescales_features_and_leaves_the_label(samples, tmp_path):
    normalize = script("normalize_data", "normalize_data")
    for method in ("zscore", "minmax"):
        normalize.main(
            ["--dataset", str(samples["wine"]), "--transformation_method", method,
             "--exclude_columns", "target", "--transformed_dataset", str(tmp_path / method),
             "--transformation_function", str(tmp_path / f"{method}-f")]
        )  # fmt: skip
    z, mm, original = read(tmp_path / "zscore"), read(tmp_path / "minmax"), read(samples["wine"])
    features = [c for c in original.columns if c != "target"]
    assert np.allclose(z[features].mean(), 0, atol=1e-9)
    assert np.allclose(z[features].std(ddof=0), 1, atol=1e-9)
    assert mm[features].min().min() == 0.0 and mm[features].max().max() == 1.0
    assert (z["target"] == original["target"]).all()
    params = json.loads((tmp_path / "zscore-f" / "transformation.json").read_text())
    assert params["columns"]["alcohol"]["mean"] == pytest.approx(original["alcohol"].mean())


# Training, scoring, evaluation -----------------------------------------------------------------


def test_logistic_regression_on_breast_cancer_is_accurate_and_evaluated_with_charts(
    samples, tmp_path
):
    result = train_score_evaluate(
        tmp_path, samples["breast_cancer"], "two_class_logistic_regression"
    )
    m = result["metrics"]
    assert m["accuracy"] > 0.9 and m["auc"] > 0.95
    assert m["precision"] > 0.9 and m["recall"] > 0.9 and m["f1_score"] > 0.9
    assert sum(map(sum, result["confusion_matrix"])) == result["rows"] == 171
    roc = result["roc_curve"]["1"]
    assert roc["fpr"][0] == 0.0 and roc["tpr"][-1] == 1.0 and len(roc["fpr"]) > 5
    assert (tmp_path / "model" / "MLmodel").is_file()
    meta = json.loads((tmp_path / "model" / "designer.json").read_text())
    assert meta["format"] == "mlflow_model" and meta["label_column"] == "target"
    figure = json.loads((tmp_path / "eval" / "roc_curve.plotly.json").read_text())
    assert figure["data"][0]["type"] == "scatter" and "layout" in figure
    heat = json.loads((tmp_path / "eval" / "confusion_matrix.plotly.json").read_text())
    assert heat["data"][0]["z"] == result["confusion_matrix"]
    scored = read(tmp_path / "scored")
    assert scored["Scored Probabilities"].between(0, 1).all()


def test_boosted_decision_tree_on_breast_cancer_is_accurate(samples, tmp_path):
    result = train_score_evaluate(
        tmp_path, samples["breast_cancer"], "two_class_boosted_decision_tree",
        "number_of_trees_constructed=30",
    )  # fmt: skip
    assert result["metrics"]["accuracy"] > 0.9 and result["metrics"]["auc"] > 0.95


def test_logistic_regression_on_iris_gives_three_classes_and_a_roc_curve_each(samples, tmp_path):
    result = train_score_evaluate(tmp_path, samples["iris"], "two_class_logistic_regression")
    assert result["metrics"]["accuracy"] > 0.9
    assert result["classes"] == ["0", "1", "2"] and len(result["confusion_matrix"]) == 3
    assert set(result["roc_curve"]) == {"0", "1", "2"} and result["metrics"]["auc"] > 0.95


def test_linear_regression_and_decision_forest_on_diabetes_report_regression_metrics(
    samples, tmp_path
):
    linear = train_score_evaluate(tmp_path / "l", samples["diabetes"], "linear_regression")
    forest = train_score_evaluate(
        tmp_path / "f", samples["diabetes"], "decision_forest_regression",
        "number_of_decision_trees=30", "maximum_depth_of_the_decision_trees=6",
    )  # fmt: skip
    for result in (linear, forest):
        m = result["metrics"]
        assert result["task"] == "regression" and 0.3 < m["r2_score"] < 1
        assert 30 < m["mean_absolute_error"] < m["root_mean_squared_error"] < 70
    figure = json.loads((tmp_path / "l" / "eval" / "predicted_vs_actual.plotly.json").read_text())
    assert len(figure["data"][0]["x"]) == linear["rows"] == 133


def test_evaluate_model_logs_its_metrics_to_the_run_named_by_mlflow_run_id(
    samples, tmp_path, monkeypatch
):
    import mlflow
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # a local store stands in for the studio
    uri = (tmp_path / "mlruns").as_uri()
    client = MlflowClient(tracking_uri=uri)
    run = client.create_run(client.create_experiment("designer"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_RUN_ID", run.info.run_id)
    monkeypatch.setattr(mlflow.tracking._tracking_service.utils, "_tracking_uri", None)
    result = train_score_evaluate(
        tmp_path, samples["breast_cancer"], "two_class_logistic_regression"
    )
    logged = client.get_run(run.info.run_id).data.metrics
    assert logged["accuracy"] == pytest.approx(result["metrics"]["accuracy"])
    assert set(logged) == {"accuracy", "precision", "recall", "f1_score", "auc"}


def test_a_learner_refuses_a_parameter_it_does_not_have(tmp_path):
    with pytest.raises(SystemExit, match="parameters of Linear Regression"):
        learner(tmp_path, "linear_regression", "number_of_trees_constructed=3")


def test_train_model_without_a_learner_says_to_connect_one(samples, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="connect a learner"):
        script("train_model", "train_model").main(
            ["--untrained_model", str(tmp_path / "empty"), "--dataset", str(samples["iris"]),
             "--label_column", "target", "--trained_model", str(tmp_path / "m")]
        )  # fmt: skip


# Execute Python Script -------------------------------------------------------------------------


def test_execute_python_script_runs_azureml_main_from_the_input_variable(
    samples, tmp_path, monkeypatch
):
    monkeypatch.setenv(
        "AZURE_ML_INPUT_python_script",
        "import pandas as pd\n\n"
        "def azureml_main(dataframe1=None, dataframe2=None):\n"
        "    big = dataframe1[dataframe1['petal_length_cm'] > 5]\n"
        "    counts = dataframe1.groupby('target').size().rename('rows').reset_index()\n"
        "    return big, counts\n",
    )
    script("execute_python_script", "execute_python_script").main(
        ["--dataset1", str(samples["iris"]), "--result_dataset", str(tmp_path / "r1"),
         "--result_dataset2", str(tmp_path / "r2")]
    )  # fmt: skip
    iris = read(samples["iris"])
    assert len(read(tmp_path / "r1")) == int((iris["petal_length_cm"] > 5).sum()) == 42
    assert read(tmp_path / "r2")["rows"].tolist() == [50, 50, 50]


def test_execute_python_script_without_azureml_main_says_what_to_define(samples, tmp_path):
    path = tmp_path / "s.py"
    path.write_text("x = 1\n")
    with pytest.raises(SystemExit, match="define azureml_main"):
        script("execute_python_script", "execute_python_script").main(
            ["--python_script_file", str(path), "--result_dataset", str(tmp_path / "a"),
             "--result_dataset2", str(tmp_path / "b")]
        )  # fmt: skip


# Each component's YAML command, rendered as a job renders it ----------------------------------


def run_component(name: str, inputs: dict, tmp_path, monkeypatch) -> dict:
    """Render the component's command with these inputs (defaults filled in, as a pipeline
    step binds them), set the AZURE_ML_INPUT_* variables the runner sets, and run the script
    of the assembled code folder with that argv. Returns the output folders."""
    import shlex

    from apps.assets import commands
    from apps.assets.services import components as component_services
    from apps.designer import builtins

    folder = BUILTIN_ROOT / name
    data = builtins.definition(folder)
    decls = component_services.clean_inputs(data["inputs"])
    outputs = component_services.clean_outputs(data["outputs"])
    bound = component_services.bind_inputs(decls, inputs)
    values: dict[str, dict] = {"inputs": {}, "outputs": {}}
    for key, value in bound.items():
        text = str(value) if component_services.is_data_type(decls[key]["type"]) else None
        if text is None:
            text = commands.literal_text(value)
            monkeypatch.setenv(f"AZURE_ML_INPUT_{key}", text)
        values["inputs"][key] = text
    step = f"{name}-{len(list(tmp_path.glob(f'{name}-*')))}"  # a fresh folder per run
    for key in outputs:
        values["outputs"][key] = str(tmp_path / step / key)
    argv = shlex.split(commands.render(data["command"], values))
    assert argv[0] == "python"
    code = builtins.assemble(folder, tmp_path / "code" / name)
    module = importlib.util.spec_from_file_location(f"{name}_main", code / argv[1])
    loaded = importlib.util.module_from_spec(module)
    module.loader.exec_module(loaded)
    loaded.main(argv[2:])
    return values["outputs"]


def test_every_component_command_runs_its_script_with_the_rendered_arguments(
    samples, tmp_path, monkeypatch
):
    def run(name, **inputs):
        return run_component(name, inputs, tmp_path, monkeypatch)

    wine = str(samples["wine"])
    picked = run("select_columns_in_dataset", dataset=wine, columns="alcohol, hue, target")
    assert list(read(picked["results_dataset"]).columns) == ["alcohol", "hue", "target"]
    cleaned = run("clean_missing_data", dataset=picked["results_dataset"], cleaning_mode="mean")
    normal = run("normalize_data", dataset=cleaned["cleaned_dataset"], exclude_columns="target")
    halves = run("split_data", dataset=normal["transformed_dataset"], stratify_column="target")
    assert len(read(halves["results_dataset1"])) == 125
    scores = {}
    for learner_name in ("two_class_logistic_regression", "two_class_boosted_decision_tree"):
        untrained = run(learner_name)["untrained_model"]
        model = run("train_model", untrained_model=untrained,
                    dataset=halves["results_dataset1"], label_column="target")  # fmt: skip
        scored = run("score_model", trained_model=model["trained_model"],
                     dataset=halves["results_dataset2"])  # fmt: skip
        results = run("evaluate_model", scored_dataset=scored["scored_dataset"])
        scores[learner_name] = json.loads(
            (Path(results["evaluation_results"]) / "metrics.json").read_text()
        )
    assert scores["two_class_logistic_regression"]["accuracy"] > 0.85
    assert scores["two_class_boosted_decision_tree"]["accuracy"] > 0.8
    for learner_name in ("linear_regression", "decision_forest_regression"):
        untrained = run(learner_name)["untrained_model"]
        spec = json.loads((Path(untrained) / "learner.json").read_text())
        assert spec["task"] == "regression" and spec["params"]
    assert json.loads((Path(untrained) / "learner.json").read_text())["params"] == {
        "number_of_decision_trees": 8, "maximum_depth_of_the_decision_trees": 32,
        "minimum_number_of_samples_per_leaf_node": 1, "random_number_seed": 0,
    }  # fmt: skip
    # the default script (from AZURE_ML_INPUT_python_script) passes dataframe1 through
    passed = run("execute_python_script", dataset1=wine)
    assert len(read(passed["result_dataset"])) == 178


def test_a_table_input_given_one_file_reads_that_file_as_the_table(samples, tmp_path, monkeypatch):
    """A uri_file data asset reaches the step as the file's own path (the runner mounts
    /mnt/inputs/<input>/churn.csv): the scripts read it as the one table, CSV, TSV or Parquet."""
    upload = tmp_path / "upload"
    upload.mkdir()
    churn = pd.DataFrame(
        {"age": [34, np.nan, 51, 28], "plan": ["basic", "premium", None, "basic"],
         "churned": [0, 1, 0, 1]}
    )  # fmt: skip
    churn.to_csv(upload / "churn.csv", index=False)
    out = run_component(
        "clean_missing_data",
        {"dataset": str(upload / "churn.csv"), "cleaning_mode": "remove_entire_row"},
        tmp_path, monkeypatch,
    )  # fmt: skip
    cleaned = read(out["cleaned_dataset"])
    assert cleaned.to_dict("list") == {"age": [34.0, 28.0], "plan": ["basic", "basic"],
                                       "churned": [0, 1]}  # fmt: skip
    churn.to_csv(upload / "churn.tsv", sep="\t", index=False)
    churn.to_parquet(upload / "churn.parquet", index=False)
    for name in ("churn.tsv", "churn.parquet"):
        out = run_component(
            "select_columns_in_dataset",
            {"dataset": str(upload / name), "columns": "age, churned"}, tmp_path, monkeypatch,
        )  # fmt: skip
        assert list(read(out["results_dataset"]).columns) == ["age", "churned"]
        assert len(read(out["results_dataset"])) == 4
    (upload / "notes.json").write_text('{"a": 1}')
    with pytest.raises(SystemExit, match="is not a CSV, TSV or Parquet file"):
        run_component("clean_missing_data", {"dataset": str(upload / "notes.json")},
                      tmp_path, monkeypatch)  # fmt: skip
