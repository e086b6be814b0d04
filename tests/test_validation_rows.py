"""The "Validation and robustness" section of a version whose splits an engine keeps (Parquet
over ``MODELDECK_ENGINE_MIN_ROWS``): every split's numbers come from the engine's summaries
and equal scikit-learn and the in-memory path on the same rows; a stress set's paired change
equals the in-memory one, and is absent when the rows do not pair; no kept split is read
into memory; a version with small splits (in memory) and large ones (engine) works too."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from analysis import evaluation_rows as er
from analysis.validation import version_validation
from registry import folder
from registry.cached import CachedSource
from registry.folder import FolderSource
from registry.writer import log_folds, log_model, log_model_version, log_stress

N = 600  # rows of the test split and of its stress sets (folds: 200)
FOLD = 200


def _rows(task: str, rng, n: int, truth=None) -> dict:
    if task == "binary":
        y = truth if truth is not None else rng.random(n) < 0.35
        logit = -1 + 2 * y + rng.normal(0, 1, n)
        return {"y_true": np.where(y, "yes", "no"),
                "y_score": np.round(1 / (1 + np.exp(-logit)), 3)}
    if task == "multiclass":
        y = truth if truth is not None else rng.choice(["a", "b", "c"], n, p=[.5, .3, .2])
        return {"y_true": y, "y_pred": np.where(rng.random(n) < 0.7, y,
                                                rng.choice(["a", "b", "c"], n))}
    y = truth if truth is not None else np.round(rng.normal(100, 20, n), 1)
    return {"y_true": y, "y_pred": np.round(y + rng.normal(0, 5, n), 1)}


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """One model per task, version 1 with a test split, three folds (one of a yes/no model
    holding no positive: its ROC AUC is undefined), a stress set of the test rows with
    noise ("noisy": pairs with the test split), one of other rows ("other": same count,
    other true values: does not pair) and one of fewer rows ("fewer")."""
    root = tmp_path_factory.mktemp("validation-rows")
    rng = np.random.default_rng(11)
    for name, task in (("churn", "binary"), ("kind", "multiclass"), ("price", "regression")):
        log_model(root, name, task, positive_label="yes" if task == "binary" else None)
        test = _rows(task, rng, N)
        truth = test["y_true"] == "yes" if task == "binary" else test["y_true"]
        log_model_version(root, name, **test)
        folds = [_rows(task, rng, FOLD) for _ in range(3)]
        if task == "binary":
            folds[2] = _rows(task, rng, FOLD, truth=np.zeros(FOLD, bool))
        log_folds(root, name, 1, folds)
        log_stress(root, name, 1, "noisy", "with noise added", **_rows(task, rng, N, truth))
        log_stress(root, name, 1, "other", "on other rows", **_rows(task, rng, N))
        log_stress(root, name, 1, "fewer", "on fewer rows",
                   **_rows(task, rng, N - 50, truth[:N - 50]))
    return root


def _kept_only(root, monkeypatch, limit: int, in_memory: set[str]):
    """(a deck reading every split into memory, a deck whose engine keeps the splits of at
    least ``limit`` rows, draws its samples of at most 300 rows, and whose source fails if
    any split but ``in_memory`` is read into memory)."""
    memory = CachedSource(FolderSource(root))
    monkeypatch.setattr(folder, "ENGINE_MIN_ROWS", limit)
    # the engine's intervals from a sample of half the test rows, scaled to all of them
    monkeypatch.setattr(er, "SAMPLE_ROWS", 300)

    class NoFrames(FolderSource):
        def evaluation(self, model, version, split=None):
            if split not in in_memory:
                raise AssertionError(f"the {split!r} rows were read into memory")
            return super().evaluation(model, version, split)

    return memory, CachedSource(NoFrames(root))


def _sklearn(task: str, frame: pd.DataFrame, t: float) -> dict[str, float]:
    if task == "binary":
        y = (frame["y_true"].astype(str) == "yes").to_numpy(int)
        s = frame["y_score"].to_numpy(float)
        out = {"recall": skm.recall_score(y, s >= t, zero_division=0),
               "precision": skm.precision_score(y, s >= t, zero_division=0)}
        if 0 < y.sum() < len(y):
            out["roc_auc"] = skm.roc_auc_score(y, s)
        return out
    if task == "multiclass":
        yt, yp = frame["y_true"].astype(str), frame["y_pred"].astype(str)
        return {"accuracy": skm.accuracy_score(yt, yp),
                "f1_macro": skm.f1_score(yt, yp, average="macro")}
    return {"mae": skm.mean_absolute_error(frame["y_true"], frame["y_pred"]),
            "rmse": math.sqrt(skm.mean_squared_error(frame["y_true"], frame["y_pred"]))}


def _finite(x) -> bool:
    return x is not None and math.isfinite(x)


def _same_section(got, want, root, name: str, task: str, t: float):
    frames = {s: FolderSource(root).evaluation(name, 1, s).frame
              for s in ("test", "fold-1", "fold-2", "fold-3", "noisy", "other", "fewer")}
    assert got.notes == want.notes == ()
    assert (got.main, got.metrics) == (want.main, want.metrics)
    assert [r.split for r in got.splits] == [r.split for r in want.splits]
    for g, w in zip(got.splits, want.splits):
        assert (g.split, g.kind, g.description, g.rows) == (w.split, w.kind, w.description,
                                                           w.rows)
        assert g.rows == len(frames[g.split])
        expected = _sklearn(task, frames[g.split], t)
        for k in got.metrics:
            gi, wi = g.metrics.get(k), w.metrics.get(k)
            assert (gi is None) == (wi is None), (g.split, k)
            if gi is None:
                continue
            assert _finite(gi.value) == _finite(wi.value) == (k in expected), (g.split, k)
            if k not in expected:  # undefined on these rows: no number, no interval
                assert not _finite(gi.low) and not _finite(gi.high)
                continue
            assert gi.value == pytest.approx(expected[k], abs=1e-9), (g.split, k)
            assert gi.value == pytest.approx(wi.value, abs=1e-9), (g.split, k)
            assert _finite(gi.low) == _finite(wi.low) and _finite(gi.high) == _finite(wi.high)
            if _finite(wi.low):
                assert gi.low <= gi.value <= gi.high, (g.split, k)
        # a stress set's paired change: the same point as in memory, none when unpaired
        assert (g.change is None) == (w.change is None), g.split
        if w.change is not None:
            assert g.change.delta == pytest.approx(w.change.delta, abs=1e-9)
            assert g.change.value_a == pytest.approx(w.change.value_a, abs=1e-9)
            assert g.change.low <= g.change.delta <= g.change.high
    changes = {r.split: r.change for r in got.splits if r.kind == "stress"}
    assert changes["noisy"] is not None and changes["other"] is None and \
        changes["fewer"] is None
    head = got.metrics[0]
    assert changes["noisy"].delta == pytest.approx(
        _sklearn(task, frames["noisy"], t)[head] - _sklearn(task, frames["test"], t)[head],
        abs=1e-9)
    # one place writes the sentences: the same words (the intervals are drawn apart)
    assert got.fold_sentence == want.fold_sentence and got.fold_sentence
    assert len(got.stress_sentences) == len(want.stress_sentences) == 3
    for g, w in zip(got.stress_sentences, want.stress_sentences):
        assert g.split(" On the same rows")[0] == w.split(" On the same rows")[0]
        assert ("On the same rows" in g) == ("On the same rows" in w)


@pytest.mark.parametrize("name,task", [("churn", "binary"), ("kind", "multiclass"),
                                       ("price", "regression")])
def test_kept_splits_are_never_read_and_give_the_same_numbers(registry, monkeypatch, name,
                                                               task):
    memory, engine = _kept_only(registry, monkeypatch, 10, set())
    t = 0.4
    want = version_validation(memory, name, 1, t)
    got = version_validation(engine, name, 1, t)
    _same_section(got, want, registry, name, task, t)


@pytest.mark.parametrize("name,task", [("churn", "binary"), ("price", "regression")])
def test_small_splits_in_memory_and_large_ones_kept_in_one_version(registry, monkeypatch,
                                                                  name, task):
    """Folds of 200 rows are read into memory, the test split and stress sets an engine
    keeps: each split from where it lies, the numbers the same."""
    memory, engine = _kept_only(registry, monkeypatch, 500, {"fold-1", "fold-2", "fold-3"})
    want = version_validation(memory, name, 1, 0.5)
    got = version_validation(engine, name, 1, 0.5)
    _same_section(got, want, registry, name, task, 0.5)


def test_a_malformed_kept_split_is_a_note_naming_it(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    log_model(tmp_path, "m", "binary", positive_label="yes")
    log_model_version(tmp_path, "m", **_rows("binary", rng, 300))
    log_folds(tmp_path, "m", 1, [_rows("binary", rng, 300) for _ in range(2)])
    bad = tmp_path / "models" / "m" / "versions" / "1" / "evaluation" / "fold-2.parquet"
    frame = pd.read_parquet(bad)
    pd.DataFrame({"y_true": frame["y_true"], "y_score": ["high"] * len(frame)}).to_parquet(bad)
    _, engine = _kept_only(tmp_path, monkeypatch, 10, set())
    got = version_validation(engine, "m", 1, 0.5)
    (note,) = got.notes
    assert "'fold-2'" in note and "fold-2.parquet" in note and "y_score" in note
    assert [r.split for r in got.splits] == ["test", "fold-1"]


def test_the_model_page_fills_the_section_from_a_callback(registry, monkeypatch):
    """First view of a version whose splits an engine keeps: a placeholder, not a wait; the
    section follows from ``fill_validation`` (a hand-made bad request is refused), and
    once worked out the page shows it at once. No split is read into memory."""
    import dash
    from werkzeug.exceptions import BadRequest

    from app import Settings, create_app
    monkeypatch.setattr(folder, "ENGINE_MIN_ROWS", 10)

    def no_frames(self, *a, **k):
        raise AssertionError("the evaluation rows were read into memory")

    monkeypatch.setattr(FolderSource, "evaluation", no_frames)
    opened, rows = [], FolderSource.rows

    def opening(self, model, version=None, split=None, production=True):
        opened.append(split)
        return rows(self, model, version, split, production)

    monkeypatch.setattr(FolderSource, "rows", opening)
    app = create_app(Settings(registry=str(registry)))
    layout = dash.page_registry["pages.model"]["layout"]
    import pages.model as model_page
    with app.server.test_request_context():
        page = str(layout(name="churn", version="1", threshold="0.4"))
        # the first view opens (and checks) the test rows only: the registry tells which
        # other splits an engine keeps without opening them (keeps_rows)
        assert set(opened) <= {None, "test"}, opened
        assert "AssertionError" not in page and "could not be read" not in page
        assert "validation-ref" in page and "validation-sentences" not in page
        assert "Working out version 1's metrics on each of its 7 evaluation splits" in page
        ref = {"model": "churn", "version": 1, "threshold": 0.4}
        filled = str(model_page.fill_validation(ref))
        assert "validation-sentences" in filled and "validation-table" in filled
        assert "The 2 folds agree within" in filled and "With noise added" in filled
        assert "AssertionError" not in filled
        for bad in ({"model": "churn", "version": 1, "threshold": 2},
                    {"model": "churn", "version": 1, "threshold": "0.4"},
                    {"model": "churn", "version": "1"}, ["churn"]):
            with pytest.raises(BadRequest):
                model_page.fill_validation(bad)
        gone = str(model_page.fill_validation({"model": "gone", "version": 1,
                                               "threshold": 0.5}))
        assert "no longer in the registry" in gone
        again = str(layout(name="churn", version="1", threshold="0.4"))
        assert "validation-ref" not in again and "validation-sentences" in again
        assert "The 2 folds agree within" in again


def test_an_external_test_table_is_the_main_split(tmp_path, monkeypatch):
    """A version whose "test" rows are an engine's table (``evaluation_table``) and whose folds
    and stress set are files: the table is the main split, summarised where it lies (never
    read into memory), the folds are read into memory; an engine's table has no row order,
    so the stress set's change is not paired (the sentence says no more than the numbers)."""
    import json

    import ibis

    from registry.rows import register_connection
    rng = np.random.default_rng(4)
    test = pd.DataFrame(_rows("binary", rng, N))
    con = ibis.duckdb.connect()
    con.create_table("eval_churn", test)
    register_connection("validation-house", con)
    log_model(tmp_path, "churn", "binary", positive_label="yes")
    log_model_version(tmp_path, "churn", **_rows("binary", rng, N))
    log_folds(tmp_path, "churn", 1, [_rows("binary", rng, FOLD) for _ in range(2)])
    log_stress(tmp_path, "churn", 1, "noisy", "with noise added",
               **_rows("binary", rng, N, test["y_true"].to_numpy() == "yes"))
    v = tmp_path / "models" / "churn" / "versions" / "1"
    (v / "evaluation" / "test.parquet").unlink()
    doc = json.loads((v / "version.json").read_text())
    doc["evaluation_table"] = {"connection": "validation-house", "table": "eval_churn"}
    (v / "version.json").write_text(json.dumps(doc))
    _, engine = _kept_only(tmp_path, monkeypatch, 1_000_000, {"fold-1", "fold-2", "noisy"})
    got = version_validation(engine, "churn", 1, 0.5)
    assert got.notes == () and got.main == "test"
    assert [r.split for r in got.splits] == ["test", "fold-1", "fold-2", "noisy"]
    main = got.splits[0]
    assert main.rows == N
    for k, value in _sklearn("binary", test, 0.5).items():
        assert main.metrics[k].value == pytest.approx(value, abs=1e-9), k
        assert main.metrics[k].low <= main.metrics[k].value <= main.metrics[k].high
    (noisy,) = [r for r in got.splits if r.split == "noisy"]
    assert noisy.change is None
    (sentence,) = got.stress_sentences
    assert sentence.startswith("With noise added, ROC AUC") and "same rows" not in sentence
