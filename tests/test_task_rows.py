"""Number and class models whose evaluation tables an engine keeps (Parquet over
``MODELDECK_ENGINE_MIN_ROWS``): the model page's numbers and charts come from the engine's
summaries (``analysis.task_rows``) and equal those computed on the same rows in memory
(scikit-learn, numpy); the page never reads the rows into pandas. (The yes/no models' same
contract: tests/test_evaluation_rows.py, whose ``decks`` and ``within_width`` are reused.)"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from test_evaluation_rows import decks, within_width  # noqa: E402 (tests/ is on sys.path)

from analysis import task_rows as tr
from analysis.evaluation import regression_diagnostics, version_evaluation
from analysis.metrics import compute_metrics
from registry import folder
from registry.cached import CachedSource
from registry.folder import FolderSource
from registry.model import Model, Problem, RegistryError
from registry.rows import Rows
from registry.writer import log_model, log_model_version

ROWS = 6_000
CLASSES = ["2", "10", "cat"]  # natural order: 2 before 10, text after numbers


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """A number model (whole-number values: many fall exactly on a bin's edge; v3 has true
    values of 0, so no MAPE, and other true values than v1 and v2) and a class model with
    probabilities (v1) and without (v2)."""
    root = tmp_path_factory.mktemp("engine-tasks")
    rng = np.random.default_rng(7)
    region = rng.choice(["north", "south", "east"], ROWS).astype(object)
    region[:20] = "islands"  # too few rows to judge
    log_model(root, "price", "regression", target_unit="EUR")
    y = np.round(rng.normal(200, 40, ROWS))
    for v in (1, 2, 3):
        truth = y if v < 3 else np.where(np.arange(ROWS) < 3, 0.0, y)
        log_model_version(root, "price", y_true=truth,
                          y_pred=np.round(truth + rng.normal(0, 10 + 2 * v, ROWS)),
                          segments={"region": region})
    log_model(root, "kind", "multiclass")
    t = rng.choice(3, ROWS, p=[0.5, 0.35, 0.15])
    logits = rng.normal(0, 1, (ROWS, 3))
    logits[np.arange(ROWS), t] += 1.4
    p = np.round(np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True), 3)
    truth = np.asarray(CLASSES)[t]
    log_model_version(root, "kind", y_true=truth, proba=p, classes=CLASSES,
                      segments={"region": region})
    pred = np.where(rng.random(ROWS) < 0.7, truth, rng.choice(["2", "10"], ROWS))
    log_model_version(root, "kind", y_true=truth, y_pred=pred, segments={"region": region})
    return root


def same_metrics(got, want):
    assert got.rows == want.rows == ROWS
    assert set(got.metrics) == set(want.metrics)
    for k, ci in want.metrics.items():
        assert got.metrics[k].value == pytest.approx(ci.value, abs=1e-9), k
        within_width(got.metrics[k], ci)
    assert got.unavailable == want.unavailable
    cols = ["segment", "value", "rows", "note", "weakest"]
    assert got.segments[cols].equals(want.segments[cols])
    np.testing.assert_allclose(got.segments["estimate"], want.segments["estimate"], atol=1e-9)
    judged = got.segments.loc[got.segments["note"] == ""]
    assert (judged["low"] <= judged["estimate"]).all() and \
        (judged["estimate"] <= judged["high"]).all()
    assert "too few rows" in got.segments.set_index("value").loc["islands", "note"]


def same_binned(a, b):
    assert (a.kind, a.rows) == (b.kind, b.rows)
    np.testing.assert_allclose(a.x, b.x, rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.y, b.y, rtol=0, atol=1e-12)
    if a.counts is not None:
        np.testing.assert_array_equal(a.counts, b.counts)


def test_a_number_models_page_equals_the_rows(registry, monkeypatch):
    memory = CachedSource(FolderSource(registry))
    want = {v: version_evaluation(memory, "price", v) for v in (1, 2, 3)}
    _, engine = decks(registry, monkeypatch)  # the sample: 2,000 of the 6,000 rows
    assert tr.task_summary(engine, "price", 1) is not None
    for v in (1, 2, 3):
        got, w = version_evaluation(engine, "price", v), want[v]
        same_metrics(got, w)
        for part in ("actual_vs_predicted", "residuals"):
            same_binned(getattr(got.regression, part), getattr(w.regression, part))
        assert got.regression.actual_vs_predicted.kind == "bins"
        pd.testing.assert_frame_equal(got.regression.errors, w.regression.errors,
                                      check_dtype=False, atol=1e-12)
    assert "mape" in want[3].unavailable and "3 of the 6,000 true values are 0" in \
        version_evaluation(engine, "price", 3).unavailable["mape"]
    # scikit-learn on the rows themselves
    frame = memory.evaluation("price", 1).frame
    y, p = frame["y_true"].to_numpy(float), frame["y_pred"].to_numpy(float)
    got = version_evaluation(engine, "price", 1).metrics
    assert got["mae"].value == pytest.approx(skm.mean_absolute_error(y, p), abs=1e-9)
    assert got["rmse"].value == pytest.approx(skm.root_mean_squared_error(y, p), abs=1e-9)
    assert got["r2"].value == pytest.approx(skm.r2_score(y, p), abs=1e-9)
    assert got["mape"].value == pytest.approx(skm.mean_absolute_percentage_error(y, p),
                                              abs=1e-9)


@pytest.mark.parametrize("case", ["edges", "one value", "few"])
def test_the_engines_bins_are_numpys(case):
    """The engine's bins of the three charts are numpy's ``histogram2d`` / ``histogram``
    bins, values lying exactly on an edge included (the last bin closed); one value only:
    numpy's range of ±0.5; at most MAX_SCATTER_POINTS rows: the points themselves."""
    rng = np.random.default_rng(3)
    n = 300 if case == "few" else 5_000
    if case == "one value":
        pred = np.round(rng.normal(7, 1, n) * 4) / 4  # quarters: sums without rounding
        y = pred + 1.5  # every residual 1.5: one value
    else:
        pred = np.round(rng.normal(0, 3, n), 2)
        edges = np.linspace(pred.min(), pred.max(), 61)
        pred[: len(edges)] = edges  # every edge of the predicted values' bins
        y = np.round(pred + rng.normal(0, 1, n), 1)
    rows = Rows.from_frame(pd.DataFrame({"y_true": y, "y_pred": pred}), "m", "f.parquet",
                           True)
    want = regression_diagnostics(y, pred)
    got = tr.regression_diagnostics_of(rows, n) if case != "few" else \
        tr.summarise_task(Model(name="m", task="regression"), rows).regression
    for part in ("actual_vs_predicted", "residuals"):
        a, b = getattr(got, part), getattr(want, part)
        if a.kind == "points":  # the rows in the engine's order
            assert b.kind == "points" and a.rows == b.rows == n
            assert sorted(zip(a.x, a.y)) == sorted(zip(b.x, b.y))
        else:
            same_binned(a, b)
    pd.testing.assert_frame_equal(got.errors, want.errors, check_dtype=False, atol=0)


def test_a_class_models_page_equals_the_rows(registry, monkeypatch):
    memory = CachedSource(FolderSource(registry))
    want = {v: version_evaluation(memory, "kind", v) for v in (1, 2)}
    _, engine = decks(registry, monkeypatch)
    for v in (1, 2):
        got, w = version_evaluation(engine, "kind", v), want[v]
        same_metrics(got, w)
        a, b = got.multiclass, w.multiclass
        assert a.labels == b.labels == tuple(CLASSES)
        np.testing.assert_array_equal(a.confusion, b.confusion)
        pd.testing.assert_frame_equal(a.per_class, b.per_class, check_dtype=False, atol=1e-12)
        assert a.confused == b.confused and len(a.confused) > 0
        assert [c.label for c in a.roc] == [c.label for c in b.roc]
        assert a.roc_missing == b.roc_missing
        for c, d in zip(a.roc, b.roc):
            assert (c.positives, c.negatives) == (d.positives, d.negatives)
            assert c.roc.area == pytest.approx(d.roc.area, abs=1e-12)
            for f in ("x", "y", "thresholds"):
                np.testing.assert_allclose(getattr(c.roc, f), getattr(d.roc, f), atol=1e-12)
        if b.confidence is None:
            assert a.confidence is None
        else:
            pd.testing.assert_frame_equal(a.confidence.table, b.confidence.table,
                                          check_dtype=False, atol=1e-12)
            assert a.confidence.mean_confidence == pytest.approx(
                b.confidence.mean_confidence, abs=1e-12)
            assert (a.confidence.share_correct, a.confidence.rows) == \
                (b.confidence.share_correct, b.confidence.rows)
    assert len(want[1].multiclass.roc) == 3 and "log_loss" in want[1].metrics
    assert "proba.<class> columns" in want[2].unavailable["log_loss"]
    # scikit-learn on the rows themselves
    frame = memory.evaluation("kind", 1).frame
    yt = frame["y_true"].astype(str)
    proba = frame[[f"proba.{c}" for c in CLASSES]].to_numpy(float)
    yp = np.asarray(CLASSES)[proba.argmax(axis=1)]
    got = version_evaluation(engine, "kind", 1)
    assert got.metrics["accuracy"].value == pytest.approx(skm.accuracy_score(yt, yp), abs=1e-12)
    assert got.metrics["f1_macro"].value == pytest.approx(
        skm.f1_score(yt, yp, average="macro"), abs=1e-9)
    np.testing.assert_array_equal(got.multiclass.confusion,
                                  skm.confusion_matrix(yt, yp, labels=CLASSES))
    order = np.argsort(CLASSES)  # scikit-learn reads the columns in the labels' sorted order
    assert got.metrics["log_loss"].value == pytest.approx(skm.log_loss(
        yt, (proba / proba.sum(axis=1, keepdims=True))[:, order],
        labels=sorted(CLASSES)), abs=1e-9)
    # the one-metric path (a trend of log loss) reads the columns in the same order
    assert compute_metrics(memory.model("kind"), frame)["log_loss"] == pytest.approx(
        got.metrics["log_loss"].value, abs=1e-9)
    for c in got.multiclass.roc:
        j = CLASSES.index(c.label)
        assert c.roc.area == pytest.approx(skm.roc_auc_score(yt == c.label, proba[:, j]
                                                             / proba.sum(axis=1)), abs=1e-12)


@pytest.mark.parametrize("name", ["price", "kind"])
def test_the_comparison_from_the_engine_equals_the_rows(registry, monkeypatch, name):
    """Two versions' rows kept by the engine, paired by their position in the files: each
    metric's and segment value's difference is exact, the paired intervals come from the
    same random rows of both (scaled to all rows), the verdict is the one on the rows."""
    import re

    from analysis.compare import version_comparison
    want = version_comparison(CachedSource(FolderSource(registry)), name, 1, 2)
    _, engine = decks(registry, monkeypatch)
    got = version_comparison(engine, name, 1, 2)
    assert not got.problem and got.rows == want.rows == ROWS
    assert set(got.differences) == set(want.differences) and got.differences
    for k, w in want.differences.items():
        g = got.differences[k]
        for f in ("value_a", "value_b", "delta"):
            assert getattr(g, f) == pytest.approx(getattr(w, f), abs=1e-9), (k, f)
        assert g.low <= g.delta <= g.high
        assert 0.6 < (g.high - g.low) / (w.high - w.low) < 1.6, k
        assert g.significant == w.significant, k
    assert got.unavailable == want.unavailable
    cols = ["segment", "value", "rows", "metric", "note"]
    assert got.segments[cols].equals(want.segments[cols])
    for f in ("value_a", "value_b", "delta"):
        np.testing.assert_allclose(got.segments[f], want.segments[f], atol=1e-9)
    no_ci = lambda text: re.sub(r"\(95% CI [^)]*\)", "(CI)", text)  # noqa: E731
    assert no_ci(got.verdict) == no_ci(want.verdict)
    if name == "price":  # v3's true values differ on 3 rows: not compared, as on the rows
        want = version_comparison(CachedSource(FolderSource(registry)), name, 1, 3)
        got = version_comparison(engine, name, 1, 3)
        assert "different true values on 3 of them" in got.problem
        assert (got.problem, got.verdict, got.differences) == \
            (want.problem, want.verdict, want.differences)


def test_the_advice_and_story_of_a_number_model_from_the_engine_equal_the_rows(
        tmp_path, monkeypatch):
    """The portfolio's advice and the retraining story of a number model whose evaluation
    rows an engine keeps: the champion against its challenger and an earlier version, each
    retraining's change (paired, from the same hashed rows of both files), the segments and
    the money its errors cost come from the engine's summaries and say what they say on the
    rows."""
    import re

    from analysis.evidence import model_advice
    from analysis.history import retraining_story
    from registry.model import BusinessSettings
    rng = np.random.default_rng(12)
    n = 4_000
    log_model(tmp_path, "price", "regression", target_unit="EUR",
              business=BusinessSettings(cost_per_unit_error=2.0, volume_per_month=10_000))
    y = np.round(rng.normal(200, 40, n), 1)
    region = rng.choice(["north", "south", "east"], n)
    for v, noise in ((1, 8), (2, 12), (3, 6)):  # v2 champion, worse than v1 and v3
        log_model_version(tmp_path, "price", y_true=y,
                          y_pred=np.round(y + rng.normal(0, noise, n), 1),
                          segments={"region": region},
                          aliases={2: ["champion"], 3: ["challenger"]}.get(v, []))
    want = model_advice(CachedSource(FolderSource(tmp_path)), "price")
    want_story = retraining_story(CachedSource(FolderSource(tmp_path)), "price")
    _, engine = decks(tmp_path, monkeypatch)
    got = model_advice(engine, "price")
    assert got.problem == want.problem == "" and got.evidence is not None
    g, w = got.evidence, want.evidence
    assert g.overall == pytest.approx(w.overall, abs=1e-9)
    assert g.challenger.delta == pytest.approx(w.challenger.delta, abs=1e-9)
    assert g.challenger.better == w.challenger.better and g.challenger.low <= g.challenger.delta
    assert [(e.version, e.other) for e in g.earlier] == [(e.version, e.other) for e in w.earlier]
    assert len(g.earlier) == 1
    for a, b in zip(g.earlier, w.earlier):
        assert a.delta == pytest.approx(b.delta, abs=1e-9) and a.low <= a.delta <= a.high
        assert a.worse == b.worse
    assert [(s.column, s.value, s.rows) for s in g.segments] == \
        [(s.column, s.value, s.rows) for s in w.segments] and len(g.segments) == 3
    for a, b in zip(g.segments, w.segments):
        assert a.metric_value == pytest.approx(b.metric_value, abs=1e-9)
    for k in ("money_challenger", "money_rollback"):
        assert getattr(g, k) == pytest.approx(getattr(w, k), abs=1e-6), k
    assert w.money_challenger is not None and w.money_rollback is not None
    no_ci = lambda text: re.sub(r"\(95% CI [^)]*\)", "~", text)  # noqa: E731
    assert [(r.action, r.headline, [no_ci(e) for e in r.evidence]) for r in got.recommendations] \
        == [(r.action, r.headline, [no_ci(e) for e in r.evidence]) for r in want.recommendations]
    # the retraining story: each step's paired change of MAE and of the errors' cost
    story = retraining_story(engine, "price")
    assert story.money_kind == want_story.money_kind == "cost"
    assert len(story.steps) == len(want_story.steps) == 3
    for g, w in zip(story.steps, want_story.steps):
        assert (g.version, g.not_paired, g.verdict) == (w.version, w.not_paired, w.verdict)
        assert g.value == pytest.approx(w.value, abs=1e-9)
        assert g.money == pytest.approx(w.money, rel=1e-12)
        if w.metric_change is None:
            assert g.metric_change is None and g.money_change is None
            continue
        assert g.metric_change.delta == pytest.approx(w.metric_change.delta, abs=1e-9)
        assert g.money_change.delta == pytest.approx(w.money_change.delta, rel=1e-9)
        for c in (g.metric_change, g.money_change):
            assert c.low <= c.delta <= c.high


def test_too_many_probabilities_are_left_out_in_words(registry, monkeypatch):
    """Past MAX_PROBABILITY_CELLS distinct probabilities the curves and the confidence chart
    are left out, and the page's notes say so; every number stays exact."""
    memory = CachedSource(FolderSource(registry))
    want = version_evaluation(memory, "kind", 1)
    _, engine = decks(registry, monkeypatch)
    monkeypatch.setattr(tr, "MAX_PROBABILITY_CELLS", 100)
    got = version_evaluation(engine, "kind", 1)
    assert got.multiclass.roc == () and got.multiclass.confidence is None
    assert any("ROC curves and the confidence chart are left out" in n for n in got.notes)
    assert got.metrics["log_loss"].value == pytest.approx(want.metrics["log_loss"].value,
                                                          abs=1e-9)
    np.testing.assert_array_equal(got.multiclass.confusion, want.multiclass.confusion)


def test_the_pages_draw_without_reading_the_rows(registry, monkeypatch):
    """The model page of a number model and of a class model (first view without the
    segments, then the segments from their callback, then the numbers across versions), the
    comparison page and the model card: every number from the engine's summaries, no row
    read into memory."""
    import dash

    from app import Settings, create_app
    monkeypatch.setattr(folder, "ENGINE_MIN_ROWS", 1_000)

    def no_frames(self, *a, **k):
        raise AssertionError("the evaluation rows were read into memory")

    monkeypatch.setattr(FolderSource, "evaluation", no_frames)
    app = create_app(Settings(registry=str(registry)))
    layout = dash.page_registry["pages.model"]["layout"]
    import pages.model as model_page
    with app.server.test_request_context():
        for name, heading, segment in (("price", "How far off are the predictions?",
                                        "Mean absolute error"),
                                       ("kind", "Where does it go wrong?", "Accuracy")):
            page = str(layout(name=name, version="1"))
            assert heading in page and "could not be read" not in page
            assert "AssertionError" not in page
            assert f"Working out each segment's {segment} on all 6,000 rows" in page
            segments = str(model_page.fill_segments({"model": name, "version": 1}))
            assert "Where is it weaker?" in segments and "islands" in segments
        assert "How sure is it, class by class?" in str(layout(name="kind", version="1"))
        # the numbers across versions (health, versions table, trend) from their callback
        status, health, across = model_page.fill_across({"model": "price"})
        assert "Health: " in str(health) and "versions-table" in str(across)
        compare = str(dash.page_registry["pages.compare"]["layout"](model="price", a="1",
                                                                     b="2"))
        assert "could not be read" not in compare and "AssertionError" not in compare
        assert "Both versions on the same 6,000 evaluation rows" in compare
        # how each segment changed follows from a callback, as for a yes/no model
        import pages.compare as compare_page
        assert "compare-segments-ref" in compare
        changed = str(compare_page.fill_segments({"model": "price", "a": 1, "b": 2,
                                                  "threshold": 0.5}))
        assert "segment-deltas" in changed and "islands" in changed
    # the model card: the champion's metrics, segments and the cost of its errors
    from analysis.card import model_card
    card = model_card(CachedSource(FolderSource(registry)), "price")
    assert {m.key for m in card.metrics} >= {"mae", "rmse"} and card.segments


def test_a_bad_column_names_the_file_on_that_model_only(registry, tmp_path, monkeypatch):
    """A number model whose predictions are text: RegistryError naming the file and the
    column, on that model's page only; the other model still works from the engine."""
    import shutil
    root = tmp_path / "reg"
    shutil.copytree(registry, root)
    bad = root / "models" / "price" / "versions" / "1" / "evaluation" / "test.parquet"
    frame = pd.read_parquet(bad)
    frame["y_pred"] = frame["y_pred"].astype(str) + " EUR"
    frame.to_parquet(bad)
    _, engine = decks(root, monkeypatch)
    version = 1
    with pytest.raises(RegistryError) as e:
        version_evaluation(engine, "price", version)
    problem = e.value.problem
    assert isinstance(problem, Problem) and problem.model == "price"
    assert "y_pred" in str(problem) and bad.name in str(problem)
    assert version_evaluation(engine, "kind", 1).rows == ROWS


def test_the_engine_path_runs_the_same_queries_on_a_table_in_memory():
    """``summarise_task`` on rows read into memory (``Rows.from_frame``, the same queries on
    the in-process DuckDB) gives the numbers of the rows: one query code for every size."""
    rng = np.random.default_rng(2)
    y = rng.normal(10, 2, 800)
    pred = y + rng.normal(0, 1, 800)
    frame = pd.DataFrame({"y_true": y, "y_pred": pred})
    s = tr.summarise_task(Model(name="m", task="regression"),
                          Rows.from_frame(frame, "m", "f.csv", True))
    assert s.rows == 800 and len(s.sample) == 800
    assert s.points["mae"] == pytest.approx(skm.mean_absolute_error(y, pred), abs=1e-12)
    assert s.points["r2"] == pytest.approx(skm.r2_score(y, pred), abs=1e-12)
