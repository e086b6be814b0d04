"""Metrics against scikit-learn on the same rows; health rules firing and not firing."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from analysis.language import metric_sentence, per_100
from analysis.metrics import binary_truth, compute_metrics, relative_drop
from analysis.monitoring import model_monitoring
from analysis.portfolio import HealthSettings, summarize
from registry.model import champion_of
from registry import open_source
from registry.cached import CachedSource
from registry.model import Model, ModelVersion
from registry.writer import log_model, log_model_version, log_monitoring

TOL = 1e-9


def test_binary_metrics_equal_sklearn(tiny_registry):
    src = open_source(str(tiny_registry))
    model = src.get_model("churn")
    frame = src.evaluation("churn", 2).frame
    y, s = frame["y_true"].to_numpy(), frame["y_score"].to_numpy()
    got = compute_metrics(model, frame, threshold=0.4)
    pred = (s >= 0.4).astype(int)
    expected = {
        "roc_auc": skm.roc_auc_score(y, s), "average_precision": skm.average_precision_score(y, s),
        "accuracy": skm.accuracy_score(y, pred), "precision": skm.precision_score(y, pred),
        "recall": skm.recall_score(y, pred), "f1": skm.f1_score(y, pred),
        "log_loss": skm.log_loss(y, s), "brier": skm.brier_score_loss(y, s),
    }
    assert got.keys() == expected.keys()
    for k, v in expected.items():
        assert got[k] == pytest.approx(v, abs=TOL), k


def test_multiclass_metrics_equal_sklearn(tiny_registry):
    src = open_source(str(tiny_registry))
    frame = src.evaluation("iris", 2).frame
    got = compute_metrics(src.get_model("iris"), frame)
    y, pred = frame["y_true"], frame["y_pred"]
    p = frame[["proba.0", "proba.1", "proba.2"]].to_numpy()
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), abs=TOL)
    assert got["f1_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro"), abs=TOL)
    assert got["f1_weighted"] == pytest.approx(skm.f1_score(y, pred, average="weighted"), abs=TOL)
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, p), abs=TOL)


def test_multiclass_without_y_pred_uses_most_probable_class():
    frame = pd.DataFrame({"y_true": ["a", "b", "c", "a"],
                          "proba.a": [0.7, 0.2, 0.1, 0.3], "proba.b": [0.2, 0.5, 0.1, 0.6],
                          "proba.c": [0.1, 0.3, 0.8, 0.1]})
    got = compute_metrics(Model("m", "multiclass"), frame)
    assert got["accuracy"] == pytest.approx(0.75)


def test_regression_metrics_equal_sklearn(tiny_registry):
    src = open_source(str(tiny_registry))
    frame = src.evaluation("price", 1).frame
    y, p = frame["y_true"], frame["y_pred"]
    got = compute_metrics(src.get_model("price"), frame)
    assert got["rmse"] == pytest.approx(skm.root_mean_squared_error(y, p), abs=TOL)
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, p), abs=TOL)
    assert got["r2"] == pytest.approx(skm.r2_score(y, p), abs=TOL)
    assert got["mape"] == pytest.approx(skm.mean_absolute_percentage_error(y, p), abs=TOL)


def test_mape_left_out_when_a_true_value_is_zero():
    frame = pd.DataFrame({"y_true": [0.0, 1.0, 2.0], "y_pred": [0.5, 1.0, 2.5]})
    assert "mape" not in compute_metrics(Model("m", "regression"), frame)


@pytest.mark.parametrize("values, label, expected", [
    ([0, 1, 1, 0], None, [0, 1, 1, 0]),
    ([0.0, 1.0, 1.0], "1", [0, 1, 1]),
    ([True, False], None, [1, 0]),
    (["stay", "leave", "leave"], "leave", [0, 1, 1]),
    ([1, 2, 2], "2", [0, 1, 1]),
])
def test_binary_truth(values, label, expected):
    assert binary_truth(np.array(values), label).tolist() == expected


def test_relative_drop_respects_direction():
    assert relative_drop("roc_auc", 0.8, 0.9) == pytest.approx(0.1 / 0.9)
    assert relative_drop("roc_auc", 0.95, 0.9) < 0
    assert relative_drop("mae", 12, 10) == pytest.approx(0.2)
    assert relative_drop("mae", 8, 10) < 0


def test_sentences_are_plain_and_true():
    m = Model("churn", "binary", entity="customer")
    assert metric_sentence("accuracy", 0.823, m) == \
        "The model gets 82 of every 100 customers right."
    assert per_100(0.996) == "more than 99" and per_100(1.0) == "100"
    reg = Model("p", "regression", target_unit="points")
    assert metric_sentence("mae", 43.21, reg) == "On average a prediction is off by 43.2 points."


def test_champion_falls_back_to_stage_then_newest():
    v = lambda n, aliases=(), stage=None: ModelVersion("m", n, tuple(aliases), stage)  # noqa
    assert champion_of((v(2), v(1, ["champion"])))[0].version == 1
    assert champion_of((v(3), v(2, stage="Production"), v(1)))[0].version == 2
    champ, how = champion_of((v(1), v(3), v(2)))
    assert champ.version == 3 and how == "newest version"


# ------------------------------------------------------------------ health rules
def _binary_registry(root, champion_noise, previous_noise, drift=None, n=600, seed=0):
    rng = np.random.default_rng(seed)
    log_model(root, "m", "binary", entity="customer")
    y = rng.integers(0, 2, n)
    for v, noise in ((1, previous_noise), (2, champion_noise)):
        s = 1 / (1 + np.exp(-(2 * y - 1) * 1.5 + rng.normal(0, noise, n)))
        log_model_version(root, "m", y_true=y, y_score=s,
                          aliases=["champion"] if v == 2 else [])
    if drift is not None:
        months = pd.date_range("2026-01-01", periods=3, freq="MS", tz="UTC")
        ts = np.repeat(months, 400)
        ym = rng.integers(0, 2, len(ts))
        noise = np.r_[np.full(800, champion_noise), np.full(400, drift)]
        sm = 1 / (1 + np.exp(-(2 * ym - 1) * 1.5 + rng.normal(0, 1, len(ts)) * noise))
        log_monitoring(root, "m", timestamp=ts, version=2, y_true=ym, y_score=sm)
    return CachedSource(open_source(str(root)))


def test_health_ok_when_champion_holds_up(tmp_path):
    s = summarize(_binary_registry(tmp_path, 0.8, 1.5), "m")
    assert s.health.status == "ok" and s.improved


def test_health_act_when_champion_worse_than_previous(tmp_path):
    s = summarize(_binary_registry(tmp_path, 2.5, 0.6), "m")
    assert s.health.status == "act"
    assert "worse than v1" in s.health.reason and not s.improved


def test_health_act_when_production_falls(tmp_path):
    deck = _binary_registry(tmp_path, 0.8, 1.5, drift=3.0)
    s = summarize(deck, "m")
    perf = model_monitoring(deck, "m", 2)[2].performance
    last = perf.iloc[-1]
    frame = deck.monitoring("m").frame
    rows = frame[frame["timestamp"] >= "2026-03-01"]
    assert last["value"] == pytest.approx(skm.roc_auc_score(rows["y_true"], rows["y_score"]))
    # the portfolio judges the same window the monitoring page shows
    assert s.health.status == "act" and last["label"] in s.health.reason


def test_health_thresholds_are_settings(tmp_path):
    deck = _binary_registry(tmp_path, 0.8, 1.5, drift=3.0)
    lenient = HealthSettings(watch_drop=0.9, act_drop=0.95)
    assert summarize(deck, "m", lenient).health.status == "ok"


def test_health_watch_without_champion_alias(tmp_path):
    rng = np.random.default_rng(0)
    log_model(tmp_path, "r", "regression")
    y = rng.normal(size=100)
    log_model_version(tmp_path, "r", y_true=y, y_pred=y + rng.normal(0, 1, 100))
    s = summarize(CachedSource(open_source(str(tmp_path))), "r")
    assert s.health.status == "watch" and "champion" in s.health.reason and s.champion == 1


@pytest.mark.parametrize("model_name, metrics", [
    ("churn", ["roc_auc", "average_precision", "accuracy", "recall"]),
    ("iris", ["accuracy", "f1_macro"]),
    ("price", ["mae", "rmse", "r2"]),
])
def test_single_metric_equals_the_full_set(tiny_registry, model_name, metrics):
    from analysis.metrics import compute_metric
    src = open_source(str(tiny_registry))
    model = src.get_model(model_name)
    frame = src.evaluation(model_name, 1).frame
    full = compute_metrics(model, frame)
    for m in metrics:
        assert compute_metric(model, frame, m) == pytest.approx(full[m], abs=1e-12)
    one_class = frame.assign(y_true=frame["y_true"].iloc[0])
    if model.task == "binary":
        assert np.isnan(compute_metric(model, one_class, "roc_auc"))


def test_fast_roc_auc_equals_sklearn_with_ties():
    from analysis.metrics import roc_auc
    rng = np.random.default_rng(7)
    for n in (10, 1000, 20000):
        y = rng.integers(0, 2, n)
        s = np.round(rng.random(n), 2)
        assert roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert np.isnan(roc_auc(np.ones(5, int), rng.random(5)))


def test_versions_table_shows_logged_metrics_even_without_prediction_rows(tiny_registry):
    import shutil
    from analysis.versions import version_table
    shutil.rmtree(tiny_registry / "models/churn/versions/1/evaluation")
    deck = CachedSource(open_source(str(tiny_registry)))
    table = version_table(deck, "churn").set_index("version")
    assert table.loc[1, "problem"] == "no evaluation rows" and np.isnan(table.loc[1, "value"])
    assert table.loc[1, "logged"] == "cv_auc 0.71"
    assert table.loc[3, "logged"] == "cv_auc 0.73"
