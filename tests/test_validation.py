"""Validation and robustness (analysis.validation): metrics on every split against
scikit-learn, the fold-spread and stress-cost sentences, split metadata in the format, the
figure, and the model page's section."""
from __future__ import annotations

import json

import dash
import numpy as np
import pytest
from sklearn import metrics as skm

from analysis.uncertainty import BootstrapSettings, Difference, Interval
from analysis.validation import (
    fold_sentence, stress_sentence, validate, version_validation,
)
from components.validation_figures import splits_figure
from registry import SAMPLE_REGISTRY, open_source
from registry.cached import CachedSource
from registry.folder import FolderSource
from registry.model import SplitInfo, split_info
from registry.writer import log_evaluation, log_folds, log_model, log_model_version, log_stress

QUICK = BootstrapSettings(n_boot=200)


@pytest.fixture(scope="module")
def deck():
    return CachedSource(open_source(str(SAMPLE_REGISTRY)))


def _binary_sklearn(frame, positive, t):
    y = (frame["y_true"].astype(str) == positive).to_numpy(int)
    s = frame["y_score"].to_numpy(float)
    pred = (s >= t).astype(int)
    return {"roc_auc": skm.roc_auc_score(y, s),
            "recall": skm.recall_score(y, pred, zero_division=0),
            "precision": skm.precision_score(y, pred, zero_division=0)}


# ------------------------------------------------------------------ numbers = scikit-learn
@pytest.mark.parametrize("name,version", [("customer-churn", 3), ("breast-cancer", 2)])
def test_every_split_number_equals_sklearn_on_the_same_rows(deck, name, version):
    t = 0.35
    result = version_validation(deck, name, version, t)
    model = deck.model(name)
    kinds = {r.split: r.kind for r in result.splits}
    assert result.main == "test" and result.splits[0].split == "test"
    assert [k for k in kinds.values()].count("fold") == 5
    assert any(k == "stress" for k in kinds.values())
    for r in result.splits:
        frame = deck.evaluation(name, version, r.split).frame
        expected = _binary_sklearn(frame, model.positive_label, t)
        assert r.rows == len(frame)
        assert set(r.metrics) == set(expected)
        for k, value in expected.items():
            ci = r.metrics[k]
            assert ci.value == pytest.approx(value, abs=1e-9), (r.split, k)
            assert ci.low <= ci.value <= ci.high
    # the fold sentence is the max minus min of the folds' scikit-learn ROC AUC
    folds = [skm.roc_auc_score(*_yes(deck, name, version, f"fold-{k}", model))
             for k in range(1, 6)]
    spread = max(folds) - min(folds)
    shown = float(result.fold_sentence.split("within ")[1].split(" ")[0])
    assert spread <= shown < spread + 0.01
    assert f"{min(folds):.3f} to {max(folds):.3f}" in result.fold_sentence


def _yes(deck, name, version, split, model):
    frame = deck.evaluation(name, version, split).frame
    return ((frame["y_true"].astype(str) == model.positive_label).to_numpy(int),
            frame["y_score"].to_numpy(float))


def test_the_churn_stress_sentence_tells_the_real_cost(deck):
    result = version_validation(deck, "customer-churn", 3, 0.5)
    model = deck.model("customer-churn")
    (sentence,) = result.stress_sentences
    a = skm.roc_auc_score(*_yes(deck, "customer-churn", 3, "test", model))
    b = skm.roc_auc_score(*_yes(deck, "customer-churn", 3, "stress-missing", model))
    assert b < a  # missing values cost something on the sample
    assert sentence.startswith(f"With 10% of values missing, ROC AUC falls from {a:.3f} to "
                               f"{b:.3f}")
    assert "recall" in sentence and "On the same rows" in sentence


def test_the_default_split_is_still_the_test_split(deck):
    assert deck.evaluation("customer-churn", 3).split == "test"
    assert deck.evaluation("breast-cancer", 2).split == "test"
    # a version with one split has no validation section
    assert version_validation(deck, "customer-churn", 4, 0.5) is None


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_other_tasks_use_their_main_metrics(tmp_path, task):
    rng = np.random.default_rng(3)
    n = 300
    log_model(tmp_path, "m", task)
    if task == "multiclass":
        y = rng.integers(0, 3, n)
        rows = lambda: {"y_true": y,  # noqa: E731
                        "y_pred": np.where(rng.random(n) < 0.7, y, rng.integers(0, 3, n))}
    else:
        y = rng.normal(10, 3, n)
        rows = lambda: {"y_true": y, "y_pred": y + rng.normal(0, 1, n)}  # noqa: E731
    log_model_version(tmp_path, "m", **rows())
    log_folds(tmp_path, "m", 1, [rows(), rows(), rows()])
    src = FolderSource(tmp_path)
    model, v = src.get_model("m"), src.list_versions("m").items[0]
    frames = {s: src.evaluation("m", 1, s).frame for s in v.splits}
    result = validate(model, v, frames, settings=QUICK)
    key = "accuracy" if task == "multiclass" else "mae"
    assert result.headline == key
    for r in result.splits:
        f = frames[r.split]
        want = (skm.accuracy_score(f["y_true"].astype(str), f["y_pred"].astype(str))
                if task == "multiclass" else
                skm.mean_absolute_error(f["y_true"], f["y_pred"]))
        assert r.metrics[key].value == pytest.approx(want, abs=1e-9)
    assert result.fold_sentence.startswith("The 3 folds agree within")
    assert result.stress_sentences == ()


# ------------------------------------------------------------------ sentence rules
def test_fold_sentence_rules():
    assert fold_sentence("roc_auc", [0.842, 0.851, 0.848, 0.845, 0.850]) == (
        "The 5 folds agree within 0.01 ROC AUC (from 0.842 to 0.851).")
    # "within" rounds up, so it stays true: 0.0312 is within 0.04, not 0.03
    assert "within 0.04 ROC AUC" in fold_sentence("roc_auc", [0.80, 0.8312])
    assert fold_sentence("roc_auc", [0.8]) == ""  # fewer than 2 folds: say nothing
    assert fold_sentence("roc_auc", []) == ""
    assert fold_sentence("roc_auc", [0.8, float("nan")]) == ""
    assert fold_sentence("mae", [3.0, 3.42], "days") == (
        "The 2 folds agree within 0.5 days mean absolute error (from 3.0 days to 3.4 days).")
    assert fold_sentence("accuracy", [0.9, 0.9]) == "The 2 folds give the same accuracy, 0.900."


def test_stress_sentence_rules():
    ref = {"roc_auc": Interval(0.861, 0.85, 0.87), "recall": Interval(0.82, 0.8, 0.84)}
    hit = {"roc_auc": Interval(0.829, 0.81, 0.84), "recall": Interval(0.74, 0.72, 0.76)}
    s = stress_sentence("with 10% of values missing", "stress-missing", ref, hit,
                        ("roc_auc", "recall"))
    assert s == ("With 10% of values missing, ROC AUC falls from 0.861 to 0.829 and recall "
                 "falls from 0.820 to 0.740 (compared with the 'test' split).")
    same = stress_sentence("", "stress-x", ref, ref, ("roc_auc",))
    assert same == ("On the 'stress-x' stress set, ROC AUC stays at 0.861 (compared with the "
                    "'test' split).")
    up = stress_sentence("with noise added.", "s", ref,
                         {"roc_auc": Interval(0.9, 0.89, 0.91)}, ("roc_auc", "recall"),
                         change=Difference("roc_auc", 0.861, 0.9, 0.039, -0.01, 0.08))
    assert up.startswith("With noise added, ROC AUC rises from 0.861 to 0.900 (compared")
    assert "within what chance alone could give (95% CI" in up
    real = stress_sentence("with noise", "s", ref, hit, ("roc_auc",),
                           change=Difference("roc_auc", 0.861, 0.829, -0.032, -0.04, -0.02))
    assert "more than chance alone would give" in real
    assert stress_sentence("x", "s", ref, {}, ("roc_auc",)) == ""


# ------------------------------------------------------------------ the format
def _registry(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 120)
    s = np.clip(y * 0.3 + rng.random(120) * 0.7, 0, 1)
    log_model(tmp_path, "a", "binary", positive_label=1)
    log_model(tmp_path, "b", "binary", positive_label=1)
    for m in ("a", "b"):
        log_model_version(tmp_path, m, y_true=y, y_score=s)
        log_folds(tmp_path, m, 1, [{"y_true": y[:60], "y_score": s[:60]},
                                   {"y_true": y[60:], "y_score": s[60:]}])
        log_stress(tmp_path, m, 1, "noisy", "with noise added", y_true=y,
                   y_score=np.clip(s + rng.normal(0, 0.2, 120), 0, 1))
    return y, s


def test_writer_logs_folds_and_stress_splits_with_their_metadata(tmp_path):
    _registry(tmp_path)
    v = FolderSource(tmp_path).list_versions("a").items[0]
    assert v.splits == ("fold-1", "fold-2", "noisy", "test")
    assert split_info(v, "noisy") == SplitInfo("stress", "with noise added")
    assert split_info(v, "fold-2") == SplitInfo("fold")
    assert split_info(v, "test") == SplitInfo("test")
    with pytest.raises(ValueError, match="splits.x.kind"):
        log_evaluation(tmp_path, "a", 1, "x", y_true=[0, 1], y_score=[0.1, 0.2], kind="odd")
    with pytest.raises(ValueError, match="at least 2 folds"):
        log_folds(tmp_path, "a", 1, [{"y_true": [0, 1], "y_score": [0.1, 0.2]}])
    with pytest.raises(ValueError, match="needs a description"):
        log_stress(tmp_path, "a", 1, "y", " ", y_true=[0, 1], y_score=[0.1, 0.2])


def test_kind_follows_the_name_without_metadata(tmp_path):
    _registry(tmp_path)
    v = FolderSource(tmp_path).list_versions("a").items[0]
    bare = type(v)(model="a", version=1, splits=v.splits)
    assert split_info(bare, "fold-12") == SplitInfo("fold")
    assert split_info(bare, "stress-missing-values") == SplitInfo("stress", "missing values")
    assert split_info(bare, "2026-q1") == SplitInfo("other")


def test_a_malformed_split_entry_is_a_problem_on_that_model_only(tmp_path):
    _registry(tmp_path)
    path = tmp_path / "models" / "a" / "versions" / "1" / "version.json"
    doc = json.loads(path.read_text())
    doc["splits"]["noisy"] = {"kind": "chaos", "description": "with noise added"}
    doc["splits"]["fold-1"] = "not an object"
    path.write_text(json.dumps(doc))
    src = FolderSource(tmp_path)
    listing = src.list_versions("a")
    texts = [str(p) for p in listing.problems]
    assert any("models/a/versions/1/version.json" in t and "splits.noisy.kind" in t
               and "chaos" in t for t in texts), texts
    assert any("splits.fold-1" in t for t in texts), texts
    assert all(p.model == "a" for p in listing.problems)
    v = listing.items[0]
    assert v.version == 1 and len(v.splits) == 4  # the version and its rows are still there
    assert "noisy" not in v.split_info  # the bad entry is dropped; the name decides
    assert split_info(v, "noisy") == SplitInfo("other")
    assert src.list_versions("b").problems == ()
    assert split_info(src.list_versions("b").items[0], "noisy").kind == "stress"


# ------------------------------------------------------------------ the figure and the page
def test_splits_figure_plots_each_split_with_its_interval(deck):
    result = version_validation(deck, "customer-churn", 3, 0.5)
    fig = splits_figure(result)
    assert fig.layout.title.text.startswith("ROC AUC on each evaluation split")
    assert fig.layout.xaxis.title.text == "ROC AUC"
    assert fig.layout.yaxis.title.text == "Evaluation split"
    names = {t.name: t for t in fig.data}
    assert set(names) == {"Main test split", "Cross-validation fold", "Stress set"}
    folds = names["Cross-validation fold"]
    assert list(folds.y) == [f"fold-{k}" for k in range(1, 6)]
    by_split = {r.split: r.metrics["roc_auc"] for r in result.splits}
    for x, y, up, down in zip(folds.x, folds.y, folds.error_x.array, folds.error_x.arrayminus):
        assert x == by_split[y].value
        assert x + up == pytest.approx(by_split[y].high)
        assert x - down == pytest.approx(by_split[y].low)
    assert len({t.marker.color for t in fig.data}) == 3
    assert len({t.marker.symbol for t in fig.data}) == 3


@pytest.fixture(scope="module")
def app():
    from app import Settings, create_app
    return create_app(Settings(registry=str(SAMPLE_REGISTRY)))


def _find(component, id_):
    if getattr(component, "id", None) == id_:
        return component
    children = getattr(component, "children", None)
    for c in (children if isinstance(children, (list, tuple)) else [children]):
        if c is not None and not isinstance(c, (str, int, float)):
            found = _find(c, id_)
            if found is not None:
                return found
    return None


def _text(component) -> str:
    if component is None:
        return ""
    if isinstance(component, (str, int, float)):
        return str(component)
    children = getattr(component, "children", None)
    if isinstance(children, (list, tuple)):
        return " ".join(_text(c) for c in children)
    return _text(children)


def test_model_page_shows_the_validation_section(app):
    with app.server.test_request_context("/models/customer-churn"):
        page = dash.page_registry["pages.model"]["layout"](name="customer-churn")
    section = _find(page, "validation")
    assert section is not None
    assert "Validation and robustness of version 3" in _text(section)
    sentences = _text(_find(section, "validation-sentences"))
    assert "The 5 folds agree within" in sentences
    assert "With 10% of values missing, ROC AUC falls from" in sentences
    assert _find(section, "validation-chart") is not None
    table = _text(_find(section, "validation-table"))
    assert "fold-5" in table and "stress-missing" in table and "95% CI" in table
    # the rest of the page still shows the main test split
    evaluation = _text(_find(page, "evaluation"))
    assert "5,000 evaluation customers" in evaluation
    # the challenger has one split: no section
    with app.server.test_request_context("/models/customer-churn?version=4"):
        page4 = dash.page_registry["pages.model"]["layout"](name="customer-churn", version="4")
    assert _find(page4, "validation") is None


def test_the_main_split_shows_the_same_intervals_as_the_cards(deck):
    from analysis.evaluation import threshold_result, version_evaluation
    result = version_validation(deck, "customer-churn", 3, 0.4)
    main = result.splits[0].metrics
    assert main["roc_auc"] == version_evaluation(deck, "customer-churn", 3).metrics["roc_auc"]
    cards = threshold_result(deck, "customer-churn", 3, 0.4).metrics
    assert main["recall"] == cards["recall"] and main["precision"] == cards["precision"]


def test_the_model_report_carries_the_same_section(deck):
    from reports.model_report import model_report
    report = model_report(deck, "customer-churn")
    (section,) = [s for s in report.sections if s.title == "Validation and robustness"]
    result = version_validation(deck, "customer-churn", 3, 0.5)
    assert section.takeaway == result.fold_sentence
    assert section.numbers[0] == result.stress_sentences[0]
    assert any(n.startswith("fold-1 (fold, 3,000 rows): ROC AUC") for n in section.numbers)
    assert section.figure.layout.title.text.startswith("ROC AUC on each evaluation split")
