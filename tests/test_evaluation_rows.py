"""A yes/no model whose evaluation tables an engine keeps (Parquet over
``MODELDECK_ENGINE_MIN_ROWS``): the model page's numbers come from the engine's summaries and
equal those computed on the same rows in memory; the page never reads the rows into pandas.
(The same contract on Spark: ``tests/test_engines.py``.)"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import evaluation_rows as er
from analysis.business import model_value_curve
from analysis.evaluation import threshold_result, version_evaluation
from analysis.portfolio import summarize
from analysis.versions import metric_across_versions, version_table
from registry import folder
from registry.cached import CachedSource
from registry.folder import FolderSource
from registry.model import BusinessSettings
from registry.writer import log_model, log_model_version, log_monitoring

ROWS = 6_000
B = BusinessSettings(positive_means="the customer leaves", value_true_positive=120,
                     cost_false_positive=15, cost_false_negative=40, volume_per_month=2_000)


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    root = tmp_path_factory.mktemp("engine-evaluation")
    rng = np.random.default_rng(5)
    log_model(root, "churn", "binary", positive_label="yes", business=B, entity="customer")
    truth = rng.random(ROWS) < 0.3
    region = rng.choice(["north", "south", "east"], ROWS).astype(object)
    region[:20] = "islands"  # too few rows to judge
    plan = rng.choice(["basic", "premium"], ROWS)
    for v in (1, 2):
        logit = -1 + (1 + 0.5 * v) * truth + rng.normal(0, 1, ROWS)
        log_model_version(root, "churn", y_true=np.where(truth, "yes", "no"),
                          y_score=np.round(1 / (1 + np.exp(-logit)), 3),
                          segments={"region": region, "plan": plan},
                          aliases=["champion"] if v == 1 else ["challenger"])
    return root


def decks(root, monkeypatch):
    """(a deck that reads the rows into memory, a deck whose engine keeps them and whose
    source fails if anything asks for the rows in memory)."""
    memory = CachedSource(FolderSource(root))
    monkeypatch.setattr(folder, "ENGINE_MIN_ROWS", 1_000)
    monkeypatch.setattr(er, "SAMPLE_ROWS", 2_000)

    class NoFrames(FolderSource):
        def evaluation(self, *a, **k):
            raise AssertionError("the evaluation rows were read into memory")

    return memory, CachedSource(NoFrames(root))


def within_width(got, want):
    """The engine's interval (bootstrap of its sample) is about as wide as the one on the
    rows, and holds its point."""
    assert got.low <= got.value <= got.high
    ratio = (got.high - got.low) / (want.high - want.low)
    assert 0.6 < ratio < 1.6, ratio


def test_every_number_of_the_model_page_equals_the_rows(registry, monkeypatch):
    # the in-memory side first, at the default limit (6,000 rows are read into pandas)
    memory = CachedSource(FolderSource(registry))
    want = {v: version_evaluation(memory, "churn", v) for v in (1, 2)}
    want_t = threshold_result(memory, "churn", 1, 0.3)
    want_trend = metric_across_versions(memory, "churn")
    want_table = version_table(memory, "churn")
    want_summary = summarize(memory, "churn")
    want_value = model_value_curve(memory, "churn", 1, B)
    _, engine = decks(registry, monkeypatch)
    assert er.evaluation_summary(engine, "churn", 1) is not None

    for v in (1, 2):
        got, w = version_evaluation(engine, "churn", v), want[v]
        assert got.rows == w.rows == ROWS
        assert set(got.metrics) == set(w.metrics)
        for k, ci in w.metrics.items():
            assert got.metrics[k].value == pytest.approx(ci.value, abs=1e-9), k
            within_width(got.metrics[k], ci)
        for part in ("roc", "pr", "gain"):
            a, b = getattr(got.binary, part), getattr(w.binary, part)
            np.testing.assert_allclose(a.x, b.x, atol=1e-12)
            np.testing.assert_allclose(a.y, b.y, atol=1e-12)
        pd.testing.assert_frame_equal(got.binary.calibration, w.binary.calibration,
                                      check_dtype=False, atol=1e-12)
        pd.testing.assert_frame_equal(got.binary.scores, w.binary.scores, check_dtype=False)
        g, s = got.segments, w.segments
        assert g[["segment", "value", "rows", "note", "weakest"]].equals(
            s[["segment", "value", "rows", "note", "weakest"]])
        np.testing.assert_allclose(g["estimate"], s["estimate"], atol=1e-9)
        assert "too few rows" in g.set_index("value").loc["islands", "note"]

    got_t = threshold_result(engine, "churn", 1, 0.3)
    assert (got_t.tp, got_t.fp, got_t.fn, got_t.tn) == (want_t.tp, want_t.fp, want_t.fn,
                                                        want_t.tn)
    assert got_t.metrics == want_t.metrics  # the same multinomial draw of the same counts

    trend = metric_across_versions(engine, "churn")
    np.testing.assert_allclose(trend["value"], want_trend["value"], atol=1e-9)
    assert list(trend["rows"]) == list(want_trend["rows"])
    table = version_table(engine, "churn")
    np.testing.assert_allclose(table["value"], want_table["value"], atol=1e-9)
    assert list(table["rows"]) == list(want_table["rows"])
    assert summarize(engine, "churn").value == pytest.approx(want_summary.value, abs=1e-9)

    value = model_value_curve(engine, "churn", 1, B)
    for k in ("value", "low", "high", "tp", "fp", "fn", "tn"):
        np.testing.assert_allclose(getattr(value, k), getattr(want_value, k), atol=1e-9)


def test_the_model_page_draws_without_reading_the_rows(registry, monkeypatch):
    import dash

    from app import Settings, create_app
    monkeypatch.setattr(folder, "ENGINE_MIN_ROWS", 1_000)

    def no_frames(self, *a, **k):
        raise AssertionError("the evaluation rows were read into memory")

    monkeypatch.setattr(FolderSource, "evaluation", no_frames)
    app = create_app(Settings(registry=str(registry)))
    layout = dash.page_registry["pages.model"]["layout"]
    import pages.model as model_page
    from werkzeug.exceptions import BadRequest
    with app.server.test_request_context():
        page = str(layout(name="churn"))
        # everything but the segments at once; they follow from a callback
        assert "How good is version 1?" in page and "What is it worth?" in page
        assert "could not be read" not in page and "AssertionError" not in page
        assert "Working out each segment's ROC AUC on all 6,000 rows" in page
        assert "segments-ref" in page and "islands" not in page
        # the charts under the threshold's section too, at the page's threshold
        assert "charts-ref" in page and "confusion-matrix" in page and "roc-curve" not in page
        charts = str(model_page.fill_charts({"model": "churn", "version": 1,
                                             "threshold": 0.5}))
        for key in model_page.SCORE_CHARTS:
            assert f"'{key}'" in charts or f'"{key}"' in charts, key
        for bad in ({"model": "churn", "version": 1, "threshold": 2},
                    {"model": "churn", "version": 1, "threshold": "0.5"},
                    {"model": "churn", "version": "1"}, ["churn"]):
            with pytest.raises(BadRequest):
                model_page.fill_charts(bad)
        gone = str(model_page.fill_charts({"model": "gone", "version": 1, "threshold": 0.5}))
        assert "no longer in the registry" in gone
        segments = str(model_page.fill_segments({"model": "churn", "version": 1}))
        assert "Where is it weaker?" in segments and "islands" in segments
        assert "too few rows to judge" in segments
        with pytest.raises(BadRequest):
            model_page.fill_segments({"model": "churn", "version": "1; drop"})
        # the numbers across versions (health, headline, versions table, trend) follow
        # from a callback too: the first screen waits for the shown version's summary only
        assert "across-ref" in page and "Working out every version's numbers" in page
        assert "versions-table" not in page and "Health: " not in page
        status, health, across = model_page.fill_across({"model": "churn"})
        assert "Health: " in str(health) and "headline" in str(health)
        assert "versions-table" in str(across) and "v2" in str(across)
        assert "model-status" in str(status) and "Checking" not in str(status)
        with pytest.raises(BadRequest):
            model_page.fill_across({"model": ["churn"]})
        gone = model_page.fill_across({"model": "no-such-model"})
        assert "no longer in the registry" in str(gone[1])
        # once worked out, the page shows the whole at once
        again = str(layout(name="churn"))
        assert "segments-ref" not in again and "islands" in again
        assert "charts-ref" not in again and "roc-curve" in again
        assert "across-ref" not in again and "versions-table" in again and "Health: " in again
        # the comparison page too, from the engine's summaries and paired sample
        compare = str(dash.page_registry["pages.compare"]["layout"](model="churn"))
        assert 'id="verdict"' in compare or "'verdict'" in compare
        assert "could not be read" not in compare and "AssertionError" not in compare
        assert "Both versions on the same 6,000 evaluation rows" in compare
        # its segments follow from a callback, then the page shows the whole at once
        import pages.compare as compare_page
        assert "compare-segments-ref" in compare and "Working out how each segment" in compare
        segments = str(compare_page.fill_segments({"model": "churn", "a": 1, "b": 2,
                                                   "threshold": 0.5}))
        assert "segment-deltas" in segments or "islands" in segments, segments[:500]
        for bad in ({"model": "churn", "a": 1, "b": "2", "threshold": 0.5},
                    {"model": "churn", "a": 1, "b": 2, "threshold": -1}, "churn"):
            with pytest.raises(BadRequest):
                compare_page.fill_segments(bad)
        again = str(dash.page_registry["pages.compare"]["layout"](model="churn"))
        assert "compare-segments-ref" not in again and "islands" in again


def test_many_segment_values_are_grouped_by_their_text(registry, monkeypatch):
    """Past MAX_SEGMENT_VALUES the engine groups by the value's text instead of numbering
    the values first: the same table."""
    _, engine = decks(registry, monkeypatch)
    model = engine.model("churn")
    from analysis import queries as q
    rows = q.kept_rows_of(engine, "churn", 1)
    numbered = er.segment_counts(model, rows).table
    monkeypatch.setattr(er, "MAX_SEGMENT_VALUES", 1)
    by_text = er.segment_counts(model, rows).table
    pd.testing.assert_frame_equal(numbered, by_text)
    assert set(numbered["value"]) == {"north", "south", "east", "islands", "basic", "premium"}


def test_the_comparison_from_the_engine_equals_the_rows(registry, monkeypatch):
    """Two versions' rows kept by the engine, paired by their position in the files: each
    metric and segment value's difference is exact, the paired intervals come from the same
    random rows of both (scaled to all rows), and the verdict is the one on the rows."""
    from analysis.compare import version_comparison
    memory = CachedSource(FolderSource(registry))
    want = version_comparison(memory, "churn", 1, 2, 0.3)
    _, engine = decks(registry, monkeypatch)
    got = version_comparison(engine, "churn", 1, 2, 0.3)
    assert not got.problem and got.rows == want.rows == ROWS
    assert set(got.differences) == set(want.differences)
    for k, w in want.differences.items():
        g = got.differences[k]
        for f in ("value_a", "value_b", "delta"):
            assert getattr(g, f) == pytest.approx(getattr(w, f), abs=1e-9), (k, f)
        assert g.low <= g.delta <= g.high
        assert 0.6 < (g.high - g.low) / (w.high - w.low) < 1.6, k
        assert g.significant == w.significant, k
    cols = ["segment", "value", "rows", "metric", "note"]
    assert got.segments[cols].equals(want.segments[cols])
    for f in ("value_a", "value_b", "delta"):
        np.testing.assert_allclose(got.segments[f], want.segments[f], atol=1e-9)
    import re
    no_ci = lambda text: re.sub(r"\(95% CI [^)]*\)", "(CI)", text)  # noqa: E731
    assert no_ci(got.verdict) == no_ci(want.verdict)  # the intervals' sample differs


def test_versions_on_other_rows_are_not_compared(tmp_path, monkeypatch):
    """The engine's pairing finds rows that differ as the in-memory check does: the same
    message, no numbers."""
    from analysis.compare import version_comparison
    rng = np.random.default_rng(1)
    log_model(tmp_path, "m", "binary", positive_label=1)
    for v in (1, 2):
        y = rng.integers(0, 2, 3_000)
        log_model_version(tmp_path, "m", y_true=y, y_score=rng.random(3_000))
    want = version_comparison(CachedSource(FolderSource(tmp_path)), "m", 1, 2)
    _, engine = decks(tmp_path, monkeypatch)
    got = version_comparison(engine, "m", 1, 2)
    assert "different true values" in got.problem and got.problem == want.problem
    assert got.differences == {} and got.verdict == want.verdict


def test_one_class_on_the_engine_says_why(tmp_path, monkeypatch):
    """Every evaluation row negative, a few scores NaN: the engine's page says which metrics
    cannot be computed and why, as the rows in memory do, and draws without an error."""
    import dash

    from app import Settings, create_app
    rng = np.random.default_rng(3)
    log_model(tmp_path, "neg", "binary", positive_label=1)
    score = rng.random(3_000)
    score[:5] = np.nan
    log_model_version(tmp_path, "neg", y_true=np.zeros(3_000, int), y_score=score,
                      segments={"region": rng.choice(["a", "b"], 3_000)})
    memory = CachedSource(FolderSource(tmp_path))
    want = version_evaluation(memory, "neg", 1)
    _, engine = decks(tmp_path, monkeypatch)
    got = version_evaluation(engine, "neg", 1)
    assert got.rows == want.rows and got.binary is None and want.binary is None
    assert got.unavailable == want.unavailable and "roc_auc" in got.unavailable
    assert list(got.segments["note"]) == list(want.segments["note"])
    app = create_app(Settings(registry=str(tmp_path)))
    with app.server.test_request_context():
        page = str(dash.page_registry["pages.model"]["layout"](name="neg"))
    assert "How good is version 1?" in page and "all 2,995 rows are negative" in page


def test_a_sample_drawn_from_the_counts_is_a_sample_of_the_rows():
    """Positions drawn among the counted rows are rows drawn: the sample equals the rows at
    the same positions of the table ordered by score (negatives first at a tied score), and
    holds every row when there are at most ``size``."""
    from analysis.curves import score_counts_of
    rng = np.random.default_rng(3)
    y = (rng.random(20_000) < 0.1).astype(float)
    s = np.round(rng.random(20_000) ** 2, 2)
    scores, pos, neg = score_counts_of(y, s)
    ordered = pd.DataFrame({"y_true": y, "y_score": s}).sort_values(
        ["y_score", "y_true"], kind="stable").reset_index(drop=True)
    got = er.sample_from_counts(scores, pos, neg, 500, seed=7)
    at = np.sort(np.random.default_rng(7).choice(len(y), 500, replace=False))
    pd.testing.assert_frame_equal(got, ordered.iloc[at].reset_index(drop=True))
    every = er.sample_from_counts(scores, pos, neg, 50_000)
    pd.testing.assert_frame_equal(every, ordered)
    empty = er.sample_from_counts(np.array([]), np.array([]), np.array([]), 10)
    assert len(empty) == 0 and list(empty.columns) == ["y_true", "y_score"]


def test_the_portfolio_advice_from_the_engine_equals_the_rows(tmp_path, monkeypatch):
    """The portfolio's recommendations for a model whose evaluation rows an engine keeps:
    the champion against its challenger and an earlier version, its segments, its value in
    money and its production evidence come from the engine's summaries (the rows are never
    read into memory) and say what they say on the rows."""
    import re

    from analysis.evidence import model_advice
    rng = np.random.default_rng(11)
    n = 4_000
    log_model(tmp_path, "churn", "binary", positive_label=1, business=B, entity="customer")
    y = (rng.random(n) < 0.3).astype(int)
    region = rng.choice(["north", "south", "east"], n)
    tenure = rng.normal(24, 6, n)
    for v, strength in ((1, 1.8), (2, 1.2), (3, 2.2)):  # v2 champion, worse than v1 and v3
        score = np.round(1 / (1 + np.exp(-(-1 + strength * y + 0.1 * (tenure - 24)
                                            + rng.normal(0, 1, n)))), 3)
        log_model_version(tmp_path, "churn", y_true=y, y_score=score,
                          segments={"region": region}, features={"tenure": tenure},
                          aliases={2: ["champion"], 3: ["challenger"]}.get(v, []))
    m = 900  # production rows read into memory in both cases (under the limit below)
    months = pd.date_range("2026-01-01", periods=6, freq="MS", tz="UTC")
    stamp = months[rng.integers(0, 6, m)] + pd.to_timedelta(rng.integers(0, 20, m), unit="D")
    later = (stamp >= months[3]).astype(float)
    yp = (rng.random(m) < 0.3).astype(int)
    log_monitoring(tmp_path, "churn", timestamp=stamp, version=2, y_true=yp,
                   y_score=np.clip(0.3 + 0.3 * yp * (1 - later) + rng.normal(0, 0.2, m), 0, 1),
                   segments={"region": rng.choice(["north", "south", "east"], m)},
                   features={"tenure": rng.normal(24, 6, m) + 10 * later})
    want = model_advice(CachedSource(FolderSource(tmp_path)), "churn")
    _, engine = decks(tmp_path, monkeypatch)
    got = model_advice(engine, "churn")
    assert got.problem == want.problem == "" and got.evidence is not None
    g, w = got.evidence, want.evidence
    assert g.overall == pytest.approx(w.overall, abs=1e-9)
    assert g.challenger.delta == pytest.approx(w.challenger.delta, abs=1e-9)
    assert [(e.version, e.other) for e in g.earlier] == [(e.version, e.other) for e in w.earlier]
    assert len(g.earlier) == 1
    for a, b in zip(g.earlier, w.earlier):
        assert a.delta == pytest.approx(b.delta, abs=1e-9) and a.low <= a.delta <= a.high
        assert a.worse == b.worse
    assert [(s.column, s.value, s.rows, s.share) for s in g.segments] == \
        [(s.column, s.value, s.rows, s.share) for s in w.segments]
    assert len(g.segments) == 3
    for a, b in zip(g.segments, w.segments):
        assert a.metric_value == pytest.approx(b.metric_value, abs=1e-9)
        assert a.low <= a.metric_value <= a.high
    assert [(s.column, s.value, s.rows) for s in g.challenger_segments] == \
        [(s.column, s.value, s.rows) for s in w.challenger_segments]
    for k in ("money_challenger", "money_rollback", "money_lost"):
        assert getattr(g, k) == pytest.approx(getattr(w, k), abs=1e-6), k
    assert w.money_challenger is not None and w.drifted
    assert [d[0] for d in g.drifted] == [d[0] for d in w.drifted]
    for a, b in zip(g.drifted, w.drifted):  # the correlations come from a random sample
        assert a[1] == pytest.approx(b[1], abs=1e-9) and a[2] == pytest.approx(b[2], abs=0.1)
    # (intervals and correlations: from random samples)
    no_ci = lambda text: re.sub(r"\(95% CI [^)]*\)|correlation [0-9.]+", "~", text)  # noqa: E731
    assert [(r.action, r.headline, [no_ci(e) for e in r.evidence]) for r in got.recommendations] \
        == [(r.action, r.headline, [no_ci(e) for e in r.evidence]) for r in want.recommendations]


def test_the_model_card_from_the_engine_equals_the_rows(tmp_path, monkeypatch):
    """The model card of a model whose evaluation rows an engine keeps: its metrics, segments,
    worth and the period of the rows' own timestamps, as on the rows."""
    from analysis.card import model_card
    rng = np.random.default_rng(4)
    n = 3_000
    log_model(tmp_path, "churn", "binary", positive_label="yes", business=B)
    y = rng.random(n) < 0.3
    stamp = pd.Timestamp("2026-02-03T22:30:00Z") + pd.to_timedelta(rng.integers(0, 40, n),
                                                                    unit="D")
    log_model_version(tmp_path, "churn", y_true=np.where(y, "yes", "no"),
                      y_score=np.round(1 / (1 + np.exp(-(-1 + 1.5 * y + rng.normal(0, 1, n)))),
                                       3),
                      segments={"plan": rng.choice(["basic", "premium"], n)}, timestamp=stamp,
                      aliases=["champion"])
    want = model_card(CachedSource(FolderSource(tmp_path)), "churn")
    _, engine = decks(tmp_path, monkeypatch)
    got = model_card(engine, "churn")
    def period(card):
        return next(f.text for f in card.evaluation if f.label.endswith("period"))
    assert period(got) == period(want) == \
        f"{stamp.min():%d %b %Y} to {stamp.max():%d %b %Y} (the rows' timestamps)".lstrip("0")
    assert [(m.key, m.value) for m in got.metrics] == [(m.key, m.value) for m in want.metrics]
    assert len(got.metrics) >= 4
    import re
    no_ci = lambda texts: [re.sub(r"95% CI [^,]*,", "CI,", t) for t in texts]  # noqa: E731
    assert no_ci(got.segments) == no_ci(want.segments) and got.segments
    assert got.business == want.business


def test_the_estimate_without_labels_reads_no_evaluation_rows(tmp_path, monkeypatch):
    """The estimate on the monitoring page checks the scores' calibration on the evaluation
    rows: when an engine keeps them, on a random sample drawn from its counts (said in
    words), at the threshold the value curve of all rows chooses."""
    from analysis.estimation import model_estimate
    rng = np.random.default_rng(8)
    n, m = 3_000, 600
    log_model(tmp_path, "churn", "binary", positive_label="yes", business=B)
    y = rng.random(n) < 0.3
    score = np.round(np.clip(0.3 + 0.35 * y + rng.normal(0, 0.2, n), 0, 1), 3)
    log_model_version(tmp_path, "churn", y_true=np.where(y, "yes", "no"), y_score=score,
                      aliases=["champion"])
    stamp = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 90, m),
                                                                    unit="D")
    log_monitoring(tmp_path, "churn", timestamp=stamp, version=1,
                   y_score=np.round(rng.random(m), 3))
    _, _, want = model_estimate(CachedSource(FolderSource(tmp_path)), "churn")
    _, engine = decks(tmp_path, monkeypatch)  # SAMPLE_ROWS 2,000 of the 3,000 rows
    _, _, got = model_estimate(engine, "churn")
    assert not got.unavailable and len(got.windows) == len(want.windows) > 0
    assert (got.threshold, got.threshold_source) == (want.threshold, want.threshold_source)
    assert got.calibration.rows == want.calibration.rows == n
    k = got.calibration.checked_on  # the sample drawn per class, thinned to a uniform one
    assert 1_000 < k < 3_000 and want.calibration.checked_on == 0
    assert f"3,000 evaluation rows (checked on a random {k:,} of them)" in \
        got.calibration.sentence(1)
    assert got.calibration.calibrated == want.calibration.calibrated


def test_a_sample_drawn_per_class_holds_enough_of_a_rare_class():
    """Drawn per class, the sample holds at least CLASS_SAMPLE_ROWS rows of a rare class
    (or all of them), each class's rows a uniform sample of that class; thinned back to the
    classes' proportions (``uniform_sample``) it is a uniform sample again. (The bootstrap's
    scaling of such a sample, per class: tests/test_rare_class_intervals.py.)"""
    from analysis.curves import score_counts_of
    rng = np.random.default_rng(9)
    n = 400_000
    y = (rng.random(n) < 0.005).astype(float)  # about 2,000 positives
    p = int(y.sum())
    s = np.round(np.clip(0.2 + 0.3 * y + rng.normal(0, 0.15, n), 0, 1), 4)
    scores, pos, neg = score_counts_of(y, s)
    got = er.sample_from_counts(scores, pos, neg, 20_000, seed=1, per_class=True)
    assert len(got) == 20_000 and (got["y_true"] == 1).sum() == p  # every positive
    assert np.all(np.diff(got["y_score"].to_numpy()) >= 0)
    # the negatives drawn are a uniform sample of the negatives (their mean score, within noise)
    drawn_neg = got.loc[got["y_true"] == 0, "y_score"]
    assert abs(drawn_neg.mean() - s[y == 0].mean()) < 4 * s[y == 0].std() / np.sqrt(17_000)
    balanced = er.sample_from_counts(scores, pos + neg * 0.3, neg * 0.7, 20_000, seed=1,
                                     per_class=True)
    share = (balanced["y_true"] == 1).mean()
    assert abs(share - 0.3) < 0.01  # its share when a class is not rare
    ev = er.EvaluationSummary(rows=n, positives=p, points={}, tp=np.zeros(101),
                              fp=np.zeros(101), curves=None, sample=got)
    uni = er.uniform_sample(ev)  # every negative drawn, the positives at their share
    assert (uni["y_true"] == 0).sum() == 20_000 - p
    assert abs((uni["y_true"] == 1).sum() - p * (20_000 - p) / (n - p)) <= 1


def test_the_engines_samples_of_a_file_are_the_same_every_time(registry, monkeypatch):
    """Rows of one Parquet file are sampled by a hash of their position: two fresh decks
    draw the same rows, so the segments' intervals do not move between cold starts."""
    from analysis import queries as q
    got = []
    for _ in range(2):
        _, engine = decks(registry, monkeypatch)
        rows = q.kept_rows_of(engine, "churn", 1)
        sample, n = q.rows_sample(rows, ["y_pos", "y_score", "segment.region"], 1_000)
        got.append(sample)
        assert n == ROWS and 800 < len(sample) <= 1_000
    pd.testing.assert_frame_equal(got[0], got[1])


def test_the_compare_pages_first_view_says_what_the_whole_says(registry, monkeypatch):
    """The outline the compare page shows first (no segments) holds the whole comparison's
    differences, intervals, verdict and reasons: only the segments follow later."""
    from cachelib import SimpleCache

    from analysis.compare import comparison_outline, version_comparison
    _, uncached = decks(registry, monkeypatch)
    engine = CachedSource(uncached.source, SimpleCache())  # as a server's cache keeps them
    outline = comparison_outline(engine, "churn", 1, 2)
    whole = version_comparison(engine, "churn", 1, 2)
    assert outline.segments_pending and outline.segments.empty
    assert not whole.segments_pending and len(whole.segments)
    assert outline.differences == whole.differences and outline.differences
    assert outline.verdict == whole.verdict and outline.unavailable == whole.unavailable
    again = comparison_outline(engine, "churn", 1, 2)  # once cached, the whole
    assert not again.segments_pending and again.segments.equals(whole.segments)
