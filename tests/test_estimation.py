"""Estimated performance without labels (analysis/estimation.py): the expected confusion
matrix and metrics against scikit-learn on the same rows, the calibration check, the sample's
unlabelled November, and the coverage of the interval by simulation."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import precision_score, recall_score, roc_auc_score

from analysis.business import value_curve
from analysis.calibration import (
    Calibration, _fit_map, check_calibration, expected_calibration_error,
)
from analysis.estimation import (
    ESTIMATE_COLUMNS, EstimationSettings, estimate_performance, estimate_window,
)
from analysis.monitoring import monitoring_report
from analysis.uncertainty import BootstrapSettings
from registry import SAMPLE_REGISTRY, open_source
from registry.model import BusinessSettings, Model

BUSINESS = BusinessSettings(value_true_positive=150, cost_false_positive=20,
                            cost_false_negative=50, volume_per_month=40_000)
QUICK = EstimationSettings(bootstrap=BootstrapSettings(n_boot=200, chunk=100))
AS_GIVEN = Calibration(rows=0, ece=0.0, ece_chance=0.0, calibrated=True)


def _doubled(p, s):
    """Each row once as a positive (weight p) and once as a negative (weight 1 − p)."""
    return (np.r_[np.ones(len(s)), np.zeros(len(s))], np.r_[s, s], np.r_[p, 1 - p])


def test_expected_metrics_are_scikit_learns_on_probability_weighted_rows():
    rng = np.random.default_rng(3)
    s = np.round(rng.random(400), 2)  # ties included
    p = np.clip(s + rng.normal(0, 0.1, 400), 0, 1)
    cal = Calibration(0, 0.0, 0.0, False, "isotonic regression", tuple(np.sort(s)),
                      tuple(np.sort(p)))
    prob = cal.apply(s)
    got = estimate_window(cal, s, 0.4, BUSINESS, QUICK)
    y2, s2, w2 = _doubled(prob, s)
    assert got["roc_auc"] == pytest.approx(roc_auc_score(y2, s2, sample_weight=w2), abs=1e-9)
    assert got["precision"] == pytest.approx(
        precision_score(y2, s2 >= 0.4, sample_weight=w2), abs=1e-9)
    assert got["recall"] == pytest.approx(recall_score(y2, s2 >= 0.4, sample_weight=w2),
                                          abs=1e-9)
    flag = s >= 0.4
    assert got["tp"] == pytest.approx(prob[flag].sum())
    assert got["fp"] == pytest.approx((1 - prob[flag]).sum())
    assert got["fn"] == pytest.approx(prob[~flag].sum())
    assert got["tn"] == pytest.approx((1 - prob[~flag]).sum())
    money = (150 * got["tp"] - 20 * got["fp"] - 50 * got["fn"]) / 400 * 40_000
    assert got["money"] == pytest.approx(money)
    for k in ("roc_auc", "precision", "recall", "money"):
        assert got[f"{k}_low"] < got[k] < got[f"{k}_high"]


def test_known_outcomes_give_the_measured_values():
    """Probabilities of exactly 0 or 1 are known labels: the estimate is the measured value
    (scikit-learn; money as the model page's value curve) and its interval has no width."""
    rng = np.random.default_rng(4)
    s = rng.random(300)
    y = (rng.random(300) < s).astype(int)
    cal = Calibration(0, 0.0, 0.0, False, "isotonic regression", tuple(s[np.argsort(s)]),
                      tuple(y[np.argsort(s)].astype(float)))
    got = estimate_window(cal, s, 0.5, BUSINESS, QUICK)
    assert got["roc_auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-9)
    assert got["precision"] == pytest.approx(precision_score(y, s >= 0.5), abs=1e-9)
    assert got["recall"] == pytest.approx(recall_score(y, s >= 0.5), abs=1e-9)
    assert got["money"] == pytest.approx(value_curve(y, s, BUSINESS, n_boot=2).at(0.5))
    assert got["roc_auc_low"] == pytest.approx(got["roc_auc_high"])


def test_precision_is_undefined_when_no_row_is_flagged():
    got = estimate_window(AS_GIVEN, np.linspace(0.1, 0.3, 50), 0.9, BUSINESS, QUICK)
    assert np.isnan(got["precision"]) and got["recall"] == 0.0


def test_calibration_check():
    rng = np.random.default_rng(5)
    z = rng.normal(0, 1.5, 4000)
    truth = 1 / (1 + np.exp(-z))
    y = (rng.random(4000) < truth).astype(int)
    calibrated = check_calibration(y, truth, QUICK)
    assert calibrated.calibrated and calibrated.method == ""
    assert calibrated.ece == pytest.approx(expected_calibration_error(y, truth))
    assert "are calibrated" in calibrated.sentence(3)
    np.testing.assert_array_equal(calibrated.apply(truth), truth)

    # a kinked, not logistic, distortion: isotonic regression predicts better out of fold
    kinked = np.where(truth < 0.5, truth * 0.3, 0.15 + (truth - 0.5) * 1.7)
    iso = check_calibration(y, kinked, QUICK)
    assert not iso.calibrated and iso.method == "isotonic regression"
    assert iso.ece_after < iso.ece / 3
    assert "not calibrated" in iso.sentence(3) and "isotonic regression" in iso.sentence(3)
    assert len(iso.resampled) == QUICK.calibration_maps

    # over-confident on the log-odds scale: Platt scaling's own shape, so it wins
    over = 1 / (1 + np.exp(-2.5 * z))
    platt = check_calibration(y, over, QUICK)
    assert platt.method == "Platt scaling" and platt.ece_after < platt.ece / 3
    assert platt.slope == pytest.approx(0.4, abs=0.05)  # undoes the 2.5 on the log-odds
    few = check_calibration(y[:500], kinked[:500], QUICK)  # under 1,000 rows: always Platt
    assert few.method == "Platt scaling"

    raw = check_calibration(y, 3 * z, QUICK)  # scores that are not probabilities
    assert not raw.calibrated and "not probabilities" in raw.sentence(None)
    assert 0 <= raw.apply(3 * z).min() and raw.apply(3 * z).max() <= 1
    # raw scores stay raw in every window, even one whose scores happen to lie in [0, 1]
    assert not raw.on_log_odds and raw.method == "Platt scaling"
    assert raw.apply(np.array([0.2]))[0] == pytest.approx(
        1 / (1 + np.exp(-(raw.slope * 0.2 + raw.intercept))))
    np.testing.assert_allclose(raw.apply_draws(np.array([0.2, 3.0]), 0, 3),
                               [m.apply(np.array([0.2, 3.0])) for m in raw.resampled[:3]])


def test_isotonic_map_runs_straight_between_the_middles_of_its_steps():
    """Centred isotonic regression: one knot per step of scikit-learn's staircase, at its
    rows' mean score, with its rate shrunk (positives + ½) / (rows + 1); straight lines
    between knots, flat beyond; never falling, never 0 or 1."""
    rng = np.random.default_rng(6)
    truth = rng.random(3000)
    y = (rng.random(3000) < truth).astype(float)
    s = np.where(truth < 0.5, truth * 0.3, 0.15 + (truth - 0.5) * 1.7)
    iso = _fit_map(y, s, True, Calibration(0, np.nan, np.nan, False))
    steps = pd.DataFrame({"fit": IsotonicRegression().fit_transform(s, y), "s": s, "y": y})
    by = steps.groupby("fit")
    np.testing.assert_allclose(iso.knots_x, by["s"].mean().to_numpy())
    kx, ky = np.array(iso.knots_x), np.array(iso.knots_y)
    assert np.all(np.diff(ky) >= 0) and 0 < ky[0] and ky[-1] < 1
    middle = (kx[3] + kx[4]) / 2  # halfway between two knots: halfway between their rates
    assert iso.apply(np.array([middle]))[0] == pytest.approx((ky[3] + ky[4]) / 2)
    assert list(iso.apply(np.array([-1.0, 2.0]))) == [ky[0], ky[-1]]
    assert len(np.unique(iso.apply(s))) > 10 * len(kx)  # not a staircase
    # 0 of 40, then 1 of 200, then 100 of 100: the shrunk rates 0.5/41 and 1.5/201 would fall,
    # so the first two steps are pooled (weights 41 and 201): 2/242
    y = np.r_[np.zeros(40), 1.0, np.zeros(199), np.ones(100)]
    got = _fit_map(y, np.arange(340.0), True, Calibration(0, np.nan, np.nan, False))
    assert got.knots_x == pytest.approx((19.5, 139.5, 289.5))
    assert got.knots_y == pytest.approx((2 / 242, 2 / 242, 100.5 / 101))


@pytest.fixture(scope="module")
def churn():
    src = open_source(str(SAMPLE_REGISTRY))
    model = src.get_model("customer-churn")
    ref = src.evaluation("customer-churn", 3).frame
    prod = src.monitoring("customer-churn").frame
    return model, ref, prod, estimate_performance(model, ref, prod, 3)


def test_the_samples_unlabelled_november_has_an_estimate(churn):
    model, ref, prod, est = churn
    assert est.available and list(est.windows.columns) == ESTIMATE_COLUMNS
    nov = est.unlabelled()
    assert list(nov["label"]) == ["Nov 2026"] and nov["note"].iloc[0] == ""
    row = nov.iloc[0]
    for k in ("roc_auc", "precision", "recall", "money"):
        assert row[f"{k}_low"] < row[k] < row[f"{k}_high"]
    # the windows are the monitoring page's
    report = monitoring_report(model, ref, prod, 3, "roc_auc", intervals=False)
    assert list(est.windows["label"]) == list(report.performance["label"])
    assert list(est.windows["rows"]) == list(report.performance["rows"])
    # the threshold is the business optimum on the evaluation rows
    assert est.threshold == pytest.approx(value_curve(
        ref["y_true"].astype(int).to_numpy(), ref["y_score"].to_numpy(), model.business,
        n_boot=2).best_threshold)


def test_concept_shift_is_invisible_to_the_estimate(churn):
    """The sample's competitor poaches southern customers for reasons the inputs do not show
    (concept shift): the measured ROC AUC of Sep and Oct 2026 falls below the estimate's
    interval, which only follows the scores. Before the launch, the estimate covers it."""
    model, ref, prod, est = churn
    report = monitoring_report(model, ref, prod, 3, "roc_auc", intervals=False)
    both = est.windows.merge(report.performance[["label", "value"]], on="label")
    drift = both.loc[both["label"].isin(["Sep 2026", "Oct 2026"])]
    assert (drift["value"] < drift["roc_auc_low"]).all()
    before = both.loc[both["label"].str.endswith("2025") | both["label"].isin(
        ["Feb 2026", "Mar 2026", "Apr 2026", "May 2026", "Jun 2026", "Jul 2026", "Aug 2026"])]
    covered = (before["roc_auc_low"] <= before["value"]) & (before["value"] <= before[
        "roc_auc_high"])
    assert covered.mean() >= 0.75


def test_no_estimate_says_why():
    src = open_source(str(SAMPLE_REGISTRY))
    model = src.get_model("customer-churn")
    prod = src.monitoring("customer-churn").frame
    ref = src.evaluation("customer-churn", 3).frame
    est = estimate_performance(model, ref.iloc[:50], prod, 3)
    assert not est.available and "at least 200 labelled evaluation rows" in est.unavailable
    reg = Model(name="r", task="regression")
    assert "yes/no models only" in estimate_performance(reg, ref, prod, 3).unavailable
    few = prod.loc[prod["y_true"].isna()].iloc[:12]
    thin = estimate_performance(model, ref, few, 3)
    assert thin.windows["note"].iloc[0] == "12 rows: too few rows to judge"
    assert np.isnan(thin.windows["roc_auc"].iloc[0])
    assert estimate_performance(model, ref, prod, 2).unavailable == "No production rows."


# ------------------------------------------------------------------ figure, page, report
def test_performance_figure_draws_the_estimate_as_an_estimate(churn):
    from components.monitoring_figures import performance_over_time
    model, ref, prod, est = churn
    report = monitoring_report(model, ref, prod, 3, "roc_auc", intervals=False)
    fig = performance_over_time(report.performance, "ROC AUC", report.reference,
                                window_kind="month", estimate=est.series("roc_auc"))
    assert fig.data[0].name == "ROC AUC" and "Nov 2026" not in list(fig.data[0].x)
    band = next(t for t in fig.data if t.name == "estimate's 95% interval")
    line = next(t for t in fig.data if t.name == "ROC AUC estimated from scores")
    assert line.line.dash == "dot" and band.fill == "toself"
    assert line.showlegend is not False and band.legendgroup == line.legendgroup
    assert list(line.x) == list(est.windows["label"]) and line.x[-1] == "Nov 2026"
    np.testing.assert_allclose(np.asarray(line.y, float), est.windows["roc_auc"].to_numpy(float))
    n = len(est.windows)
    np.testing.assert_allclose(np.asarray(band.y, float)[:n], est.windows["roc_auc_high"])
    np.testing.assert_allclose(np.asarray(band.y, float)[n:],
                               est.windows["roc_auc_low"].to_numpy(float)[::-1])
    # measured and estimated side by side where the labels are in
    assert fig.layout.yaxis.title.text == "ROC AUC"
    without = performance_over_time(report.performance, "ROC AUC", report.reference)
    assert not any("estimate" in (t.name or "") for t in without.data)


@pytest.fixture(scope="module")
def page():
    import dash

    from app import Settings, create_app
    app = create_app(Settings(registry=str(SAMPLE_REGISTRY)))
    fn = dash.page_registry["pages.monitoring"]["layout"]

    def render(**query):
        """The page as the browser ends up showing it (the whole body)."""
        from conftest import monitoring_page
        with app.server.test_request_context("/"):
            return monitoring_page(fn, **query)[1]
    return render


def test_monitoring_page_shows_the_estimate_for_the_unlabelled_month(page, churn):
    est = churn[3]
    text = page(name="customer-churn")
    nov = est.unlabelled().iloc[0]
    assert (f"Estimated from the scores alone for Nov 2026 (no labels yet, {nov['rows']:,} "
            f"rows): ROC AUC {nov['roc_auc']:.3f} (95% interval {nov['roc_auc_low']:.3f} to "
            f"{nov['roc_auc_high']:.3f})") in text
    assert "No labels yet for Nov 2026: performance there is estimated" in text
    assert "are calibrated on its 5,000 evaluation rows" in text
    assert "In Sep 2026 and Oct 2026 the measured ROC AUC fell outside" in text
    assert "estimate-table" in text and "concept shift" in text
    assert f"at the threshold {est.threshold:.2f}" in text
    assert "at the threshold 0.30 (the chosen threshold)" in page(name="customer-churn",
                                                                   threshold="0.3")
    odd = page(name="customer-churn", threshold="abc")
    assert "is not a threshold between 0 and 1" in odd and "at the threshold 0.50" in odd
    # other tasks: no estimate, the monitoring page as before
    assert "Estimated from the scores" not in page(name="diabetes-progression")


def test_model_report_says_the_pages_sentence_and_draws_the_estimate(churn):
    from analysis.estimate_sentences import estimate_headline
    from registry.cached import CachedSource
    from reports.model_report import _monitoring_sections  # the model report's monitoring part
    deck = CachedSource(open_source(str(SAMPLE_REGISTRY)))
    sections = _monitoring_sections(deck, churn[0], 3)
    section = next(s for s in sections if s.key == "performance-over-time")
    assert estimate_headline(churn[3]) in section.numbers
    assert any(t.name == "ROC AUC estimated from scores" for t in section.figure.data)
    assert "estimated from the model's scores alone" in section.caption


def test_evaluation_rows_that_cannot_calibrate_are_said_not_a_crash(churn):
    model, ref, prod, _ = churn
    one_outcome = ref.loc[ref["y_true"].astype(int) == 0]
    assert "one outcome only" in estimate_performance(model, one_outcome, prod, 3).unavailable
    gaps = ref.copy()
    gaps.loc[gaps.index[:100], "y_score"] = np.nan  # scores missing on some rows: left out
    est = estimate_performance(model, gaps, prod, 3)
    assert est.available and est.calibration.rows == len(ref) - 100
    no_scores = prod.drop(columns=["y_score"])
    assert "needs the model's scores" in estimate_performance(model, ref, no_scores,
                                                              3).unavailable


def test_a_large_calibration_check_works_on_a_bounded_random_sample():
    """Above ``max_rows`` labelled rows the check (whose chance reference draws
    ``calibration_draws`` × rows labels) works on a seeded random sample of them, says so,
    and is the check of that sample."""
    from dataclasses import replace as dc_replace

    from analysis.calibration import CalibrationSettings, check_calibration
    rng = np.random.default_rng(1)
    s = rng.random(3_000)
    y = (rng.random(3_000) < s ** 2).astype(float)  # not calibrated: recalibrated
    settings = CalibrationSettings(max_rows=1_000, calibration_maps=5)
    got = check_calibration(y, s, settings)
    keep = np.sort(np.random.default_rng(settings.seed).choice(3_000, 1_000, replace=False))
    want = check_calibration(y[keep], s[keep], settings)
    assert (got.rows, got.checked_on) == (3_000, 1_000) and not got.calibrated
    assert dc_replace(got, rows=want.rows, checked_on=0, resampled=()) == \
        dc_replace(want, resampled=())
    assert len(got.resampled) == len(want.resampled) > 0
    assert "3,000 evaluation rows (checked on a random 1,000 of them)" in got.sentence(2)
    small = check_calibration(y[:500], s[:500], settings)
    assert small.rows == 500 and small.checked_on == 0
