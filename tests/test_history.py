"""The retraining story: what changed between versions, paired effects on the metric and the
money figure (checked against scikit-learn and a direct bootstrap), and the retrain
recommendation that names the last retraining that helped."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import mean_absolute_error, roc_auc_score

from analysis.business import regression_cost, value_curve
from analysis.history import (
    build_story, changes_between, effect_sentence, features_of, last_helped_sentence,
    money_per_row, paired_money_difference,
)
from analysis.metrics import binary_truth
from analysis.recommend import Difference, Evidence, recommend
from analysis.uncertainty import BootstrapSettings
from registry import SAMPLE_REGISTRY, open_source
from registry.cached import CachedSource
from registry.model import DataInfo, ModelVersion
from registry.writer import log_model_version


def _deck(root) -> CachedSource:
    return CachedSource(open_source(str(root)))


def test_features_and_changes_between_two_versions():
    a = ModelVersion("m", 1, algorithm="LogReg", params={"C": 1, "features": "a, b, c"},
                     training_data=DataInfo("crm", 1000, "2024"))
    b = ModelVersion("m", 2, algorithm="HGB", params={"depth": 3, "features": '["a", "c", "d"]'},
                     training_data=DataInfo("crm", 1500, "2025"))
    assert features_of(a) == ["a", "b", "c"] and features_of(b) == ["a", "c", "d"]
    assert features_of(ModelVersion("m", 3)) is None
    ch = changes_between(a, b)
    assert "Algorithm: LogReg → HGB." in ch
    assert "Features added: d." in ch and "Features dropped: b." in ch
    assert "Training rows: 1,000 → 1,500." in ch and "Training period: 2024 → 2025." in ch
    assert "Parameters: C 1 → —, depth — → 3." in ch  # features are not repeated here
    assert changes_between(a, a) == ("Same algorithm, parameters, features and training data "
                                     "as the version before.",)
    assert changes_between(None, a)[0] == "First version: LogReg."


def test_money_per_row_sums_to_the_value_curve_and_the_error_cost(tiny_registry):
    deck = _deck(tiny_registry)
    m = deck.model("churn")
    f = deck.evaluation("churn", 2).frame
    y = binary_truth(f["y_true"], m.positive_label)
    curve = value_curve(y, f["y_score"].to_numpy(float), m.business, n_boot=2)
    for t in (0.2, curve.best_threshold, 0.8):
        assert money_per_row(m, f, t).sum() == pytest.approx(curve.at(t), rel=1e-12)
    from dataclasses import replace

    from registry.model import BusinessSettings
    p = replace(deck.model("price"), business=BusinessSettings(cost_per_unit_error=2.5,
                                                               volume_per_month=300))
    fr = deck.evaluation("price", 1).frame
    assert money_per_row(p, fr, None).sum() == pytest.approx(
        regression_cost(fr["y_true"], fr["y_pred"], p.business), rel=1e-12)
    assert regression_cost(fr["y_true"], fr["y_pred"], p.business) == pytest.approx(
        mean_absolute_error(fr["y_true"], fr["y_pred"]) * 2.5 * 300)


def test_paired_money_difference_is_a_paired_bootstrap():
    rng = np.random.default_rng(1)
    a, b = rng.normal(1, 1, 300), rng.normal(1.2, 1, 300)
    s = BootstrapSettings(n_boot=500, seed=3, chunk=100)
    d = paired_money_difference(a, b, "EUR", s)
    assert d.delta == pytest.approx(b.sum() - a.sum())
    # the same resamples drawn by hand: row indices, the same for both versions
    r = np.random.default_rng(3)
    draws = []
    for _ in range(5):
        idx = r.integers(0, 300, size=(100, 300))
        draws += [(b[i] - a[i]).sum() for i in idx]
    assert (d.low, d.high) == pytest.approx(tuple(np.quantile(draws, [0.025, 0.975])))
    assert d.significant == (d.low > 0 or d.high < 0)


def test_story_of_the_tiny_churn_model_against_scikit_learn(tiny_registry):
    deck = _deck(tiny_registry)
    story = build_story(deck, "churn")
    assert [s.version for s in story.steps] == [1, 2, 3] and story.metric == "roc_auc"
    assert story.money_kind == "value"
    aucs = {}
    for v in (1, 2, 3):
        f = deck.evaluation("churn", v).frame
        aucs[v] = roc_auc_score(f["y_true"].astype(int), f["y_score"])
    for s in story.steps[1:]:
        d = s.metric_change
        assert d.value_a == pytest.approx(aucs[s.previous], abs=1e-12)
        assert d.delta == pytest.approx(aucs[s.version] - aucs[s.previous], abs=1e-12)
        assert d.low <= d.delta <= d.high
        assert s.money_change is not None and s.money_change.low <= s.money_change.high
    # v2 and v3 are much less noisy than v1: the retraining to v2 clearly helped
    assert story.steps[1].verdict == "helped"
    assert story.last_helped.version in (2, 3)
    assert last_helped_sentence(story).startswith(
        f"The last retraining that helped was v{story.last_helped.version}: ROC AUC +")
    text = effect_sentence(deck.model("churn"), story, story.steps[1])
    assert text.startswith("It helped: ROC AUC +") and "paired on the same rows" in text
    assert "Monthly value:" in text


def test_versions_on_different_rows_are_not_paired_and_say_why(tiny_registry):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 50)
    log_model_version(tiny_registry, "churn", y_true=y, y_score=rng.random(50),
                      training_data={"rows": 50})
    deck = _deck(tiny_registry)
    step = build_story(deck, "churn").steps[-1]
    assert step.metric_change is None and step.money_change is None
    assert "not evaluated on the same rows" in step.not_paired
    assert "Training rows: not recorded → 50." in step.changes
    assert effect_sentence(deck.model("churn"), build_story(deck, "churn"), step).startswith(
        "No paired comparison with v3")


def test_sample_churn_story_has_four_versions_and_v4_helped():
    deck = _deck(SAMPLE_REGISTRY)
    story = build_story(deck, "customer-churn")
    assert [s.version for s in story.steps] == [1, 2, 3, 4]
    v4 = story.steps[-1]
    assert "Features added: support_calls, data_usage_gb." in v4.changes
    assert "Training rows: 15,000 → 12,000." in v4.changes
    assert story.steps[1].changes[0] == \
        "Algorithm: LogisticRegression → RandomForestClassifier."
    assert v4.verdict == "helped" and story.last_helped.version == 4


def test_retrain_recommendation_names_the_last_retraining_that_helped():
    d = Difference(4, 3, "roc_auc", 0.89, 0.88, 0.011, 0.007, 0.016)
    e = Evidence("m", "binary", "roc_auc", champion=3, reference=0.88,
                 windows=(("Oct", 2000, 0.78, 0.76, 0.80),), last_retrain=d)
    [r] = [r for r in recommend(e) if r.action == "retrain"]
    assert r.evidence[-1].startswith("The last retraining that helped was v4: ROC AUC +0.011")
    assert r.details == {"last_helped": 4}
    e2 = Evidence("m", "binary", "roc_auc", champion=3, reference=0.88,
                  windows=(("Oct", 2000, 0.78, 0.76, 0.80),))
    [r2] = [r for r in recommend(e2) if r.action == "retrain"]
    assert not any("last retraining" in x for x in r2.evidence)


def test_a_large_paired_money_difference_is_bootstrapped_on_a_bounded_subsample(monkeypatch):
    """Above ``max_rows`` rows the paired bootstrap runs on a seeded subsample (the weights
    would be chunk × rows: 1.6 GB at a million rows), its spread scaled to all rows: about
    the width of the bootstrap on all of them, centred on the exact difference."""
    import analysis.history as history
    widths = []
    real = history.resample_weights

    def recorded(n, settings, rng):
        widths.append(n)
        return real(n, settings, rng)
    rng = np.random.default_rng(2)
    a, b = rng.normal(1, 1, 40_000), rng.normal(1.02, 1, 40_000)
    full = paired_money_difference(a, b, "EUR", BootstrapSettings(n_boot=400, max_rows=10 ** 6,
                                                                 chunk=20))
    monkeypatch.setattr(history, "resample_weights", recorded)
    sub = paired_money_difference(a, b, "EUR", BootstrapSettings(n_boot=400, max_rows=4_000))
    assert widths == [4_000]  # the weights' width: the subsample, not the 40,000 rows
    assert sub.delta == pytest.approx(b.sum() - a.sum()) == pytest.approx(full.delta)
    assert 0.7 < (sub.high - sub.low) / (full.high - full.low) < 1.4
    assert sub.low < sub.delta < sub.high
