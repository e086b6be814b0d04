"""How numbers are presented when the data are thin: digits of paired intervals, rows too few
to judge, undefined metrics with their reason, parameter importance that cannot be told from
noise. Numbers are checked against scikit-learn / scipy on the same rows."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import analysis.run_importance as ri
import analysis.run_table as rt
import components.experiment_figures as ef
from analysis.compare import segment_differences
from analysis.evaluation import segment_metrics
from analysis.language import (
    delta_digits, difference_digits, format_delta, format_difference, interval_text,
    not_judged_caption, not_judged_text,
)
from analysis.monitoring import (
    monitoring_report, monitoring_sentences, performance_caption, window_text,
)
from analysis.uncertainty import MIN_JUDGE_ROWS, SECONDARY, too_few_rows
from components.evaluation_figures import segment_delta_figure, segment_figure
from components.monitoring_figures import performance_over_time
from registry.model import Model


# ------------------------------------------------------------------ paired intervals: digits
def _bounds(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"[+-]\d+(?:\.\d+)?", text)]


@pytest.mark.parametrize("metric, low, high", [
    ("accuracy", 0.0003, 0.065),  # was "+0.0 to +6.5" points beside "v2 better"
    ("accuracy", -0.065, -0.00049),
    ("roc_auc", 0.0004, 0.02),
    ("roc_auc", 1e-7, 0.02),
    ("mae", 0.001, 0.9),
    ("mape", 0.0002, 0.01),
])
def test_a_bound_that_excludes_zero_is_never_shown_as_zero(metric, low, high):
    text = interval_text(metric, low, high, "kg", difference=True)
    shown = _bounds(text)
    assert len(shown) == 2 and 0.0 not in shown, text
    assert np.sign(shown[0]) == np.sign(low) and np.sign(shown[1]) == np.sign(high)


def test_usual_digits_when_they_suffice_and_the_difference_matches_its_interval():
    assert interval_text("accuracy", 0.02, 0.065, difference=True) == "95% CI +2.0 to +6.5"
    assert interval_text("roc_auc", 0.0, 0.065, difference=True) == "95% CI +0.000 to +0.065"
    assert interval_text("accuracy", 0.0003, 0.065, difference=True) == "95% CI +0.03 to +6.50"
    d = difference_digits("accuracy", 0.0004, 0.0003, 0.065)
    assert format_difference("accuracy", 0.0004, "", d) == "+0.04 points"
    assert interval_text("accuracy", 0.0003, 0.065, difference=True, digits=d) == \
        "95% CI +0.03 to +6.50"
    assert format_delta("roc_auc", 0.00004, "", delta_digits("roc_auc", 0.00004, 1e-5)) == \
        "+0.00004"
    assert format_delta("roc_auc", 0.012) == "+0.012"


# ------------------------------------------------------------------ rows too few to judge
BINARY = Model("churn", "binary", entity="customer")


@pytest.fixture(scope="module")
def segmented() -> pd.DataFrame:
    """400 rows in region big (judged), 5 in tiny (too few), 40 in lopsided (only
    negatives: ROC AUC undefined)."""
    rng = np.random.default_rng(3)
    y = np.r_[rng.integers(0, 2, 400), [0, 1, 0, 1, 1], np.zeros(40, int)]
    score = np.clip(0.35 * y + rng.random(len(y)) * 0.65, 0, 1)
    region = ["big"] * 400 + ["tiny"] * 5 + ["lopsided"] * 40
    return pd.DataFrame({"y_true": y, "y_score": score, "segment.region": region})


def test_the_judging_limit_is_one_rule():
    assert too_few_rows(MIN_JUDGE_ROWS) == ""
    assert too_few_rows(5) == "5 rows: too few rows to judge"
    assert too_few_rows(1) == "1 row: too few rows to judge"
    assert f"fewer than {MIN_JUDGE_ROWS} labelled rows is not judged" in not_judged_caption()


def test_a_small_segment_shows_its_count_not_an_interval(segmented):
    seg = segment_metrics(BINARY, segmented, settings=SECONDARY).set_index("value")
    assert seg.loc["tiny", "rows"] == 5
    assert seg.loc["tiny", "note"] == "5 rows: too few rows to judge"
    assert seg.loc[["tiny", "lopsided"], ["estimate", "low", "high"]].isna().all().all()
    assert seg.loc["lopsided", "note"] == ("ROC AUC is undefined here: it needs both outcomes, "
                                           "and all 40 rows are negative")
    big = segmented.loc[segmented["segment.region"] == "big"]
    assert seg.loc["big", "estimate"] == pytest.approx(roc_auc_score(big["y_true"],
                                                                      big["y_score"]))
    assert seg.loc["big", "low"] < seg.loc["big", "estimate"] < seg.loc["big", "high"]
    assert not seg["weakest"].any()  # one judged value: nothing to be weakest against
    text = not_judged_text(seg.reset_index())
    assert text == ("Not judged: region = lopsided (ROC AUC is undefined here: it needs both "
                    "outcomes, and all 40 rows are negative); region = tiny (5 rows: too few "
                    "rows to judge).")


def test_the_segment_chart_draws_no_interval_for_a_group_not_judged(segmented):
    seg = segment_metrics(BINARY, segmented, settings=SECONDARY)
    fig = segment_figure(seg, "ROC AUC")
    dots, crosses = fig.data
    assert list(dots.y) == ["region: big"] and len(dots.error_x.array) == 1
    assert list(crosses.y) == ["region: lopsided", "region: tiny"]
    assert crosses.error_x.array is None and crosses.name == "not judged"
    assert "5 rows: too few rows to judge" in crosses.text
    assert "0.000" not in str(crosses.text)


def test_segment_differences_skip_groups_too_small_to_judge(segmented):
    other = segmented.assign(y_score=segmented["y_score"][::-1].to_numpy())
    seg = segment_differences(BINARY, segmented, other, 0.5, SECONDARY).set_index("value")
    assert seg.loc["tiny", "note"] == "5 rows: too few rows to judge"
    assert seg.loc["tiny", ["value_a", "delta", "low", "high"]].isna().all()
    assert not seg.loc["tiny", "significant"]
    big = segmented["segment.region"] == "big"
    assert seg.loc["big", "delta"] == pytest.approx(
        roc_auc_score(other.loc[big, "y_true"], other.loc[big, "y_score"])
        - roc_auc_score(segmented.loc[big, "y_true"], segmented.loc[big, "y_score"]))
    fig = segment_delta_figure(seg.reset_index(), "ROC AUC", 1, 2)
    assert list(fig.data[0].y) == ["region: big"]
    big_row = seg.loc["big"]
    assert fig.data[0].customdata[0][1] == (
        f"{format_difference('roc_auc', big_row['delta'])} "
        f"({interval_text('roc_auc', big_row['low'], big_row['high'], difference=True)})")
    assert list(fig.data[1].y) == ["region: lopsided", "region: tiny"]


def test_production_windows_say_why_they_are_not_judged():
    rng = np.random.default_rng(5)
    ref = pd.DataFrame({"y_true": rng.integers(0, 2, 300), "y_score": rng.random(300)})
    months = {"2026-01-15": (200, None), "2026-03-15": (12, None),  # 12 labelled rows
              "2026-05-15": (60, 0), "2026-07-15": (50, "none")}  # one class; no labels
    parts = []
    for day, (n, only) in months.items():
        y = rng.integers(0, 2, n).astype(float) if only is None else (
            np.zeros(n) if only == 0 else np.full(n, np.nan))
        parts.append(pd.DataFrame({"timestamp": pd.Timestamp(day, tz="UTC"), "y_true": y,
                                   "y_score": rng.random(n)}))
    prod = pd.concat(parts, ignore_index=True)
    report = monitoring_report(BINARY, ref, prod, None, "roc_auc")
    p = report.performance.set_index("label")
    jan = prod.loc[prod["timestamp"].dt.month == 1]
    assert p.loc["Jan 2026", "value"] == pytest.approx(roc_auc_score(jan["y_true"],
                                                                     jan["y_score"]))
    assert p.loc["Jan 2026", "note"] == ""
    assert p.loc["Mar 2026", "note"] == "12 rows: too few rows to judge"
    assert p.loc["May 2026", "note"] == ("ROC AUC is undefined: it needs both outcomes, and "
                                         "all 60 rows are negative")
    assert p.loc["Jul 2026", "note"] == "no labels yet"
    assert p.loc[["Mar 2026", "May 2026"], ["value", "low", "high"]].isna().all().all()
    rows = list(report.performance.itertuples())
    assert window_text(rows[1], "roc_auc") == "Mar 2026: not judged (12 rows: too few rows " \
                                              "to judge)"
    assert window_text(rows[0], "roc_auc").startswith("Jan 2026: 0.")
    said = monitoring_sentences(report)
    assert said[0] == ("ROC AUC in May 2026 is not judged (ROC AUC is undefined: it needs both "
                       "outcomes, and all 60 rows are negative).")
    assert all("–" not in s for s in said)
    fig = performance_over_time(report.performance, "ROC AUC", report.reference)
    assert list(fig.data[0].x) == ["Jan 2026"]
    kinds = {t.name: list(t.x) for t in fig.data[1:]}
    assert kinds == {"no labels yet": ["Jul 2026"], "too few rows to judge": ["Mar 2026"],
                     "metric undefined": ["May 2026"]}
    assert not_judged_caption() in performance_caption("ROC AUC", "month")


# ------------------------------------------------------------------ parameter importance
def _runs(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` runs where auc depends strongly on depth and not at all on seed_param."""
    rng = np.random.default_rng(seed)
    depth = rng.integers(1, 12, n).astype(float)
    return pd.DataFrame({"run_id": [f"r{i:03d}" for i in range(n)],
                         "params.depth": depth,
                         "params.seed_param": rng.random(n),
                         "metrics.auc": 0.6 + 0.03 * depth + rng.normal(0, 0.01, n)})


def test_importance_ranks_only_what_every_fold_confirms_equal_to_scikit_learn():
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.inspection import permutation_importance
    from sklearn.model_selection import KFold
    f = _runs(60)
    params = ["params.depth", "params.seed_param"]
    imp = ri.parameter_importance(f, params, "metrics.auc", n_estimators=30, n_repeats=3)
    data = f.sort_values("run_id")
    X, y = data[params].to_numpy(), data["metrics.auc"].to_numpy()
    folds = []
    for train, test in KFold(5, shuffle=True, random_state=0).split(X):
        rf = RandomForestRegressor(n_estimators=30, random_state=0, n_jobs=1).fit(X[train],
                                                                                 y[train])
        folds.append(permutation_importance(rf, X[test], y[test], scoring="r2", n_repeats=3,
                                            random_state=0, n_jobs=1).importances.mean(axis=1))
    folds = np.array(folds)
    got = imp.table.set_index("param")
    for i, name in enumerate(["depth", "seed_param"]):
        assert got.loc[name, "low"] == pytest.approx(folds[:, i].min(), abs=1e-12)
        assert got.loc[name, "high"] == pytest.approx(folds[:, i].max(), abs=1e-12)
        assert got.loc[name, "clear"] == bool(folds[:, i].min() > 0)
    assert imp.ranked["param"].tolist() == ["depth"]
    assert imp.sentence.startswith("Across these 60 runs, depth matters most for auc")
    assert imp.noise_note.startswith("Not ranked (not above zero in every fold), so these 60 "
                                     "runs cannot tell their effect from noise: seed_param.")
    fig = ef.importance_figure(imp)
    assert list(fig.data[0].y) == ["depth"]
    assert "1 that cannot be told from noise not drawn" in fig.layout.title.text


def test_too_few_runs_are_said_plainly_and_nothing_is_ranked():
    # 24 runs of the sample's sweep: every importance's fold range covers zero
    from registry import SAMPLE_REGISTRY, open_source
    table = rt.prepare_runs(open_source(str(SAMPLE_REGISTRY)).runs("churn-sweep").items,
                            "churn-sweep")
    sub = table.frame.sample(24, random_state=1)
    imp = ri.parameter_importance(sub, table.params, "metrics.val_roc_auc")  # as the page
    assert imp.ranked.empty and not imp.table["clear"].any()
    assert imp.sentence.startswith("Across these 24 runs the parameters explain little of "
                                   "val_roc_auc")
    other = ri.parameter_importance(table.frame.sample(24, random_state=3), table.params,
                                    "metrics.val_roc_auc")
    assert other.ranked.empty and other.sentence.startswith(
        "These 24 runs are too few to tell any parameter's effect on val_roc_auc from noise")
    assert (imp.table["importance"] < 0).any()  # and a negative one is explained in words
    assert "negative importance" in imp.noise_note and "chance" in imp.noise_note
    box = str(ef.importance_box(imp))
    assert "cmp-importance-table" in box and "'cmp-importance'" not in box  # no ranking chart
    assert "no: the parameters together explain too little of the metric" in box
    assert "no: not above zero in every fold" in str(ef.importance_box(other))
    # with fewer than five folds (under 20 runs) even a strong effect is not ranked
    small = ri.parameter_importance(_runs(16), ["params.depth", "params.seed_param"],
                                    "metrics.auc", n_estimators=30)
    assert small.ranked.empty and set(small.table["why"]) == {"too few runs for 5 folds"}
    assert small.sentence == ("These 16 runs are too few to tell any parameter's effect on auc "
                              "from noise: ranking needs 5 folds of at least 4 runs, so at "
                              "least 20 runs with auc. None is ranked.")


# ------------------------------------------------------------------ undefined, in words
def test_a_class_never_predicted_has_no_precision_bar_but_a_reason():
    from sklearn.metrics import precision_score, recall_score

    from analysis.multiclass import multiclass_details, per_class_notes
    from components.evaluation_figures import per_class_figure
    frame = pd.DataFrame({"y_true": ["a", "a", "b", "b", "c", "c"],
                          "y_pred": ["a", "b", "b", "a", "a", "b"]})  # c never predicted
    pc = multiclass_details(frame).per_class.set_index("label")
    want_p = precision_score(frame["y_true"], frame["y_pred"], labels=["a", "b", "c"],
                             average=None, zero_division=np.nan)
    want_r = recall_score(frame["y_true"], frame["y_pred"], labels=["a", "b", "c"],
                          average=None, zero_division=np.nan)
    np.testing.assert_allclose(pc["precision"].to_numpy(float), want_p)  # nan for c
    np.testing.assert_allclose(pc["recall"].to_numpy(float), want_r)
    assert np.isnan(pc.loc["c", "precision"]) and pc.loc["c", "recall"] == 0
    notes = per_class_notes(pc.reset_index())
    assert notes == ["Class c is never predicted, so its precision is undefined (not 0%): "
                     "there is no prediction of it to be right or wrong."]
    fig = per_class_figure(pc.reset_index())
    words = [t for t in fig.data if t.type == "scatter"]
    assert len(words) == 1 and list(words[0].x) == ["c"] and list(words[0].text) == ["undefined"]
    assert "never predicted" in words[0].hovertemplate
    assert "0.0%" not in str(fig.data[0].y)
    # a class predicted but never true: recall undefined
    other = pd.DataFrame({"y_true": ["a", "a", "b"], "y_pred": ["a", "c", "b"]})
    assert "Class c never occurs in these rows, so its recall is undefined" in \
        per_class_notes(multiclass_details(other).per_class)[0]


def test_mape_with_a_true_zero_says_why_on_compare_and_the_model_page():
    from sklearn.metrics import mean_absolute_error

    from analysis.compare import compare
    from analysis.evaluation import evaluate
    from analysis.metrics import cannot_compute
    model = Model("p", "regression", target_unit="points")
    rng = np.random.default_rng(2)
    y = np.r_[0.0, 0.0, rng.normal(50, 10, 98)]
    a = pd.DataFrame({"y_true": y, "y_pred": y + rng.normal(0, 3, 100)})
    b = pd.DataFrame({"y_true": y, "y_pred": y + rng.normal(0, 2, 100)})
    comp = compare(model, 1, a, 2, b, settings=SECONDARY)
    assert "mape" not in comp.differences
    assert comp.differences["mae"].value_b == pytest.approx(mean_absolute_error(y, b["y_pred"]))
    why = "2 of the 100 true values are 0, and an error as a percentage of 0 is undefined"
    assert comp.unavailable == {"mape": why}
    assert cannot_compute("mape", why) == f"MAPE cannot be computed: {why}."
    assert evaluate(model, 1, a, settings=SECONDARY).unavailable == {"mape": why}


def test_one_class_rows_name_the_class_not_a_dash():
    from analysis.metrics import why_undefined
    frame = pd.DataFrame({"y_true": [0] * 40, "y_score": np.linspace(0, 1, 40)})
    assert why_undefined(BINARY, frame, "roc_auc") == ("it needs both outcomes, and all 40 "
                                                       "rows are negative")
    assert why_undefined(BINARY, frame.head(1), "roc_auc") == ("it needs both outcomes, and "
                                                               "the one row is negative")



# ------------------------------------------------------------------ the pages and reports
@pytest.fixture(scope="module")
def thin_app(tmp_path_factory):
    """A registry of thin cases: a yes/no model with a 5-row segment (two versions on the same
    rows), a category model that never predicts one class, a number model with true zeros."""
    import dash

    from app import Settings, create_app
    from registry.writer import log_model, log_model_version
    reg = tmp_path_factory.mktemp("thin") / "registry"
    rng = np.random.default_rng(7)
    y = np.r_[rng.integers(0, 2, 300), [0, 1, 0, 1, 1]]
    region = ["big"] * 300 + ["tiny"] * 5
    log_model(reg, "thin-bin", "binary", entity="customer")
    for v in (1, 2):
        score = np.clip(0.3 * y + rng.random(len(y)) * 0.7, 0, 1)
        log_model_version(reg, "thin-bin", y_true=y, y_score=score,
                          segments={"region": region}, version=v)
    log_model(reg, "thin-cat", "multiclass")
    truth = np.array(["a", "b", "c"] * 40)
    pred = np.where(truth == "c", "a", truth)  # c is never predicted
    log_model_version(reg, "thin-cat", y_true=truth, y_pred=pred, version=1)
    log_model(reg, "thin-reg", "regression", target_unit="points")
    target = np.r_[0.0, 0.0, rng.normal(50, 10, 98)]
    for v in (1, 2):
        log_model_version(reg, "thin-reg", y_true=target,
                          y_pred=target + rng.normal(0, 3, 100), version=v)
    app = create_app(Settings(registry=str(reg)))

    def render(page, **query):
        with app.server.test_request_context("/"):
            return str(dash.page_registry[page]["layout"](**query))
    return app, render


def test_model_page_and_report_say_what_is_not_judged(thin_app):
    from pages._data import deck
    from reports.model_report import model_report
    app, render = thin_app
    page = render("pages.model", name="thin-bin", version="2")
    assert "Not judged: region = tiny (5 rows: too few rows to judge)." in page
    assert "fewer than 30 labelled rows is not judged" in page
    cat = render("pages.model", name="thin-cat")
    assert "Class c is never predicted, so its precision is undefined (not 0%)" in cat
    with app.server.test_request_context("/"):
        rep = model_report(deck(), "thin-cat", 1)
        text = " ".join(rep.summary) + " ".join(" ".join(s.numbers) for s in rep.sections)
        assert "precision undefined" in text and "Class c is never predicted" in text
        bin_rep = model_report(deck(), "thin-bin", 2)
        lines = [n for s in bin_rep.sections for n in s.numbers]
        assert "Not judged: region = tiny (5 rows: too few rows to judge)." in lines


def test_compare_page_and_report_list_what_cannot_be_computed(thin_app):
    from pages._data import deck
    from reports.compare_report import compare_report
    app, render = thin_app
    page = render("pages.compare", model="thin-reg", a="1", b="2")
    why = "2 of the 100 true values are 0, and an error as a percentage of 0 is undefined"
    assert f"MAPE cannot be computed: {why}." in page
    with app.server.test_request_context("/"):
        rep = compare_report(deck(), "thin-reg", 1, 2)
    assert f"MAPE cannot be computed: {why}." in [n for s in rep.sections for n in s.numbers]
    seg = render("pages.compare", model="thin-bin", a="1", b="2")
    assert "Not judged: region = tiny (5 rows: too few rows to judge)." in seg


def test_compare_table_never_shows_a_zero_bound_beside_better(thin_app):
    from analysis.compare import Comparison
    from analysis.uncertainty import Difference
    app, _ = thin_app
    import pages.compare as pc
    comp = Comparison("m", 1, 2, 0.5, 500, {
        "accuracy": Difference("accuracy", 0.80, 0.833, 0.033, 0.000004, 0.065)})
    table = str(pc._metric_table(comp, BINARY, 1, 2))
    assert "+0.0004 to +6.5000" in table and "+3.3000 points" in table and "v2 better" in table


def test_precision_when_nothing_is_flagged_is_undefined_not_zero(thin_app):
    from sklearn.metrics import precision_score

    from analysis.evaluation import at_threshold
    y = np.array([0, 1, 0, 1, 1, 0])
    s = np.array([0.1, 0.4, 0.2, 0.6, 0.3, 0.5])
    tr = at_threshold(y, s, 0.9)
    assert tr.flagged == 0 and np.isnan(precision_score(y, s >= 0.9, zero_division=np.nan))
    assert set(tr.undefined) == {"precision"}
    app, _ = thin_app
    import pages.model as pm
    cards = str(pm._threshold_cards(tr, BINARY))
    assert "Cannot be computed: the model flags no case at this threshold" in cards
    assert "0.000" not in cards.split("card-precision")[0]  # the precision card: no 0
    assert at_threshold(y, s, 0.5).undefined == {}


def test_health_says_which_later_windows_are_unlabelled_and_which_have_few_labels():
    from analysis.portfolio import _later_windows
    assert _later_windows(0, 0, "month", 200) == ""
    assert _later_windows(1, 0, "month", 200) == " The newest month has no labels yet."
    assert _later_windows(2, 0, "week", 200) == " The 2 newest weeks have no labels yet."
    assert _later_windows(0, 1, "month", 200) == \
        " 1 later month has too few labels to judge (under 200)."
    assert _later_windows(1, 2, "month", 200) == \
        " 2 later months have too few labels to judge (under 200 each), and 1 has none yet."
