"""Business value, drift, monitoring windows and recommendation rules."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import confusion_matrix, roc_auc_score

from analysis.business import (
    confusion_counts, is_complete, money, regression_cost, value_curve, with_overrides,
)
from analysis.drift import Bins, ks, psi, psi_word
from analysis.monitoring import monitoring_report
from analysis.monitoring_types import window_codes
from analysis.recommend import (
    Difference, Evidence, RecommendationSettings, SegmentResult, headline, recommend,
)
from registry.model import BusinessSettings, Model

B = BusinessSettings(positive_means="leaves", value_true_positive=150, cost_false_positive=20,
                     cost_false_negative=50, volume_per_month=40000)


def data(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    score = np.clip(0.5 + (y - 0.5) * 0.4 + rng.normal(0, 0.25, n), 0, 1)
    return y, score


# ------------------------------------------------------------------ business value
def test_confusion_counts_equal_sklearn():
    y, s = data()
    tp, fp, fn, tn = confusion_counts(y, s, np.array([0.0, 0.3, 0.5, 0.77, 1.0]))
    for i, t in enumerate([0.0, 0.3, 0.5, 0.77, 1.0]):
        (tn_, fp_), (fn_, tp_) = confusion_matrix(y, (s >= t).astype(int), labels=[0, 1])
        assert (tp[i], fp[i], fn[i], tn[i]) == (tp_, fp_, fn_, tn_)


def test_value_curve_is_the_formula_and_band_holds_it():
    y, s = data()
    c = value_curve(y, s, B)
    i = c.index_of(0.4)
    pred = s >= c.thresholds[i]
    tp = np.sum(pred & (y == 1)); fp = np.sum(pred & (y == 0)); fn = np.sum(~pred & (y == 1))
    expected = (150 * tp - 20 * fp - 50 * fn) / len(y) * 40000
    assert c.value[i] == pytest.approx(expected, rel=1e-12)
    assert c.best_value == pytest.approx(c.value.max())
    assert np.all(c.low <= c.high)
    inside = (c.low <= c.value) & (c.value <= c.high)
    assert inside.mean() > 0.9
    assert c.frame()["value_per_month"].iloc[i] == c.value[i]


def test_costlier_misses_lower_the_best_threshold():
    y, s = data()
    cheap = value_curve(y, s, with_overrides(B, cost_false_negative=0), n_boot=20)
    dear = value_curve(y, s, with_overrides(B, cost_false_negative=400), n_boot=20)
    assert dear.best_threshold < cheap.best_threshold


def test_incomplete_settings_and_regression_cost():
    assert not is_complete(BusinessSettings(value_true_positive=1))
    assert is_complete(B)
    with pytest.raises(ValueError):
        value_curve(np.array([0, 1]), np.array([0.2, 0.8]), BusinessSettings())
    y, p = np.array([1.0, 2.0, 4.0]), np.array([1.5, 2.0, 3.0])
    assert regression_cost(y, p, None) is None
    cost = regression_cost(y, p, BusinessSettings(cost_per_unit_error=10, volume_per_month=100))
    assert cost == pytest.approx(0.5 * 10 * 100)


def test_money_words():
    assert money(41234, "EUR") == "€41k" and money(-1234, "USD") == "−$1.2k"
    assert money(830, "CHF") == "830 CHF" and money(None, "EUR") == "–"


# ------------------------------------------------------------------ drift
def independent_psi(ref, cur, edges):
    """PSI written out from its definition, with numpy.histogram as the binning."""
    full = np.r_[-np.inf, edges, np.inf]
    p = np.histogram(ref, bins=full)[0] / len(ref)
    q = np.histogram(cur, bins=full)[0] / len(cur)
    p, q = np.maximum(p, 1e-4), np.maximum(q, 1e-4)
    return np.sum((q - p) * np.log(q / p))


def test_psi_matches_an_independent_computation():
    rng = np.random.default_rng(1)
    ref = pd.Series(rng.normal(0, 1, 5000))
    cur = pd.Series(rng.normal(0.5, 1.2, 3000))
    bins = Bins.from_reference(ref)
    # numpy.histogram's bins are closed on the left like ours, except for exact edge hits,
    # which continuous data does not produce
    assert psi(ref, cur) == pytest.approx(independent_psi(ref, cur, bins.edges), rel=1e-12)
    assert psi(ref, ref) == pytest.approx(0, abs=1e-12)
    assert psi_word(psi(ref, cur)) == "large shift"


def test_psi_for_categories():
    ref = pd.Series(["a"] * 50 + ["b"] * 50)
    cur = pd.Series(["a"] * 80 + ["b"] * 10 + ["c"] * 10)
    p = np.array([0.5, 0.5, 1e-4]); q = np.array([0.8, 0.1, 0.1])
    assert psi(ref, cur) == pytest.approx(np.sum((q - p) * np.log(q / p)))


def test_ks_equals_scipy():
    rng = np.random.default_rng(2)
    a, b = pd.Series(rng.normal(size=400)), pd.Series(rng.normal(0.3, 1, 300))
    r = stats.ks_2samp(a, b)
    assert ks(a, b) == (pytest.approx(r.statistic), pytest.approx(r.pvalue))
    assert np.isnan(ks(pd.Series(["x"]), pd.Series(["y"]))[0])


# ------------------------------------------------------------------ monitoring
def production(seed=0, months=6, per_month=500, unlabelled_last=True, shift_last=0.0):
    rng = np.random.default_rng(seed)
    starts = pd.date_range("2026-01-01", periods=months, freq="MS", tz="UTC")
    ts = np.concatenate([s + pd.to_timedelta(rng.integers(0, 27 * 24, per_month), unit="h")
                         for s in starts])
    n = len(ts)
    y = rng.integers(0, 2, n).astype(float)
    x = rng.normal(size=n)
    x[-per_month:] += shift_last
    score = np.clip(0.5 + (y - 0.5) * 0.5 + rng.normal(0, 0.2, n), 0, 1)
    if unlabelled_last:
        y[-per_month:] = np.nan
    return pd.DataFrame({"timestamp": ts, "version": 1, "y_true": y, "y_score": score,
                         "feature.x": x, "segment.g": rng.choice(["a", "b"], n)})


def test_window_codes_months_and_weeks():
    t = pd.Series(pd.to_datetime(["2026-01-31 23:00", "2026-02-01 01:00", "2026-02-02 00:00",
                                  "2026-02-09 00:00"], utc=True))
    codes, starts = window_codes(t, weekly=False)
    assert codes.tolist() == [0, 1, 1, 1] and starts[1] == pd.Timestamp("2026-02-01")
    codes, starts = window_codes(t, weekly=True)
    assert codes.tolist() == [0, 0, 1, 2]  # 2026-02-02 and 02-09 are Mondays
    assert starts[1] == pd.Timestamp("2026-02-02") and starts[1].day_name() == "Monday"


def test_monitoring_report_values_equal_sklearn_per_month():
    prod = production(shift_last=2.0)
    ref = production(seed=9, months=1, unlabelled_last=False)
    model = Model("m", "binary")
    r = monitoring_report(model, ref, prod, 1, "roc_auc")
    assert r.window_kind == "month" and len(r.performance) == 6
    feb = prod[(prod.timestamp >= "2026-02-01") & (prod.timestamp < "2026-03-01")]
    row = r.performance.iloc[1]
    assert row["value"] == pytest.approx(roc_auc_score(feb.y_true, feb.y_score), abs=1e-12)
    assert row["low"] <= row["value"] <= row["high"]
    assert r.reference == pytest.approx(roc_auc_score(ref.y_true, ref.y_score))
    assert r.unlabelled_windows == ["Jun 2026"]
    top = r.top_drift(1)
    assert top["name"].iloc[0] == "x" and top["psi"].iloc[0] > 0.2
    # the drift numbers are the PSI of that window against the reference
    jun = prod[prod.timestamp >= "2026-06-01"]
    assert top["psi"].iloc[0] == pytest.approx(psi(ref["feature.x"], jun["feature.x"]))
    assert set(r.drift["kind"]) == {"feature", "segment"}


def test_short_spans_use_weeks():
    prod = production(months=2)
    prod = prod[prod.timestamp < "2026-02-15"]
    r = monitoring_report(Model("m", "binary"), None, prod, 1, "roc_auc")
    assert r.window_kind == "week" and r.reference is None and r.drift.empty


# ------------------------------------------------------------------ recommendation rules
def diff(delta, low, high, version=4, other=3, metric="roc_auc"):
    return Difference(version, other, metric, 0.8 + delta, 0.8, delta, low, high)


def ev(**kw):
    base = dict(model="m", task="binary", metric="roc_auc", champion=3, currency="EUR")
    base.update(kw)
    return Evidence(**base)


def actions(recs):
    return [r.action for r in recs]


def test_promote_fires_only_when_significantly_better():
    recs = recommend(ev(challenger=diff(0.02, 0.01, 0.03), money_challenger=41000))
    assert actions(recs) == ["promote"]
    assert recs[0].headline == "Promote the challenger v4 — worth about €41k a month."
    assert recs[0].money_per_month == 41000 and "95% CI +0.010 to +0.030" in recs[0].evidence[0]
    recs = recommend(ev(challenger=diff(0.01, -0.005, 0.025)))
    assert actions(recs) == ["keep"] and "not significantly better" in recs[0].headline
    recs = recommend(ev(challenger=diff(-0.02, -0.03, -0.01)))
    assert actions(recs) == ["keep"] and "worse" in recs[0].headline


def test_promote_held_back_by_a_worse_major_segment():
    worse = SegmentResult("region", "south", 500, 0.25, 0.7, 0.65, 0.75,
                          delta=diff(-0.03, -0.05, -0.01))
    small = SegmentResult("region", "islands", 20, 0.01, 0.7, 0.6, 0.8,
                          delta=diff(-0.1, -0.2, -0.05))
    recs = recommend(ev(challenger=diff(0.02, 0.01, 0.03), challenger_segments=(worse,)))
    assert actions(recs) == ["investigate"] and "region = south" in recs[0].headline
    recs = recommend(ev(challenger=diff(0.02, 0.01, 0.03), challenger_segments=(small,)))
    assert actions(recs) == ["promote"]


def test_retrain_on_performance_fall_or_important_drift():
    windows = (("Aug 2026", 2000, 0.87, 0.85, 0.89), ("Sep 2026", 2000, 0.79, 0.77, 0.81))
    recs = recommend(ev(reference=0.88, windows=windows, money_lost=12000))
    assert actions(recs) == ["retrain"] and recs[0].confidence == "high"
    assert "Sep 2026" in recs[0].headline and "€12k" in recs[0].headline
    steady = (("Aug 2026", 2000, 0.87, 0.85, 0.89), ("Sep 2026", 2000, 0.875, 0.85, 0.9))
    assert actions(recommend(ev(reference=0.88, windows=steady))) == ["keep"]
    too_few = (("Sep 2026", 50, 0.5, 0.3, 0.7),)
    assert actions(recommend(ev(reference=0.88, windows=too_few))) == ["keep"]
    drift = (("support_calls", 0.35, 0.4),)
    recs = recommend(ev(reference=0.88, windows=steady, drifted=drift, latest_window="Nov"))
    assert actions(recs) == ["retrain"] and recs[0].confidence == "low"
    unimportant = (("noise", 0.35, 0.01),)
    assert actions(recommend(ev(reference=0.88, drifted=unimportant))) == ["keep"]


def test_retrain_for_lower_is_better_metrics():
    windows = (("Sep 2026", 500, 12.0, 11.0, 13.0),)
    recs = recommend(ev(metric="mae", task="regression", reference=10.0, windows=windows))
    assert actions(recs) == ["retrain"]
    better = (("Sep 2026", 500, 9.0, 8.0, 10.0),)
    assert actions(recommend(ev(metric="mae", reference=10.0, windows=better))) == ["keep"]


def test_roll_back_when_champion_significantly_worse_than_earlier():
    earlier = (Difference(3, 2, "roc_auc", 0.80, 0.84, -0.04, -0.06, -0.02),
               Difference(3, 1, "roc_auc", 0.80, 0.79, 0.01, -0.01, 0.03))
    recs = recommend(ev(earlier=earlier, money_rollback=5000))
    assert actions(recs) == ["roll back"] and recs[0].details == {"to": 2}
    not_sig = (Difference(3, 2, "roc_auc", 0.80, 0.81, -0.01, -0.03, 0.01),)
    assert actions(recommend(ev(earlier=not_sig))) == ["keep"]


def test_investigate_a_segment_far_below_the_rest():
    segs = (SegmentResult("plan", "basic", 400, 0.3, 0.70, 0.66, 0.74),
            SegmentResult("plan", "premium", 400, 0.3, 0.90, 0.87, 0.93))
    recs = recommend(ev(overall=0.85, segments=segs))
    assert actions(recs) == ["investigate"] and "plan = basic" in recs[0].headline
    close = (SegmentResult("plan", "basic", 400, 0.3, 0.82, 0.76, 0.88),)
    assert actions(recommend(ev(overall=0.85, segments=close))) == ["keep"]
    tiny = (SegmentResult("plan", "basic", 10, 0.01, 0.5, 0.3, 0.6),)
    assert actions(recommend(ev(overall=0.85, segments=tiny))) == ["keep"]


def test_thresholds_are_settings_and_headline_prefers_money():
    windows = (("Sep 2026", 2000, 0.79, 0.77, 0.81),)
    lenient = RecommendationSettings(performance_tolerance=0.5)
    assert actions(recommend(ev(reference=0.88, windows=windows), lenient)) == ["keep"]
    recs = recommend(ev(reference=0.88, windows=windows, money_lost=1000,
                        challenger=diff(0.02, 0.01, 0.03), money_challenger=40000))
    assert set(actions(recs)) == {"promote", "retrain"}
    assert headline(recs).action == "promote"


def test_bin_index_equals_searchsorted_in_float32_and_float64():
    from analysis.drift import bin_index
    rng = np.random.default_rng(4)
    for dtype in (np.float32, np.float64):
        x = rng.normal(size=5000).astype(dtype)
        edges = np.quantile(x.astype(float), np.linspace(0, 1, 11)[1:-1]) + 1e-9
        edges = np.r_[edges, float(x[0])]  # a value exactly on an edge
        edges.sort()
        np.testing.assert_array_equal(bin_index(x, edges),
                                      np.searchsorted(edges, x.astype(float), side="right"))


def test_window_codes_unsorted_times_match_sorted():
    prod = production()
    shuffled = prod.sample(frac=1, random_state=0)
    codes, starts = window_codes(shuffled["timestamp"], weekly=False)
    months = shuffled["timestamp"].dt.tz_localize(None).dt.to_period("M").dt.to_timestamp()
    assert [starts[c] for c in codes] == list(months)


def test_value_curve_figure_plots_the_curve():
    from components.business_figures import value_curve_figure
    y, s = data()
    c = value_curve(y, s, B, n_boot=30)
    fig = value_curve_figure(c, threshold=0.5)
    line = fig.data[1]
    np.testing.assert_allclose(np.asarray(line.y, float), c.value)
    np.testing.assert_allclose(np.asarray(line.x, float), c.thresholds)
    band = np.asarray(fig.data[0].y, float)
    np.testing.assert_allclose(band[:len(c.high)], c.high)
    marks = [s.x0 for s in fig.layout.shapes if s.type == "line" and s.x0 == s.x1]
    assert c.best_threshold in marks and 0.5 in marks
    assert fig.layout.yaxis.title.text == "Value per month (EUR)"
    assert fig.layout.xaxis.title.text.startswith("Threshold")


def test_value_sentence_numbers_come_from_the_curve():
    from analysis.business import value_sentence
    y, s = data()
    c = value_curve(y, s, B, n_boot=30)
    text = value_sentence(c, 0.5, "customer", "the customer cancels within 90 days")
    i = c.index_of(0.5)
    scale = 40000 / len(y)
    assert f"flags {(c.tp[i] + c.fp[i]) * scale:,.0f}" in text
    assert f"of whom {c.tp[i] * scale:,.0f} really cancel within 90 days" in text
    assert f"{c.fn[i] * scale:,.0f} who cancel within 90 days are missed" in text
    assert money(c.value[i], "EUR") in text
    assert "best threshold" in value_sentence(c, c.best_threshold)


def test_what_if_query_is_validated():
    from analysis.business import parse_what_if
    assert parse_what_if({"value_tp": "200", "cost_fp": "-5", "cost_fn": "abc",
                          "volume": "inf", "other": "1"}) == {"value_true_positive": 200.0}
    b = with_overrides(B, **parse_what_if({"cost_fn": "0"}))
    assert b.cost_false_negative == 0 and b.value_true_positive == 150
