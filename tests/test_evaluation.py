"""Evaluation analysis, its figures and the model/compare pages' logic.

Every number is checked against scikit-learn computed directly on the same rows; figures are
checked on the data they plot, their titles and axis labels.
"""
from __future__ import annotations

import json

import dash
import numpy as np
import pandas as pd
import plotly.io as pio
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from analysis.compare import compare, default_pair
from analysis.curves import MAX_CURVE_POINTS, binary_curves, downsample_curve
from analysis.evaluation import (
    at_threshold, binned_scatter, evaluate, parse_threshold, regression_diagnostics,
    segment_metrics,
)
from analysis.language import threshold_sentence
from analysis.multiclass import multiclass_details
from analysis.uncertainty import BootstrapSettings
from analysis.versions import metric_across_versions

QUICK = BootstrapSettings(n_boot=200)
from app import Settings, create_app
from components import evaluation_figures as ef
from registry import SAMPLE_REGISTRY, open_source
from registry.cached import CachedSource

from test_uncertainty import _sklearn  # noqa: E402 (tests/ is on sys.path)


@pytest.fixture(scope="module")
def src():
    return open_source(str(SAMPLE_REGISTRY))


def _binary(src, name="customer-churn", version=3):
    frame = src.evaluation(name, version).frame
    model = src.get_model(name)
    y = (frame["y_true"].astype(str) == model.positive_label).to_numpy(int)
    return model, frame, y, frame["y_score"].to_numpy(float)


# ------------------------------------------------------------------ numbers = scikit-learn
@pytest.mark.parametrize("name", ["customer-churn", "breast-cancer", "digits",
                                  "diabetes-progression"])
def test_every_card_number_equals_sklearn(src, name):
    model = src.get_model(name)
    for v in src.list_versions(name).items:
        frame = src.evaluation(name, v.version).frame
        ev = evaluate(model, v.version, frame)
        expected = _sklearn(model, frame, 0.5)
        assert set(ev.metrics) == set(expected)
        for k, value in expected.items():
            assert ev.metrics[k].value == pytest.approx(value, abs=1e-9), (name, v.version, k)


@pytest.mark.parametrize("t", [0.05, 0.2, 0.35, 0.5, 0.77, 0.99])
def test_threshold_numbers_equal_sklearn(src, t):
    _, _, y, s = _binary(src)
    r = at_threshold(y, s, t)
    pred = (s >= t).astype(int)
    assert r.matrix.tolist() == skm.confusion_matrix(y, pred, labels=[0, 1]).tolist()
    for k, fn in (("accuracy", skm.accuracy_score), ("precision", skm.precision_score),
                  ("recall", skm.recall_score), ("f1", skm.f1_score)):
        kw = {} if k == "accuracy" else {"zero_division": 0}
        assert r.metrics[k].value == pytest.approx(fn(y, pred, **kw), abs=1e-9)
        assert r.metrics[k].low <= r.metrics[k].value <= r.metrics[k].high


def test_curves_report_sklearn_areas_and_plot_true_points(src):
    _, _, y, s = _binary(src)
    c = binary_curves(y, s)
    assert c.roc.area == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert c.pr.area == pytest.approx(skm.average_precision_score(y, s), abs=1e-12)
    fpr, tpr, thr = skm.roc_curve(y, s)
    full = dict(zip(thr, zip(fpr, tpr)))
    for x, yy, t in zip(c.roc.x, c.roc.y, c.roc.thresholds):  # every drawn point is real
        assert full[t] == (x, yy)
    assert (c.roc.x[0], c.roc.y[0], c.roc.x[-1], c.roc.y[-1]) == (0, 0, 1, 1)
    pos, neg = y.sum(), len(y) - y.sum()
    for x, yy, t in zip(c.gain.x, c.gain.y, c.gain.thresholds):  # gain: the same points
        assert yy == full[t][1]
        assert x == pytest.approx((full[t][1] * pos + full[t][0] * neg) / len(y), abs=1e-12)
    assert c.gain.x[-1] == pytest.approx(1) and c.gain.y[-1] == 1
    observed, predicted = calibration_curve(y, s, n_bins=10)
    np.testing.assert_allclose(c.calibration["observed_rate"], observed, atol=1e-12)
    np.testing.assert_allclose(c.calibration["mean_predicted"], predicted, atol=1e-12)
    assert c.calibration["rows"].sum() == len(y)
    assert c.scores["positives"].sum() == y.sum() and c.scores["negatives"].sum() == len(y) - y.sum()


def test_downsampling_keeps_the_ends_and_bounds_the_points():
    x = np.linspace(0, 1, 100_000) ** 3
    idx = downsample_curve(x, np.sqrt(x), 300)
    assert len(idx) <= 300 and idx[0] == 0 and idx[-1] == 99_999
    assert np.all(np.diff(idx) > 0)
    assert downsample_curve(x[:10], x[:10]).tolist() == list(range(10))


def test_figures_stay_small_at_many_rows():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300_000)
    s = 1 / (1 + np.exp(-(y * 1.5 + rng.normal(0, 1, len(y)))))
    c = binary_curves(y, s)
    assert c.roc.points_full > 10 * MAX_CURVE_POINTS
    for fig in (ef.roc_figure([("v1", c.roc)]), ef.pr_figure([("v1", c.pr)]),
                ef.gain_figure([("v1", c.gain)]), ef.score_distribution_figure(c.scores, .5)):
        assert len(pio.to_json(fig)) < 250_000
    b = binned_scatter(rng.normal(size=300_000), rng.normal(size=300_000))
    assert b.kind == "bins" and b.counts.sum() == 300_000
    assert len(pio.to_json(ef.predicted_vs_actual_figure(b))) < 250_000


def test_multiclass_details_equal_sklearn(src):
    frame = src.evaluation("digits", 2).frame
    m = multiclass_details(frame)
    yt, yp = frame["y_true"].astype(str), frame["y_pred"].astype(str)
    assert list(m.labels) == [str(i) for i in range(10)]
    assert m.confusion.tolist() == skm.confusion_matrix(yt, yp, labels=list(m.labels)).tolist()
    p, r, _, s = skm.precision_recall_fscore_support(yt, yp, labels=list(m.labels),
                                                     zero_division=0)
    np.testing.assert_allclose(m.per_class["precision"], p, atol=1e-12)
    np.testing.assert_allclose(m.per_class["recall"], r, atol=1e-12)
    assert m.per_class["support"].tolist() == s.tolist()


def test_regression_diagnostics(src):
    frame = src.evaluation("diabetes-progression", 2).frame
    y, pred = frame["y_true"].to_numpy(float), frame["y_pred"].to_numpy(float)
    r = regression_diagnostics(y, pred)
    assert r.actual_vs_predicted.kind == "points"
    np.testing.assert_array_equal(r.actual_vs_predicted.y, y)
    np.testing.assert_allclose(r.residuals.y, y - pred)
    assert r.errors["rows"].sum() == len(y)


def test_segments_equal_sklearn_per_group_and_flag_the_weakest(src):
    model, frame, y, s = _binary(src, version=4)
    seg = segment_metrics(model, frame)
    for row in seg.itertuples():
        mask = (frame[f"segment.{row.segment}"].astype(str) == row.value).to_numpy()
        assert row.rows == mask.sum()
        assert row.estimate == pytest.approx(skm.roc_auc_score(y[mask], s[mask]), abs=1e-9)
        assert row.low <= row.estimate <= row.high
    for name, part in seg.groupby("segment"):
        assert part["weakest"].sum() == 1
        assert part.loc[part["weakest"], "estimate"].iloc[0] == part["estimate"].min()


def test_metric_across_versions_equals_sklearn(src):
    trend = metric_across_versions(CachedSource(src), "customer-churn")
    assert trend["version"].tolist() == [1, 2, 3, 4]
    for r in trend.itertuples():
        _, _, y, s = _binary(src, version=r.version)
        assert r.value == pytest.approx(skm.roc_auc_score(y, s), abs=1e-9)
        assert r.low < r.value < r.high


# ------------------------------------------------------------------ words
def test_threshold_sentence(src):
    churn = src.get_model("customer-churn")
    assert threshold_sentence(churn, 820, 180, 140) == (
        "Of 1,000 customers flagged, 820 really cancel within the next 90 days; 140 customers "
        "who cancel within the next 90 days are missed.")
    cancer = src.get_model("breast-cancer")
    assert threshold_sentence(cancer, 5, 0, 1) == (
        "Of 5 patients flagged, 5 really are positive; 1 positive patient is missed.")


def test_parse_threshold():
    assert parse_threshold(None) == (0.5, "")
    assert parse_threshold("0.354") == (0.35, "")
    t, msg = parse_threshold("abc")
    assert t == 0.5 and "'abc' is not a threshold" in msg
    assert parse_threshold("7")[1] and parse_threshold("nan")[1]


# ------------------------------------------------------------------ comparison
def test_default_pair_and_verdicts(src):
    assert default_pair(src.list_versions("customer-churn").items) == (3, 4)
    model, fa, _, _ = _binary(src, version=3)
    fb = src.evaluation("customer-churn", 4).frame
    comp = compare(model, 3, fa, 4, fb, settings=QUICK)
    assert comp.verdict.startswith("Version 4 ranks customers who cancel within the next 90 "
                                   "days above the others more reliably than version 3: ROC AUC")
    rec = comp.differences["recall"]
    assert f"recall {rec.delta * 100:+.1f} points (95% CI {rec.low * 100:+.1f} to " \
           f"{rec.high * 100:+.1f})" in comp.verdict
    t = comp.table()
    assert t.loc[t["metric"] == "roc_auc", "better"].iloc[0] is True
    same = compare(model, 3, fa, 3, fa.copy(), settings=QUICK)
    assert same.verdict.startswith("No significant difference between version 3 and version 3")
    broken = compare(model, 3, fa, 4, fb.iloc[:100])
    assert broken.problem and "not evaluated on the same rows" in broken.verdict
    assert broken.differences == {}


def test_compare_segment_deltas_are_paired_sklearn_differences(src):
    model, fa, y, sa = _binary(src, version=3)
    fb = src.evaluation("customer-churn", 4).frame
    sb = fb["y_score"].to_numpy(float)
    comp = compare(model, 3, fa, 4, fb, settings=QUICK)
    row = comp.segments.iloc[0]
    mask = (fa[f"segment.{row['segment']}"].astype(str) == row["value"]).to_numpy()
    expected = skm.roc_auc_score(y[mask], sb[mask]) - skm.roc_auc_score(y[mask], sa[mask])
    assert row["delta"] == pytest.approx(expected, abs=1e-9)


# ------------------------------------------------------------------ figures
def test_figure_factories_plot_the_results(src):
    _, _, y, s = _binary(src)
    c = binary_curves(y, s)
    tr = at_threshold(y, s, 0.3)
    roc = ef.roc_figure([("v3", c.roc), ("v4", c.roc)], [("v3", tr)])
    assert [d.name for d in roc.data[1:3]] == [f"v3 (AUC {c.roc.area:.3f})"] * 1 + \
        [f"v4 (AUC {c.roc.area:.3f})"]
    np.testing.assert_array_equal(roc.data[1].x, c.roc.x)
    assert roc.data[3].y[0] == pytest.approx(tr.tp / (tr.tp + tr.fn))
    assert roc.layout.title.text.startswith("ROC curve")
    assert roc.layout.xaxis.title.text == "False alarm rate (% of negatives flagged)"
    assert "finds %{y:.1%} of the positives" in roc.data[1].hovertemplate
    cm = ef.confusion_matrix_figure(tr.matrix, ["negative", "positive"], "CM", "customers")
    assert np.asarray(cm.data[0].text).tolist() == tr.matrix.tolist()
    assert cm.layout.xaxis.title.text == "Predicted class"
    assert cm.layout.yaxis.title.text == "Actual class"
    sd = ef.score_distribution_figure(c.scores, 0.3)
    assert sum(sd.data[1].y) == y.sum()
    assert sd.layout.yaxis.title.text == "Rows (count)"
    assert any(sh.x0 == 0.3 for sh in sd.layout.shapes)


def test_segment_and_trend_figures(src):
    model, frame, _, _ = _binary(src, version=4)
    seg = segment_metrics(model, frame, settings=QUICK)
    fig = ef.segment_figure(seg, "ROC AUC")
    np.testing.assert_allclose(fig.data[0].x, seg["estimate"])
    weakest = seg.index[seg["weakest"]]
    assert all(fig.data[0].marker.color[i] == "#D55E00" for i in weakest)
    assert fig.layout.xaxis.title.text == "ROC AUC" and fig.layout.yaxis.title.text == "Segment"
    trend = metric_across_versions(CachedSource(src), "customer-churn")
    tf = ef.versions_trend_figure(trend, "ROC AUC")
    assert list(tf.data[0].x) == ["v1", "v2", "v3", "v4"]
    np.testing.assert_allclose(np.asarray(tf.data[0].error_y.array) + tf.data[0].y,
                               trend["high"])
    json.dumps(tf.to_plotly_json(), cls=__import__("plotly").utils.PlotlyJSONEncoder)


# ------------------------------------------------------------------ pages (logic, no browser)
@pytest.fixture(scope="module")
def app():
    return create_app(Settings(registry=str(SAMPLE_REGISTRY)))


def _ids(component) -> set:
    found = set()

    def walk(c):
        if isinstance(c, (list, tuple)):
            for x in c:
                walk(x)
            return
        if hasattr(c, "to_plotly_json"):
            cid = getattr(c, "id", None)
            if isinstance(cid, str):
                found.add(cid)
            walk(getattr(c, "children", None))
    walk(component)
    return found


@pytest.mark.parametrize("name,charts", [
    ("customer-churn", {"confusion-matrix", "roc-curve", "pr-curve", "calibration",
                        "gain-curve", "score-distribution", "segment-chart", "threshold"}),
    ("digits", {"confusion-matrix", "per-class", "class-roc", "confidence", "confused-pairs"}),
    ("diabetes-progression", {"predicted-vs-actual", "residuals", "error-distribution",
                              "segment-chart"}),
])
def test_model_page_shows_every_chart_of_the_task(app, name, charts):
    layout = dash.page_registry["pages.model"]["layout"]
    with app.server.test_request_context():
        ids = _ids(layout(name=name))
    assert charts | {"versions-table", "model-description", "model-status", "metric-cards",
                     "metric-by-version", "compare-link"} <= ids


def test_model_page_bad_values_get_messages(app):
    layout = dash.page_registry["pages.model"]["layout"]
    with app.server.test_request_context():
        assert "version-message" in _ids(layout(name="customer-churn", version="99"))
        ids = _ids(layout(name="customer-churn", threshold="abc", unknown="x"))
    assert {"threshold-message", "confusion-matrix"} <= ids


def test_threshold_callback_changes_the_matrix_and_sentence(app):
    import pages.model as page  # registered by create_app
    with app.server.test_request_context():
        fig1, _, s1 = page.threshold_outputs("customer-churn", 3, 0.5)
        fig2, cards, s2 = page.threshold_outputs("customer-churn", 3, 0.2)
    assert s1 != s2 and s2.startswith("Of ")
    assert np.asarray(fig1.data[0].text).sum() == np.asarray(fig2.data[0].text).sum() == 5000
    assert fig2.layout.title.text == "Confusion matrix at threshold 0.20"
    assert len(cards) == 4
    assert page.choose_version(4, {"model": "customer-churn", "version": 3}) == \
        "/models/customer-churn?version=4"


def test_compare_page_defaults_and_urls(app):
    import pages.compare as page
    layout = dash.page_registry["pages.compare"]["layout"]
    with app.server.test_request_context():
        ids = _ids(layout(model="customer-churn"))
        assert {"verdict", "compare-table", "compare-roc", "segment-deltas", "compare-a",
                "compare-b"} <= ids
        assert "verdict" in _ids(layout(model="customer-churn", a="3", b="77"))
        assert "compare-models" in _ids(layout())
        assert {"compare-confusion-a", "verdict"} <= _ids(layout(model="digits"))
    assert page.choose_versions(2, 4, {"model": "customer-churn", "threshold": 0.5}) == \
        "/compare?model=customer-churn&a=2&b=4"


@pytest.mark.parametrize("name", ["customer-churn", "digits", "diabetes-progression"])
def test_compute_metric_alone_equals_compute_metrics(src, name):
    from analysis.metrics import compute_metric, compute_metrics
    model = src.get_model(name)
    frame = src.evaluation(name, 1).frame
    for k, v in compute_metrics(model, frame, 0.3).items():
        assert compute_metric(model, frame, k, 0.3) == pytest.approx(v, abs=1e-12)


@pytest.mark.parametrize("n, decimals", [(50, 1), (5000, 2), (20000, 6)])
def test_one_sort_curves_equal_sklearn(n, decimals):
    from analysis.curves import roc_and_pr_curves
    rng = np.random.default_rng(n)
    y = rng.integers(0, 2, n)
    s = np.round(rng.random(n), decimals)  # ties at every scale
    fpr, tpr, thr, p, r, pthr = roc_and_pr_curves(y, s)
    sk_fpr, sk_tpr, sk_thr = skm.roc_curve(y, s)
    sk_p, sk_r, sk_pthr = skm.precision_recall_curve(y, s)
    for got, want in ((fpr, sk_fpr), (tpr, sk_tpr), (thr, sk_thr), (p, sk_p), (r, sk_r),
                      (pthr, sk_pthr)):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("seed", range(6))
def test_score_bins_of_counts_in_order_equal_numpy_on_the_rows(seed):
    """Counts in score order (an engine's) take a quicker path to the score histogram and
    the calibration bins: the same as numpy and scikit-learn on the rows, scores lying on a
    bin's edge included."""
    from analysis.curves import calibration_from_counts, histogram_from_counts, score_counts_of
    rng = np.random.default_rng(seed)
    s = np.round(rng.random(3_000), int(rng.choice([1, 2, 3])))  # many scores on the edges
    y = (rng.random(3_000) < s).astype(int)
    scores, pos, neg = score_counts_of(y, s)
    hist = histogram_from_counts(scores, pos, neg)
    edges = np.r_[hist["bin_left"], hist["bin_right"].iloc[-1]]
    np.testing.assert_array_equal(hist["positives"], np.histogram(s[y == 1], edges)[0])
    np.testing.assert_array_equal(hist["negatives"], np.histogram(s[y == 0], edges)[0])
    cal = calibration_from_counts(scores, pos, neg)
    observed, predicted = calibration_curve(y, s, n_bins=10)
    np.testing.assert_allclose(cal["observed_rate"], observed, atol=1e-12)
    np.testing.assert_allclose(cal["mean_predicted"], predicted, atol=1e-12)
    shuffled = rng.permutation(len(scores))  # out of order: numpy's own way, the same bins
    pd.testing.assert_frame_equal(histogram_from_counts(*(a[shuffled] for a in (
        scores, pos, neg))), hist)
    pd.testing.assert_frame_equal(calibration_from_counts(*(a[shuffled] for a in (
        scores, pos, neg))), cal, rtol=1e-12)
