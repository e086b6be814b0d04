"""Models of several classes: one-vs-rest ROC, confidence calibration and the most-confused
pairs — numbers against scikit-learn / numpy on the same rows, the figures on what they plot,
and the model page and its report saying the same sentences."""
from __future__ import annotations

import dash
import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from analysis.curves import CALIBRATION_BINS, MAX_CURVE_POINTS
from analysis.evaluation import evaluate
from analysis.language import (
    confidence_sentence, confused_pair_sentence, no_curve_sentence, one_vs_rest_sentence,
)
from analysis.multiclass import (
    ConfusedPair, confidence_calibration, most_confused, multiclass_details, one_vs_rest_curves,
)
from app import Settings, create_app
from components import evaluation_figures as ef
from components.theme import PALETTE
from registry import SAMPLE_REGISTRY, open_source
from registry.cached import CachedSource
from registry.model import Model
from reports.model_report import model_report


@pytest.fixture(scope="module")
def src():
    return open_source(str(SAMPLE_REGISTRY))


def _proba(frame):
    cols = [c for c in frame.columns if c.startswith("proba.")]
    p = frame[cols].to_numpy(float)
    return p / p.sum(axis=1, keepdims=True), [c[len("proba."):] for c in cols]


def _synthetic(n=3000, seed=1):
    """Text labels, probabilities that do not add up to 1, a class column no row has, and
    enough rows for the curves to be thinned."""
    rng = np.random.default_rng(seed)
    classes = ["cat", "dog", "fox", "owl"]
    y = rng.choice(classes[:3], n, p=[0.5, 0.3, 0.2])
    raw = rng.gamma(1.0, 1.0, (n, 4))
    raw[np.arange(n), [classes.index(v) for v in y]] += rng.gamma(2.0, 1.0, n)
    raw *= rng.uniform(0.5, 3.0, (n, 1))  # rows do not sum to 1
    frame = pd.DataFrame({"y_true": y, **{f"proba.{c}": raw[:, i] for i, c in
                                          enumerate(classes)}})
    return frame


# ------------------------------------------------------------------ numbers
@pytest.mark.parametrize("version", [1, 2, 3])
def test_one_vs_rest_roc_equals_sklearn_on_the_digits(src, version):
    frame = src.evaluation("digits", version).frame
    m = multiclass_details(frame)
    p, classes = _proba(frame)
    y = frame["y_true"].astype(str).to_numpy()
    assert [c.label for c in m.roc] == [str(i) for i in range(10)] and m.roc_missing == ()
    for c in m.roc:
        j = classes.index(c.label)
        truth = (y == c.label).astype(int)
        assert c.roc.area == pytest.approx(skm.roc_auc_score(truth, p[:, j]), abs=1e-12)
        fpr, tpr, thr = skm.roc_curve(truth, p[:, j])
        assert c.roc.points_full == len(fpr) <= MAX_CURVE_POINTS
        np.testing.assert_allclose(c.roc.x, fpr, atol=1e-12)
        np.testing.assert_allclose(c.roc.y, tpr, atol=1e-12)
        np.testing.assert_array_equal(c.roc.thresholds[1:], thr[1:])
        assert (c.positives, c.negatives) == (truth.sum(), len(truth) - truth.sum())


def test_one_vs_rest_roc_equals_sklearn_on_text_labels_and_unnormalised_rows():
    frame = _synthetic()
    m = multiclass_details(frame)
    p, classes = _proba(frame)
    y = frame["y_true"].to_numpy()
    assert [c.label for c in m.roc] == ["cat", "dog", "fox"]
    assert m.roc_missing == (("owl", "no evaluation row is truly owl"),)
    for c in m.roc:
        truth = (y == c.label).astype(int)
        j = classes.index(c.label)
        assert c.roc.area == pytest.approx(skm.roc_auc_score(truth, p[:, j]), abs=1e-12)
        fpr, tpr, thr = skm.roc_curve(truth, p[:, j])
        assert c.roc.points_full == len(fpr) > MAX_CURVE_POINTS
        assert len(c.roc.x) <= MAX_CURVE_POINTS
        # every point drawn is a point of scikit-learn's curve, with its threshold
        idx = np.searchsorted(-thr[1:], -c.roc.thresholds[1:]) + 1
        np.testing.assert_allclose(fpr[idx], c.roc.x[1:], atol=1e-12)
        np.testing.assert_allclose(tpr[idx], c.roc.y[1:], atol=1e-12)
    # one class only: no curve, and the reason
    curves, missing = one_vs_rest_curves(np.array(["a", "a"]), np.array([[.9, .1], [.8, .2]]),
                                         ["a", "b"])
    assert curves == () and missing == (("a", "every evaluation row is truly a"),
                                        ("b", "no evaluation row is truly b"))
    assert no_curve_sentence("b", missing[1][1]) == \
        "Class b has no curve: no evaluation row is truly b."


@pytest.mark.parametrize("case", ["digits", "synthetic"])
def test_confidence_calibration_equals_numpy(src, case):
    frame = src.evaluation("digits", 1).frame if case == "digits" else _synthetic()
    c = multiclass_details(frame).confidence
    p, classes = _proba(frame)
    y = frame["y_true"].astype(str).to_numpy()
    top = p.max(axis=1)
    correct = np.asarray(classes)[p.argmax(axis=1)] == y
    assert c.rows == len(frame)
    assert c.mean_confidence == pytest.approx(top.mean(), abs=1e-12)
    assert c.share_correct == pytest.approx(correct.mean(), abs=1e-12)
    edges = np.linspace(0, 1, CALIBRATION_BINS + 1)
    expected = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (top <= hi) & ((top > lo) if lo > 0 else (top >= lo))
        if inside.any():
            expected.append((lo, hi, top[inside].mean(), correct[inside].mean(),
                             int(inside.sum())))
    t = c.table
    assert len(t) == len(expected) and t["rows"].sum() == len(frame)
    np.testing.assert_allclose(t[["bin_left", "bin_right", "mean_confidence", "share_correct",
                                  "rows"]].to_numpy(float), np.array(expected), atol=1e-12)
    empty = confidence_calibration(np.array([]), np.zeros((0, 2)), ["a", "b"])
    assert empty.rows == 0 and empty.table.empty


def test_most_confused_pairs_equal_the_confusion_matrix(src):
    frame = src.evaluation("digits", 1).frame
    m = multiclass_details(frame)
    yt, yp = frame["y_true"].astype(str), frame["y_pred"].astype(str)
    labels = [str(i) for i in range(10)]
    cm = skm.confusion_matrix(yt, yp, labels=labels)
    off = sorted(((int(cm[i, j]), cm[i, j] / cm[i].sum(), labels[i], labels[j])
                  for i in range(10) for j in range(10) if i != j and cm[i, j]),
                 key=lambda r: (-r[0], -r[1]))
    assert len(m.confused) == min(5, len(off)) > 0
    for pair, (count, share, actual, predicted) in zip(m.confused, off):
        assert (pair.count, pair.actual, pair.predicted) == (count, actual, predicted)
        assert pair.of == int((yt == actual).sum()) and pair.share == pytest.approx(share)
    assert most_confused(np.eye(3, dtype=int) * 5, ["a", "b", "c"]) == ()


def test_confusion_sentences():
    model = Model("m", "multiclass")
    assert confused_pair_sentence(ConfusedPair("7", "9", 12, 180), model) == \
        "7 is taken for 9 in 12 of 180 cases that really are 7 (6.7%)."
    digit = Model("m", "multiclass", entity="digit")
    assert confused_pair_sentence(ConfusedPair("1", "7", 1, 1), digit) == \
        "1 is taken for 7 in 1 of 1 digit that really is 1 (100.0%)."
    details = multiclass_details(_synthetic())
    text = one_vs_rest_sentence(details.roc)
    worst = min(details.roc, key=lambda c: c.roc.area)
    assert f"(class {worst.label}, the hardest to tell apart)" in text
    assert f"from {worst.roc.area:.3f}" in text
    conf = details.confidence
    sentence = confidence_sentence(conf, model)
    assert f"{conf.mean_confidence:.1%}" in sentence and f"{conf.share_correct:.1%}" in sentence
    assert f"({conf.rows:,} cases)" in sentence


# ------------------------------------------------------------------ figures
def test_one_vs_rest_figure_plots_every_class(src):
    m = multiclass_details(src.evaluation("digits", 2).frame)
    fig = ef.one_vs_rest_roc_figure(m.roc, "digits")
    assert fig.layout.title.text == "One class against the rest: ROC curve of each class"
    assert fig.layout.xaxis.title.text.startswith("False alarm rate (%")
    assert fig.layout.yaxis.title.text.startswith("Found (%")
    assert fig.layout.xaxis.tickformat == ".0%"
    curves = fig.data[1:]
    assert [t.name for t in curves] == [f"class {c.label} (AUC {c.roc.area:.3f})" for c in m.roc]
    for t, c in zip(curves, m.roc):
        np.testing.assert_array_equal(t.x, c.roc.x)
        np.testing.assert_array_equal(t.y, c.roc.y)
        assert f"of the {c.positives:,} digits of this class" in t.hovertemplate
    styles = [(t.line.color, t.line.dash) for t in curves]
    assert len(set(styles)) == len(styles) == 10  # every class tellable apart
    assert {colour for colour, _ in styles} <= set(PALETTE)


def test_confidence_figure_plots_the_bins_with_their_counts(src):
    c = multiclass_details(src.evaluation("digits", 2).frame).confidence
    fig = ef.confidence_figure([("v2", c)])
    assert fig.layout.title.text == "Confidence: is the model right as often as it is sure?"
    assert fig.layout.xaxis.title.text == "Probability of the top class (%, mean per group)"
    assert fig.layout.yaxis.title.text == "Top class right (% of rows)"
    diagonal, points = fig.data
    assert list(diagonal.x) == [0, 1] and points.name == "v2"
    np.testing.assert_allclose(points.x, c.table["mean_confidence"])
    np.testing.assert_allclose(points.y, c.table["share_correct"])
    assert [int(x.replace(",", "")) for x in points.text] == c.table["rows"].tolist()
    assert points.line.color == PALETTE[0]


# ------------------------------------------------------------------ the page and its report
@pytest.fixture(scope="module")
def app():
    return create_app(Settings(registry=str(SAMPLE_REGISTRY)))


def _find(component, cid):
    if isinstance(component, (list, tuple)):
        for c in component:
            found = _find(c, cid)
            if found is not None:
                return found
        return None
    if not hasattr(component, "to_plotly_json"):
        return None
    if getattr(component, "id", None) == cid:
        return component
    return _find(getattr(component, "children", None), cid)


def _text(component) -> list[str]:
    if isinstance(component, str):
        return [component]
    if isinstance(component, (list, tuple)):
        return [t for c in component for t in _text(c)]
    if hasattr(component, "to_plotly_json"):
        return _text(getattr(component, "children", None))
    return []


def test_digits_page_and_report_show_the_new_charts_and_say_the_same(app, src):
    deck = CachedSource(open_source(str(SAMPLE_REGISTRY)))
    model = src.get_model("digits")
    m = evaluate(model, 2, src.evaluation("digits", 2).frame).multiclass
    layout = dash.page_registry["pages.model"]["layout"]
    with app.server.test_request_context():
        page = layout(name="digits")
    roc = _find(page, "class-roc")
    conf = _find(page, "confidence")
    assert len(roc.figure.data) == 11 and len(conf.figure.data) == 2
    pairs = [confused_pair_sentence(p, model) for p in m.confused]
    assert _text(_find(page, "confused-pairs")) == pairs
    assert _text(_find(page, "confidence-sentence")) == [confidence_sentence(m.confidence,
                                                                             model)]
    assert one_vs_rest_sentence(m.roc) in _text(page)

    report = model_report(deck, "digits")
    by_key = {s.key: s for s in report.sections}
    assert {"confusion-matrix", "per-class", "class-roc", "confidence"} <= set(by_key)
    assert by_key["class-roc"].takeaway == one_vs_rest_sentence(m.roc)
    assert by_key["confidence"].takeaway == confidence_sentence(m.confidence, model)
    assert by_key["class-roc"].caption == ef.CLASS_ROC_CAPTION
    assert by_key["confidence"].caption == ef.CONFIDENCE_CAPTION
    assert set(pairs) <= set(by_key["confusion-matrix"].numbers)
    assert [t.name for t in by_key["class-roc"].figure.data] == \
        [t.name for t in roc.figure.data]
