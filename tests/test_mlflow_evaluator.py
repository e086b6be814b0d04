"""The ``modeldeck`` evaluator: ``mlflow.models.evaluate(..., evaluators=["default",
"modeldeck"])`` logs ModelDeck's prediction rows next to MLflow's own results.

Real MLflow: a sqlite store in a temporary folder, scikit-learn models logged, evaluated and
registered, and the rows read back through ``MlflowSource`` as the app reads them. Skipped,
saying why, only when MLflow is not installed.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import accuracy_score, mean_absolute_error, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from analysis.metrics import compute_metrics
from contract.mlflow_server import needs_mlflow
from mlflow_evaluate_helpers import (
    evaluate_and_register, evaluate_static, start_run, tracking_store,
)

pytestmark = needs_mlflow


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    with tracking_store(tmp_path_factory.mktemp("mlflow-evaluate")) as uri:
        yield uri


def _read(uri: str, name: str, version: int, run_id: str):
    """The model and its evaluation rows as ModelDeck reads them, with the run's task and
    positive label also set on the registered model (set_model_settings): these tests are
    about the rows. tests/test_browser_mlflow_evaluator.py reads a model without them."""
    import mlflow
    from registry.mlflow_log import set_model_settings
    from registry.mlflow_source import MlflowSource

    tags = mlflow.MlflowClient().get_run(run_id).data.tags
    set_model_settings(name, task=tags["modeldeck.task"],
                       positive_label=tags.get("modeldeck.positive_label"))
    source = MlflowSource(uri)
    return source.get_model(name), source.evaluation(name, version).frame


def _metrics(run_id: str) -> dict:
    import mlflow
    return mlflow.MlflowClient().get_run(run_id).data.metrics


def test_the_evaluator_is_registered_through_the_entry_point():
    from mlflow.models.evaluation.base import list_evaluators
    assert "modeldeck" in list_evaluators(), (
        "MLflow does not see the modeldeck evaluator: re-install the project's metadata "
        "(pip install --no-deps -e .) so that pyproject.toml's entry point is registered")


def test_binary_rows_match_the_model_and_mlflow_metrics(store):
    import mlflow
    X, y = datasets.load_breast_cancer(return_X_y=True, as_frame=True)
    clf = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    region = np.where(X["mean radius"] > 14, "large", "small")
    run_id, version, result = evaluate_and_register(
        "cancer", clf, X, y, "classifier", {"segments": {"region": region}})

    files = [f.path for f in mlflow.MlflowClient().list_artifacts(run_id, "modeldeck/evaluation")]
    assert files == ["modeldeck/evaluation/test.parquet"]
    tags = mlflow.MlflowClient().get_run(run_id).data.tags
    assert tags["modeldeck.task"] == "binary" and tags["modeldeck.positive_label"] == "1"
    assert "modeldeck.evaluation_note" not in tags

    model, rows = _read(store, "cancer", version, run_id)
    np.testing.assert_allclose(rows["y_score"], clf.predict_proba(X)[:, 1], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(rows["y_pred"], clf.predict(X))
    np.testing.assert_array_equal(rows["y_true"], y)
    np.testing.assert_array_equal(rows["segment.region"], region)
    assert [c for c in rows.columns if c.startswith("feature.")] == [
        f"feature.{c}" for c in X.columns]
    np.testing.assert_array_equal(rows["feature.mean radius"], X["mean radius"])

    # the default evaluator's results are all still there, in the run and the result
    logged = _metrics(run_id)
    for key in ("roc_auc", "accuracy_score", "f1_score", "log_loss", "precision_recall_auc"):
        assert key in logged and result.metrics[key] == pytest.approx(logged[key], abs=1e-12)
    assert "roc_curve_plot" in result.artifacts
    pd.testing.assert_frame_equal(result.artifacts["modeldeck_evaluation_rows"].content, rows)
    # one AUC: ModelDeck's from the rows, scikit-learn's, MLflow's
    ours = compute_metrics(model, rows)["roc_auc"]
    assert ours == pytest.approx(roc_auc_score(y, clf.predict_proba(X)[:, 1]), abs=1e-9)
    assert ours == pytest.approx(logged["roc_auc"], abs=1e-9)


def test_multiclass_rows_hold_one_probability_per_class(store):
    X, y = datasets.load_iris(return_X_y=True, as_frame=True)
    clf = LogisticRegression(max_iter=500).fit(X, y)
    run_id, version, _ = evaluate_and_register("iris", clf, X, y, "classifier",
                                               {"split": "validation"})
    model, rows = _read(store, "iris", version, run_id)
    assert model.task == "multiclass"
    assert [c for c in rows.columns if c.startswith("proba.")] == ["proba.0", "proba.1",
                                                                   "proba.2"]
    np.testing.assert_allclose(rows[["proba.0", "proba.1", "proba.2"]].to_numpy(),
                               clf.predict_proba(X), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(rows["y_pred"], clf.predict(X))
    logged = _metrics(run_id)
    assert compute_metrics(model, rows)["accuracy"] == pytest.approx(
        logged["accuracy_score"], abs=1e-12)
    assert logged["accuracy_score"] == pytest.approx(accuracy_score(y, clf.predict(X)))


def test_regression_rows_are_the_predictions(store):
    X, y = datasets.load_diabetes(return_X_y=True, as_frame=True)
    reg = LinearRegression().fit(X, y)
    run_id, version, _ = evaluate_and_register("diabetes", reg, X, y, "regressor",
                                               {"max_features": 3})
    model, rows = _read(store, "diabetes", version, run_id)
    assert model.task == "regression"
    np.testing.assert_allclose(rows["y_pred"], reg.predict(X), rtol=0, atol=1e-12)
    # the first three features, in the data's order (max_features)
    assert [c for c in rows.columns if c.startswith("feature.")] == [
        "feature.age", "feature.sex", "feature.bmi"]
    logged = _metrics(run_id)
    assert compute_metrics(model, rows)["mae"] == pytest.approx(
        logged["mean_absolute_error"], abs=1e-9)
    assert logged["mean_absolute_error"] == pytest.approx(mean_absolute_error(y, reg.predict(X)))
    assert "modeldeck.positive_label" not in _tags(run_id)


def _tags(run_id: str) -> dict:
    import mlflow
    return mlflow.MlflowClient().get_run(run_id).data.tags


# MLflow 3.17's SHAP step fails on a pandas 3 text column such as "region" (docs/mlflow.md)
NO_SHAP = {"log_model_explainability": False}


def _static_binary(n=300, seed=1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = np.clip(0.5 + (y - 0.5) * 0.4 + rng.normal(0, 0.2, n), 0.001, 0.999)
    return pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n),
                         "x3": rng.normal(size=n),
                         "region": rng.choice(["north", "south", "east"], n),
                         "p": p, "pred": (p >= 0.5).astype(int), "y": y})


def test_static_predictions_with_scores_and_segments_from_the_config(store):
    df = _static_binary()
    run_id, version, result = evaluate_static(
        "static-churn", df, "classifier",
        {"scores": "p", "segments": ["region"], "max_features": 2},
        default_config=NO_SHAP)
    model, rows = _read(store, "static-churn", version, run_id)
    np.testing.assert_array_equal(rows["y_score"], df["p"])
    np.testing.assert_array_equal(rows["y_pred"], df["pred"])
    np.testing.assert_array_equal(rows["segment.region"], df["region"])
    # the score and segment columns are not copied again as features; two features kept
    assert [c for c in rows.columns if c.startswith("feature.")] == ["feature.x1", "feature.x2"]
    assert compute_metrics(model, rows)["roc_auc"] == pytest.approx(
        roc_auc_score(df["y"], df["p"]), abs=1e-9)
    # MLflow's metrics of the labels are logged as always
    assert _metrics(run_id)["accuracy_score"] == pytest.approx(
        accuracy_score(df["y"], df["pred"]), abs=1e-12)


def test_static_multiclass_probabilities_by_class(store):
    rng = np.random.default_rng(2)
    p = rng.dirichlet(np.ones(3), 200)
    df = pd.DataFrame({"x": rng.normal(size=200), "pa": p[:, 0], "pb": p[:, 1], "pc": p[:, 2],
                       "pred": np.array(["a", "b", "c"])[p.argmax(axis=1)],
                       "y": rng.choice(["a", "b", "c"], 200)})
    run_id, version, _ = evaluate_static(
        "static-flowers", df, "classifier", {"scores": {"a": "pa", "b": "pb", "c": "pc"}})
    model, rows = _read(store, "static-flowers", version, run_id)
    assert model.task == "multiclass"
    np.testing.assert_array_equal(rows[["proba.a", "proba.b", "proba.c"]].to_numpy(), p)
    assert [c for c in rows.columns if c.startswith("feature.")] == ["feature.x"]


def test_without_probabilities_only_labels_are_logged_and_a_note_says_so(store):
    from registry.model import RegistryError
    df = _static_binary(seed=3)
    run_id, version, _ = evaluate_static("labels-only", df, "classifier",
                                         default_config=NO_SHAP)
    note = _tags(run_id)["modeldeck.evaluation_note"]
    assert "no class probabilities" in note and "y_score" in note
    with pytest.raises(RegistryError) as err:
        _read(store, "labels-only", version, run_id)
    # ModelDeck names the missing column on that model's page
    assert err.value.problem.field == "y_score"


def test_without_evaluators_it_runs_too_and_names_options_it_ignores(store, caplog):
    # evaluators=None: MLflow runs every installed evaluator and gives each the same options
    import mlflow
    with caplog.at_level("WARNING", logger="registry.mlflow_evaluator"), start_run() as run:
        mlflow.models.evaluate(data=_static_binary(seed=4), targets="y", predictions="pred",
                               model_type="classifier", evaluator_config=NO_SHAP)
    assert "ignoring options ['log_model_explainability']" in caplog.text
    assert _tags(run.info.run_id)["modeldeck.task"] == "binary"
    assert "accuracy_score" in _metrics(run.info.run_id)


def test_a_segment_or_score_column_that_is_not_there_is_an_error_naming_it(store):
    df = _static_binary(seed=4)
    with pytest.raises(ValueError, match="no column 'town'"):
        evaluate_static("bad-options", df, "classifier", {"segments": ["town"]},
                        default_config=NO_SHAP)
    with pytest.raises(ValueError, match="option 'scores': no column 'proba'"):
        evaluate_static("bad-options", df, "classifier", {"scores": "proba"},
                        default_config=NO_SHAP)
