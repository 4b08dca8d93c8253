"""The Designer's learners (the "Machine Learning Algorithms" nodes): each learner node
writes an untrained model, `learner.json` ({"learner", "task", "params"}), that Train Model
turns into a scikit-learn estimator with `build()`. Copied into the learner and Train Model
components' code snapshots through `additional_includes`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

LEARNER_FILE = "learner.json"

# name -> (task, display name, {parameter: default})
LEARNERS: dict[str, tuple[str, str, dict]] = {
    "two_class_logistic_regression": (
        "classification",
        "Two-Class Logistic Regression",
        {"optimization_tolerance": 1e-7, "l2_regularization_weight": 1.0, "max_iterations": 1000},
    ),
    "two_class_boosted_decision_tree": (
        "classification",
        "Two-Class Boosted Decision Tree",
        {
            "maximum_number_of_leaves_per_tree": 20,
            "minimum_number_of_samples_per_leaf_node": 10,
            "learning_rate": 0.2,
            "number_of_trees_constructed": 100,
            "random_number_seed": 0,
        },
    ),
    "decision_forest_regression": (
        "regression",
        "Decision Forest Regression",
        {
            "number_of_decision_trees": 8,
            "maximum_depth_of_the_decision_trees": 32,
            "minimum_number_of_samples_per_leaf_node": 1,
            "random_number_seed": 0,
        },
    ),
    "linear_regression": (
        "regression",
        "Linear Regression",
        {"l2_regularization_weight": 0.001, "include_intercept": True},
    ),
}


def build(spec: dict):
    """The scikit-learn estimator of an untrained model spec."""
    name, p = spec["learner"], {**LEARNERS[spec["learner"]][2], **spec.get("params", {})}
    if name == "two_class_logistic_regression":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        weight = float(p["l2_regularization_weight"])
        # Standardised features: L-BFGS converges in tens of iterations instead of thousands.
        return make_pipeline(
            StandardScaler(),
            LogisticRegression(
                C=1.0 / weight if weight > 0 else 1e12,
                tol=float(p["optimization_tolerance"]),
                max_iter=int(p["max_iterations"]),
            ),
        )
    if name == "two_class_boosted_decision_tree":
        from sklearn.ensemble import GradientBoostingClassifier

        return GradientBoostingClassifier(
            max_leaf_nodes=max(2, int(p["maximum_number_of_leaves_per_tree"])),
            min_samples_leaf=int(p["minimum_number_of_samples_per_leaf_node"]),
            learning_rate=float(p["learning_rate"]),
            n_estimators=int(p["number_of_trees_constructed"]),
            random_state=int(p["random_number_seed"]),
        )
    if name == "decision_forest_regression":
        from sklearn.ensemble import RandomForestRegressor

        return RandomForestRegressor(
            n_estimators=int(p["number_of_decision_trees"]),
            max_depth=int(p["maximum_depth_of_the_decision_trees"]),
            min_samples_leaf=int(p["minimum_number_of_samples_per_leaf_node"]),
            random_state=int(p["random_number_seed"]),
        )
    from sklearn.linear_model import LinearRegression, Ridge

    weight = float(p["l2_regularization_weight"])
    intercept = str(p["include_intercept"]).lower() in ("true", "1")
    if weight > 0:
        return Ridge(alpha=weight, fit_intercept=intercept)
    return LinearRegression(fit_intercept=intercept)


def read(folder: str) -> dict:
    """learner.json of an untrained model input (a folder or the file itself)."""
    path = Path(folder)
    path = path if path.is_file() else path / LEARNER_FILE
    if not path.is_file():
        raise SystemExit(f"untrained_model: no {LEARNER_FILE} in '{folder}' (connect a learner)")
    spec = json.loads(path.read_text(encoding="utf-8"))
    if spec.get("learner") not in LEARNERS:
        raise SystemExit(f"untrained_model: unknown learner {spec.get('learner')!r}")
    return spec


def _value(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return {"true": True, "false": False}.get(text.lower(), text)


def main(argv: list[str] | None = None) -> None:
    """A learner node: check the parameters, write learner.json to the output folder."""
    parser = argparse.ArgumentParser(description="Write an untrained model (learner.json).")
    parser.add_argument("--learner", required=True, choices=sorted(LEARNERS))
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--untrained_model", required=True)
    args = parser.parse_args(argv)
    task, display, defaults = LEARNERS[args.learner]
    params = dict(defaults)
    for item in args.param:
        key, sep, text = item.partition("=")
        if not sep or key not in defaults:
            raise SystemExit(f"--param {item!r}: parameters of {display}: {', '.join(defaults)}")
        params[key] = _value(text)
    spec = {"learner": args.learner, "display_name": display, "task": task, "params": params}
    build(spec)  # fails early on a bad value
    out = Path(args.untrained_model)
    out.mkdir(parents=True, exist_ok=True)
    (out / LEARNER_FILE).write_text(json.dumps(spec, indent=2), encoding="utf-8")
    print(f"{display}: {params}")


if __name__ == "__main__":
    main()
