"""An MLflow registry kept the ordinary way (no modeldeck.* tags, no prediction rows), read by
MlflowSource, and what analysis/logged.py makes of its logged metrics.

The store is built once per session by MLflow's real client (tests/mlflow_ordinary.py:
sklearn autolog, mlflow.models.evaluate on a held-out set, register_model, aliases).
"""
from __future__ import annotations

import math

import pytest
from scipy import stats

from analysis.logged import (
    EXACT, HELD_OUT, NO_INTERVAL, TRAINING, clopper_pearson, headline_logged,
    logged_across_versions, logged_comparison, logged_values, mlflow_key, split_name,
    version_changes,
)
from registry.mlflow_models import infer_task, task_from_metrics, task_from_signature
from registry.model import Model, ModelVersion

from contract.mlflow_server import needs_mlflow
from mlflow_ordinary import restore_uris, save_uris  # noqa: E402 (tests/ on sys.path)

TASKS = {"cancer": "binary", "wine": "multiclass", "diabetes": "regression"}


@pytest.fixture(scope="module")
def source(ordinary_mlflow_store):
    from registry.mlflow_source import MlflowSource
    return MlflowSource(ordinary_mlflow_store)


@pytest.fixture(scope="module")
def client(ordinary_mlflow_store):
    from mlflow import MlflowClient
    return MlflowClient(tracking_uri=ordinary_mlflow_store, registry_uri=ordinary_mlflow_store)


# ------------------------------------------------------------------ the real store
@needs_mlflow
def test_every_model_is_readable_with_its_task_inferred_from_the_evaluator(source):
    listing = source.list_models()
    assert listing.problems == ()
    assert {m.name: m.task for m in listing.items} == TASKS
    for m in listing.items:
        # the champion (v1) is looked at first
        assert m.task_source == "inferred from the metrics mlflow.evaluate logged on v1"


@needs_mlflow
def test_versions_map_to_their_runs_and_logged_models_with_metrics_as_stored(source, client):
    for name in TASKS:
        versions = {v.version: v for v in source.list_versions(name).items}
        assert versions[1].aliases == ("champion",) and versions[2].aliases == ("challenger",)
        for v in versions.values():
            mv = client.get_model_version(name, str(v.version))
            assert mv.source.startswith("models:/m-") and v.model_id == mv.source[8:]
            assert v.run_id == client.get_logged_model(v.model_id).source_run_id
            run = client.get_run(v.run_id)
            assert dict(v.metrics) == dict(run.data.metrics)  # exactly as stored
            assert v.algorithm == run.data.tags["estimator_name"]
            assert not any(k.startswith("mlflow.") for k in v.tags)
            assert v.splits == ()
    cancer = {v.version: v for v in source.list_versions("cancer").items}
    named = {(d.name, d.context) for d in cancer[2].datasets}
    assert ("cancer-train-2026", "training") in named
    assert "cancer-train-2026" not in {d.name for d in cancer[1].datasets}
    assert {"roc_curve_plot.png", "confusion_matrix.png", "precision_recall_curve_plot.png",
            "calibration_curve_plot.png", "lift_curve_plot.png"} <= \
        {i.path for i in cancer[1].images}


@needs_mlflow
def test_an_image_is_served_only_when_the_run_holds_it(source):
    data, mime = source.image("cancer", 1, "roc_curve_plot.png")
    assert mime == "image/png" and data[:8] == b"\x89PNG\r\n\x1a\n"
    for bad in ("estimator.html", "../mlflow.db", "model/MLmodel", "nothere.png"):
        with pytest.raises(KeyError):
            source.image("cancer", 1, bad)


@needs_mlflow
def test_logged_values_keep_test_and_training_apart_with_exact_intervals(source):
    model = source.get_model("cancer")
    champ = next(v for v in source.list_versions("cancer").items if v.version == 1)
    values = {x.name: x for x in logged_values(model, champ)}
    m = champ.metrics
    for name in ("roc_auc", "accuracy_score", "precision_score", "recall_score"):
        assert values[name].group == HELD_OUT and values[name].value == m[name]
    assert values["training_roc_auc"].group == TRAINING
    assert values["training_accuracy_score"].interval == NO_INTERVAL
    assert values["roc_auc"].key == "roc_auc" and values["roc_auc"].interval == NO_INTERVAL
    tp, fp, tn, fn = (int(m[k]) for k in ("true_positives", "false_positives",
                                          "true_negatives", "false_negatives"))
    for name, k, n in (("precision_score", tp, tp + fp), ("recall_score", tp, tp + fn),
                       ("accuracy_score", tp + tn, tp + fp + tn + fn)):
        ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
        assert values[name].interval == EXACT
        assert values[name].low == pytest.approx(ci.low, abs=1e-12)
        assert values[name].high == pytest.approx(ci.high, abs=1e-12)
    assert "flags" in values["precision_score"].meaning  # language.metric_sentence
    # held-out metrics come first, training data last
    groups = [x.group for x in logged_values(model, champ)]
    assert groups.index(TRAINING) > max(i for i, g in enumerate(groups) if g == HELD_OUT)

    wine = source.get_model("wine")
    wv = next(v for v in source.list_versions("wine").items if v.version == 1)
    acc = next(x for x in logged_values(wine, wv) if x.name == "accuracy_score")
    n = int(wv.metrics["example_count"])
    ci = stats.binomtest(round(acc.value * n), n).proportion_ci(method="exact")
    assert (acc.low, acc.high) == pytest.approx((ci.low, ci.high), abs=1e-12)
    f1 = next(x for x in logged_values(wine, wv) if x.name == "f1_score")
    assert f1.key == "f1_weighted" and f1.interval == NO_INTERVAL


@needs_mlflow
def test_headline_across_versions_and_the_logged_comparison(source):
    for name, key in (("cancer", "roc_auc"), ("wine", "accuracy_score"),
                      ("diabetes", "mean_absolute_error")):
        model = source.get_model(name)
        versions = source.list_versions(name).items
        table = logged_across_versions(model, versions)
        assert list(table["version"]) == [1, 2]
        assert list(table["value"]) == [v.metrics[key] for v in sorted(versions,
                                                                        key=lambda v: v.version)]
        by = {v.version: v for v in versions}
        comp = logged_comparison(model, by[1], by[2]).set_index("name")
        assert comp.loc[key, "value_a"] == by[1].metrics[key]
        assert comp.loc[key, "value_b"] == by[2].metrics[key]
        assert not any(n.startswith("training_") for n in comp.index)
        ch = version_changes(by[1], by[2])
        assert [p[0] for p in ch.params] == (["alpha"] if name == "diabetes" else ["C"])
    by = {v.version: v for v in source.list_versions("cancer").items}
    ch = version_changes(by[1], by[2])
    assert [c for c in ch.datasets if c[0] == "training"][0][2].startswith("cancer-train-2026")


@needs_mlflow
def test_metrics_on_a_logged_model_and_a_signature_are_read(tmp_path):
    """A logged model evaluated in another run: its metrics live on the logged model only.
    A second model with neither metrics nor tags gets its task from the signature."""
    import mlflow
    import numpy as np
    from mlflow import MlflowClient
    from mlflow.models import infer_signature
    from sklearn.linear_model import Ridge

    from registry.mlflow_source import MlflowSource
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    exp = client.create_experiment("lm", artifact_location=(tmp_path / "a").as_uri())
    X = np.random.default_rng(0).normal(size=(40, 2))
    y = X @ [1.0, 2.0]
    est = Ridge().fit(X, y)
    old = save_uris()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        ids = []
        for _ in range(2):
            with mlflow.start_run(experiment_id=exp) as train:
                info = mlflow.sklearn.log_model(est, name="model", pip_requirements=["sklearn"],
                                                signature=infer_signature(X, est.predict(X)))
            ids.append((train.info.run_id, info.model_id))
        with mlflow.start_run(experiment_id=exp):
            mlflow.log_metric("root_mean_squared_error", 0.25, model_id=ids[0][1])
        mlflow.register_model(f"models:/{ids[0][1]}", "scored")
        mlflow.register_model(f"models:/{ids[1][1]}", "bare")
    finally:
        restore_uris(old)
    source = MlflowSource(uri)
    models = {m.name: m for m in source.list_models().items}
    assert models["scored"].task == "regression"
    assert models["scored"].task_source == "inferred from the metrics mlflow.evaluate logged on v1"
    assert models["bare"].task == "regression"
    assert models["bare"].task_source.startswith("inferred from the signature")
    (v,) = source.list_versions("scored").items
    assert v.run_id == ids[0][0] and v.model_id == ids[0][1]
    assert v.metrics["root_mean_squared_error"] == 0.25
    assert "root_mean_squared_error" not in client.get_run(ids[0][0]).data.metrics


# ------------------------------------------------------------------ pure functions
def test_task_from_the_default_evaluators_and_autologs_metric_names():
    assert task_from_metrics({"true_positives": 3, "accuracy_score": 0.9}) == \
        ("binary", "mlflow.evaluate")
    assert task_from_metrics({"val_precision_recall_auc": 0.9}) == ("binary", "mlflow.evaluate")
    assert task_from_metrics({"accuracy_score": 0.9, "roc_auc": 0.8}) == \
        ("multiclass", "mlflow.evaluate")
    assert task_from_metrics({"x": 1}, ("per_class_metrics.csv",))[0] == "multiclass"
    assert task_from_metrics({"test_r2_score": 0.5}) == ("regression", "mlflow.evaluate")
    assert task_from_metrics({"training_r2_score": 0.5}) == ("regression", "autolog")
    # autolog's classifier metrics do not tell two classes from more
    assert task_from_metrics({"training_roc_auc": 0.9, "training_accuracy_score": 0.9}) == \
        (None, "")
    assert task_from_metrics({"loss": 0.1}) == (None, "")


def test_inference_order_tag_then_run_tag_then_metrics_then_signature():
    ev = [("v2", {"modeldeck.task": "regression"}, {"true_positives": 1}, (), None)]
    assert infer_task({"modeldeck.task": "binary"}, ev).source == \
        "set by the registered model's tag modeldeck.task"
    run_tag = infer_task({}, ev)
    assert (run_tag.task, run_tag.source) == ("regression",
                                              "set by the tag modeldeck.task on the run of v2")
    bad = infer_task({"modeldeck.task": "ranking"}, [("v1", {}, {"true_positives": 1}, (), None)])
    assert bad.task == "binary" and "'ranking'" in bad.source
    autolog = infer_task({}, [("v1", {}, {"training_r2_score": 0.3}, (), None)])
    assert autolog.source == "inferred from the training metrics autolog logged on v1"
    calls = []

    def classifier_signature():
        calls.append(1)
        return {"signature": {"outputs": '[{"type": "long", "required": true}]'}}
    unknown = infer_task({}, [("v1", {}, {"training_roc_auc": 0.9}, (), classifier_signature)])
    assert unknown.task == "unknown" and "classifier" in unknown.source
    assert "modeldeck.task" in unknown.source and calls == [1]
    nothing = infer_task({}, [])
    assert nothing.task == "unknown" and nothing.source.startswith("unknown: nothing")
    assert task_from_signature({"signature": {"outputs": '[{"type": "double"}]'}})[0] == \
        "regression"
    assert task_from_signature({"signature": {"outputs": "not json"}}) == (None, "")


def test_mlflow_names_map_onto_modeldeck_keys_in_one_place():
    assert mlflow_key("precision_score", "binary") == "precision"
    assert mlflow_key("precision_score", "multiclass") is None  # weighted over classes
    assert mlflow_key("f1_score", "multiclass") == "f1_weighted"
    assert mlflow_key("root_mean_squared_error", "regression") == "rmse"
    assert mlflow_key("r2_score", "unknown") == "r2"
    assert split_name("training_roc_auc") == (TRAINING, "roc_auc")
    assert split_name("val_roc_auc") == ("val", "roc_auc")
    assert split_name("holdout/roc_auc") == ("holdout", "roc_auc")
    assert split_name("roc_auc") == (HELD_OUT, "roc_auc")
    assert split_name("my_loss") == ("other", "my_loss")


def test_clopper_pearson_is_scipys_exact_interval_and_checks_the_counts():
    for k, n in ((0, 10), (7, 10), (10, 10), (95, 171)):
        ci = stats.binomtest(k, n).proportion_ci(method="exact")
        assert clopper_pearson(k, n) == pytest.approx((ci.low, ci.high), abs=1e-15)
    model = Model("m", "binary")
    # counts that disagree with the logged value (e.g. a weighted evaluation): no interval
    v = ModelVersion("m", 1, metrics={"precision_score": 0.5, "true_positives": 9.0,
                                      "false_positives": 1.0, "false_negatives": 2.0,
                                      "true_negatives": 8.0, "recall_score": 9 / 11,
                                      "example_count": 20.0})
    got = {x.name: x for x in logged_values(model, v)}
    assert got["precision_score"].interval == NO_INTERVAL
    assert got["recall_score"].interval == EXACT
    assert headline_logged(model, v) is None  # no roc_auc logged
    unknown = Model("u", "unknown", task_source="unknown: …")
    assert all(math.isfinite(x.value) for x in logged_values(unknown, v))


@needs_mlflow
def test_a_model_whose_task_nothing_tells_is_listed_and_every_page_tolerates_it(
        ordinary_mlflow_store, tmp_path):
    """Pages, reports and recommendations on a model with task "unknown": no error, and the
    model page says how to set the task."""
    import shutil

    from mlflow import MlflowClient

    from app import Settings, create_app
    src = ordinary_mlflow_store[len("sqlite:///"):]
    shutil.copy(src, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    exp = client.get_experiment_by_name("ordinary-training").experiment_id
    client.create_registered_model("mystery")
    for loss in (0.4, 0.3):
        run = client.create_run(exp, run_name="mystery")
        client.log_metric(run.info.run_id, "loss", loss)
        client.log_param(run.info.run_id, "lr", loss / 10)
        client.set_terminated(run.info.run_id)
        client.create_model_version("mystery", f"{run.info.artifact_uri}/model",
                                    run_id=run.info.run_id)
    client.set_registered_model_alias("mystery", "champion", "1")
    app = create_app(Settings(registry=uri))
    with app.server.test_request_context():
        import pages.compare as compare_page
        import pages.model as model_page
        import pages.portfolio as portfolio_page
        import pages.recommendations as recommendations_page
        from pages._data import deck
        from reports.compare_report import compare_report
        from reports.model_report import model_report
        d = deck()
        m = d.model("mystery")
        assert m.task == "unknown" and "set the registered-model tag modeldeck.task" in \
            m.task_source
        assert [x.name for x in d.models().items] == ["cancer", "diabetes", "mystery", "wine"]
        page = _text(model_page.layout(name="mystery"))
        assert "Task unknown" in page and "modeldeck.task" in page
        assert "loss = 0.4" in page  # the champion's logged metric, as stored
        compared = _text(compare_page.layout(model="mystery"))
        assert "the model's task is unknown" in compared and "lr" in compared
        assert "Task unknown" in _text(portfolio_page.layout())
        from analysis.evidence import portfolio_advice
        recs = _text(recommendations_page.recommendations_view(d, portfolio_advice(d)))
        assert "mystery: the task is unknown" in recs
        assert model_report(d, "mystery").summary[1].startswith("Task: unknown")
        assert compare_report(d, "mystery", 1, 2).summary


def _text(component) -> str:
    """Every string in a Dash component tree, joined (what a page would show)."""
    if component is None:
        return ""
    if isinstance(component, (str, int, float)):
        return str(component)
    if isinstance(component, (list, tuple)):
        return "".join(_text(c) for c in component)
    out = _text(getattr(component, "children", None))
    for prop in ("title", "label"):
        value = getattr(component, prop, None)
        if isinstance(value, str):
            out += " " + value
    return out
