"""Experiments: the server-side runs table, curve maths, differences, parameter importance
(against scikit-learn and scipy computed directly), the figures, and the pages' helpers."""
from __future__ import annotations

import json
import time

import dash
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.ensemble import RandomForestRegressor
from sklearn.inspection import permutation_importance
from sklearn.model_selection import KFold

import analysis.run_curves as rc
import analysis.run_importance as ri
import analysis.run_selection as rs
import analysis.run_table as rt
from analysis.expressions import ExpressionError
from app import Settings, create_app
from components import experiment_figures as ef
from registry import SAMPLE_REGISTRY, open_source
from registry.writer import log_run

SWEPT = {"learning_rate", "max_depth", "max_leaf_nodes", "min_samples_leaf",
         "l2_regularization"}


@pytest.fixture(scope="module")
def sweep():
    src = open_source(str(SAMPLE_REGISTRY))
    return rt.prepare_runs(src.runs("churn-sweep").items, "churn-sweep"), \
        src.metric_history("churn-sweep")


@pytest.fixture
def small() -> rt.RunsTable:
    raw = pd.DataFrame({
        "run_id": ["r1", "r2", "r3", "r4"], "experiment": "e", "name": ["a", "b", "b", "Zed"],
        "status": "FINISHED",
        "start_time": pd.to_datetime(["2026-01-01", "2026-01-03", "2026-01-02", None], utc=True),
        "end_time": pd.NaT,
        "params.depth": ["3", "10", "6", None], "params.opt": ["adam", "sgd", "adam", "adam"],
        "params.flag": [True, False, True, True], "params.mixed": ["1", "auto", "2", "3"],
        "metrics.auc": [0.9, np.nan, 0.8, 0.95], "metrics.loss": [0.3, 0.2, 0.5, 0.1],
        "tags.who": ["ann", "bob", None, "ann"]})
    return rt.prepare_runs(raw, "e")


# ------------------------------------------------------------------ table
def test_prepare_coerces_numeric_params_and_orders_newest_first(small):
    f = small.frame
    assert f["run_id"].tolist() == ["r2", "r3", "r1", "r4"]  # no start time last
    assert f["params.depth"].dtype == float and f["params.depth"].tolist()[:3] == [10, 6, 3]
    assert f["params.opt"].dtype == object
    assert set(f["params.flag"]) == {"True", "False"}
    assert f.loc[f["run_id"] == "r2", "params.mixed"].item() == "auto"  # not all numbers
    assert small.numeric_params == ("params.depth",)
    assert small.varying_params() == ("params.depth", "params.flag", "params.mixed",
                                      "params.opt")


def test_select_rows_filters_and_sorts_like_pandas(small):
    pos = rt.select_rows(small, "params.depth >= 3 and opt == 'adam'", "",
                         sort_model=[{"colId": "metrics.auc", "sort": "asc"}])
    assert small.frame["run_id"].to_numpy()[pos].tolist() == ["r3", "r1"]
    pos = rt.select_rows(small, "", "ANN", sort_model=[{"colId": "name", "sort": "desc"}])
    assert small.frame["run_id"].to_numpy()[pos].tolist() == ["r4", "r1"]  # Zed before a
    for direction in ("asc", "desc"):  # missing values stay last either way
        pos = rt.select_rows(small, sort_model=[{"colId": "metrics.auc", "sort": direction}])
        assert small.frame["run_id"].to_numpy()[pos][-1] == "r2"
    with pytest.raises(ExpressionError):
        rt.select_rows(small, "depth >")
    with pytest.raises(ValueError, match="no column 'nope' to sort by"):
        rt.select_rows(small, sort_model=[{"colId": "nope", "sort": "asc"}])


@pytest.mark.parametrize("model, expected", [
    ({"metrics.auc": {"filterType": "number", "type": "greaterThan", "filter": 0.85}},
     ["r1", "r4"]),
    ({"metrics.auc": {"filterType": "number", "type": "inRange", "filter": 0.8,
                      "filterTo": 0.9}}, ["r3", "r1"]),
    ({"metrics.auc": {"filterType": "number", "type": "blank"}}, ["r2"]),
    ({"metrics.auc": {"filterType": "number", "type": "notEqual", "filter": 0.9}},
     ["r3", "r4"]),
    ({"name": {"filterType": "text", "type": "contains", "filter": "B"}}, ["r2", "r3"]),
    ({"name": {"filterType": "text", "type": "startsWith", "filter": "z"}}, ["r4"]),
    ({"tags.who": {"filterType": "text", "type": "blank"}}, ["r3"]),
    ({"start_time": {"filterType": "text", "type": "contains", "filter": "2026-01-0"}},
     ["r2", "r3", "r1"]),
    ({"params.depth": {"filterType": "number", "operator": "OR", "conditions": [
        {"filterType": "number", "type": "equals", "filter": 3},
        {"filterType": "number", "type": "greaterThan", "filter": 8}]}}, ["r2", "r1"]),
    ({"params.depth": {"filterType": "number", "type": "lessThan", "filter": 8},
      "params.opt": {"filterType": "text", "type": "equals", "filter": "adam"}},
     ["r3", "r1"]),
])
def test_grid_column_filters(small, model, expected):
    pos = rt.select_rows(small, filter_model=model)
    assert small.frame["run_id"].to_numpy()[pos].tolist() == expected


def test_grid_filter_errors(small):
    with pytest.raises(ValueError, match="no column"):
        rt.grid_filter_mask(small, {"_search": {"filterType": "text", "type": "contains"}})
    with pytest.raises(ValueError, match="unknown number filter"):
        rt.grid_filter_mask(small, {"metrics.auc": {"filterType": "number", "type": "near"}})


def test_row_block_sends_only_shown_columns_as_json(small):
    pos = rt.select_rows(small)
    rows = rt.row_block(small, pos, 0, 3, ["metrics.auc", "tags.who", "_search", "bogus"])
    assert [r["run_id"] for r in rows] == ["r2", "r3", "r1"]
    assert set(rows[0]) == {"run_id", "experiment", "name", "status", "start_time",
                            "metrics.auc", "tags.who"}
    assert rows[0]["metrics.auc"] is None and rows[1]["tags.who"] is None
    assert rows[0]["start_time"] == "2026-01-03 00:00"
    json.dumps(rows, allow_nan=False)
    assert len(rt.row_block(small, pos, 2, 10_000, [])) == 2


def test_selection_links_round_trip_without_storage():
    short = ["sweep-001", "sweep-002"]
    assert rs.encode_runs(short) == "sweep-001,sweep-002"
    many = [f"{i:032x}" for i in range(1000)] + ["odd id/with,comma"]
    packed = rs.encode_runs(many)
    assert packed.startswith("~") and all(c.isalnum() or c in "-_~" for c in packed)
    assert rs.decode_runs(packed) == many
    assert rs.decode_runs("") == [] and rs.decode_runs("a,,a,b") == ["a", "b"]
    for bad in ("~!!notbase64", "~" + "A" * 40):
        with pytest.raises(ValueError, match="damaged"):
            rs.decode_runs(bad)
    with pytest.raises(ValueError, match="at most"):
        rs.decode_runs(rs.encode_runs([f"r{i}" for i in range(rt.MAX_COMPARE + 1)]))
    import base64
    import zlib
    bomb = "~" + base64.urlsafe_b64encode(zlib.compress(b"[" + b" " * 20_000_000 + b"]")
                                          ).decode()
    with pytest.raises(ValueError):
        rs.decode_runs(bomb)


def test_top_runs_best_first_lowest_for_losses(small):
    everything = np.arange(len(small))
    assert rs.top_runs(small, everything, "metrics.auc", 2) == ["r4", "r1"]
    assert rs.top_runs(small, everything, "metrics.loss", 2) == ["r4", "r2"]
    assert rs.lower_is_better("metrics.val_log_loss") and not rs.lower_is_better("metrics.auc")
    assert rs.lower_is_better("rmse")


# ------------------------------------------------------------------ curves
def test_ema_matches_the_recurrence():
    x = np.random.default_rng(0).normal(size=300)
    for w in (0.0, 0.3, 0.9, 0.99):
        want = np.empty_like(x)
        want[0] = x[0]
        for t in range(1, len(x)):
            want[t] = w * want[t - 1] + (1 - w) * x[t]
        np.testing.assert_allclose(rc.ema(x, w), want, rtol=0, atol=1e-12)
    with pytest.raises(ValueError):
        rc.ema(x, 1.0)


def test_downsample_keeps_extremes_and_ends():
    y = np.sin(np.linspace(0, 20, 5000)) + np.random.default_rng(1).normal(0, 0.1, 5000)
    keep = rc.downsample_minmax(y, 200)
    assert len(keep) <= 200 and keep[0] == 0 and keep[-1] == 4999
    assert np.all(np.diff(keep) > 0)
    assert y.argmax() in keep and y.argmin() in keep
    np.testing.assert_array_equal(rc.downsample_minmax(y[:50], 200), np.arange(50))


def test_curves_are_thinned_real_points_with_smoothing(sweep):
    table, history = sweep
    sub, _ = rs.selection(table, table.frame["run_id"])
    c = rc.curves(history, sub, "val_log_loss", smoothing=0.6, max_points=1000)
    per_run = c.frame.groupby("run_id").size()
    assert per_run.max() <= 20 and set(per_run.index) == set(sub["run_id"])
    one = history[(history["run_id"] == "sweep-001") & (history["key"] == "val_log_loss")]
    one = one.sort_values("step")
    got = c.frame[c.frame["run_id"] == "sweep-001"]
    by_step = dict(zip(one["step"], one["value"]))
    assert all(by_step[s] == v for s, v in zip(got["step"], got["value"]))
    smooth = dict(zip(one["step"], rc.ema(one["value"].to_numpy(), 0.6)))
    np.testing.assert_allclose(got["smoothed"], [smooth[s] for s in got["step"]], atol=1e-12)
    assert c.points_logged == int((history["key"] == "val_log_loss").sum())


def test_group_curves_mean_and_bands(sweep):
    table, history = sweep
    sub, _ = rs.selection(table, table.frame["run_id"])
    g = rc.group_curves(history, sub, "val_log_loss", "params.max_depth", band="std")
    assert sum(n for _, n in g.groups) == 64 and len(g.groups) <= 6
    labels = rc.group_labels(sub["params.max_depth"])
    first = g.groups[0][0]
    ids = set(sub.loc[labels.to_numpy() == first, "run_id"])
    h = history[(history["key"] == "val_log_loss") & history["run_id"].isin(ids)]
    want = h.groupby("step")["value"].agg(["mean", "std", "count"])
    got = g.frame[g.frame["group"] == first].set_index("step")
    np.testing.assert_allclose(got["mean"], want["mean"], atol=1e-12)
    np.testing.assert_allclose(got["high"] - got["mean"], want["std"].fillna(0), atol=1e-12)
    assert (got["runs"] == want["count"]).all()
    mm = rc.group_curves(history, sub, "val_log_loss", "params.max_depth", band="minmax")
    got = mm.frame[mm.frame["group"] == first].set_index("step")
    np.testing.assert_allclose(got["low"], h.groupby("step")["value"].min(), atol=1e-12)
    with pytest.raises(ValueError):
        rc.group_curves(history, sub, "val_log_loss", "params.max_depth", band="iqr")


# ------------------------------------------------------------------ side by side
def test_side_by_side_only_differences(small):
    sub, missing = rs.selection(small, ["r1", "r3", "nope"])
    assert sub["run_id"].tolist() == ["r1", "r3"] and missing == ["nope"]
    t, same = rs.side_by_side(sub, small.params, small.metrics, small.tags, True)
    assert t["field"].tolist() == ["params.depth", "params.mixed", "metrics.auc",
                                   "metrics.loss", "tags.who"]
    assert t.columns.tolist()[2:] == ["a", "b"]
    assert t.loc[t["field"] == "tags.who", "b"].item() == "—"
    full, _ = rs.side_by_side(sub, small.params, small.metrics, small.tags, False)
    assert len(full) == len(t) + same and "params.opt" in full["field"].tolist()


# ------------------------------------------------------------------ importance
def test_importance_matches_scikit_learn_directly(sweep):
    table, _ = sweep
    sub, _ = rs.selection(table, table.frame["run_id"])
    imp = ri.parameter_importance(sub, table.params, "metrics.val_roc_auc", seed=3,
                                  n_estimators=30, n_repeats=3, folds=4)
    data = sub.sort_values("run_id", kind="stable")
    varying = list(table.varying_params(data))
    X = ri.param_matrix(data, varying).to_numpy()
    y = data["metrics.val_roc_auc"].to_numpy()
    scores = []
    for train, test in KFold(4, shuffle=True, random_state=3).split(X):
        rf = RandomForestRegressor(n_estimators=30, random_state=3, n_jobs=1)
        rf.fit(X[train], y[train])
        scores.append(permutation_importance(rf, X[test], y[test], scoring="r2", n_repeats=3,
                                             random_state=3, n_jobs=1).importances)
    scores = np.hstack(scores)
    got = imp.table.set_index("param")
    for i, col in enumerate(varying):
        name = rs.short_name(col)
        assert got.loc[name, "importance"] == pytest.approx(scores[i].mean(), abs=1e-9)
        assert got.loc[name, "importance_std"] == pytest.approx(scores[i].std(), abs=1e-9)
        rho = stats.spearmanr(X[:, i], y)
        assert got.loc[name, "spearman"] == pytest.approx(rho.statistic, abs=1e-9)
        assert got.loc[name, "spearman_p"] == pytest.approx(rho.pvalue, abs=1e-9)
    # the order of the runs does not change the answer
    again = ri.parameter_importance(sub.iloc[::-1], table.params, "metrics.val_roc_auc", seed=3,
                                    n_estimators=30, n_repeats=3, folds=4)
    pd.testing.assert_frame_equal(again.table, imp.table)


def test_importance_ranks_what_the_sweep_really_varied(sweep):
    table, _ = sweep
    sub, _ = rs.selection(table, table.frame["run_id"])
    imp = ri.parameter_importance(sub, table.params, "metrics.val_roc_auc")
    assert set(imp.table["param"]) == SWEPT  # only the varied params can matter
    assert set(imp.constant) == {rs.short_name(c) for c in table.params} - SWEPT
    assert imp.table["param"].iloc[0] in {"learning_rate", "max_depth"}
    assert imp.r2 > 0.1 and imp.table["importance"].iloc[0] > 0.1
    assert imp.sentence.startswith(f"Across these 64 runs, {imp.table['param'].iloc[0]} "
                                   "matters most for val_roc_auc")


def test_importance_needs_enough_runs(small):
    imp = ri.parameter_importance(small.frame, small.params, "metrics.auc")
    assert imp.table.empty and "needs at least 10 runs" in imp.sentence


# ------------------------------------------------------------------ figures
def test_parallel_coordinates_plot_the_runs(sweep):
    table, _ = sweep
    sub = table.frame.iloc[:10]
    fig = ef.parallel_coordinates([rs.axis(sub, "params.max_depth"),
                                   rs.axis(sub, "params.learning_rate")],
                                  rs.axis(sub, "metrics.val_roc_auc"))
    pc = fig.data[0]
    assert [d.label for d in pc.dimensions] == ["max_depth", "learning_rate", "val_roc_auc"]
    np.testing.assert_allclose(np.asarray(pc.dimensions[0].values, float),
                               sub["params.max_depth"].to_numpy(float))
    np.testing.assert_allclose(np.asarray(pc.line.color, float),
                               sub["metrics.val_roc_auc"].to_numpy(float))
    assert fig.layout.title.text == "How the parameters lead to val_roc_auc (10 runs)"


def test_parallel_coordinates_label_text_params(small):
    fig = ef.parallel_coordinates([rs.axis(small.frame, "params.opt")],
                                  rs.axis(small.frame, "metrics.loss"))
    dim = fig.data[0].dimensions[0]
    assert list(dim.ticktext) == ["adam", "sgd"] and list(dim.tickvals) == [0, 1]


def test_scatter_plots_x_y_and_colour(sweep):
    table, _ = sweep
    sub = table.frame.iloc[:20]
    fig = ef.scatter(rs.axis(sub, "params.learning_rate"), rs.axis(sub, "metrics.val_roc_auc"),
                     rs.axis(sub, "params.max_depth"), rs.run_labels(sub))
    np.testing.assert_allclose(np.asarray(fig.data[0].x, float), sub["params.learning_rate"])
    np.testing.assert_allclose(np.asarray(fig.data[0].y, float), sub["metrics.val_roc_auc"])
    assert list(fig.data[0].text) == sub["name"].tolist()
    assert fig.layout.xaxis.title.text == "learning_rate"
    assert fig.layout.yaxis.title.text == "val_roc_auc"
    assert "coloured by max_depth" in fig.layout.title.text
    by_text = ef.scatter(rs.axis(sub, "params.learning_rate"),
                         rs.axis(sub, "metrics.val_roc_auc"), rs.axis(sub, "tags.sweep"),
                         rs.run_labels(sub))
    assert [t.name for t in by_text.data] == ["sweep = random-search"]


def test_training_curves_and_groups_figures(sweep):
    table, history = sweep
    sub, _ = rs.selection(table, table.frame["run_id"].iloc[:3])
    c = rc.curves(history, sub, "val_log_loss", 0.5)
    fig = ef.training_curves(c)
    lines = [t for t in fig.data if t.showlegend is not False]
    assert [t.name for t in lines] == sub["name"].tolist()
    first = c.frame[c.frame["run_id"] == sub["run_id"].iloc[0]]
    np.testing.assert_allclose(np.asarray(lines[0].y, float), first["smoothed"])
    assert fig.layout.xaxis.title.text == "Step" and "smoothed (EMA weight 0.5)" in \
        fig.layout.title.text
    many = rc.curves(history, rs.selection(table, table.frame["run_id"])[0], "val_log_loss")
    assert len(ef.training_curves(many).data) == 1  # 64 runs share one trace
    g = rc.group_curves(history, sub, "val_log_loss", "params.max_depth", band="minmax")
    gf = ef.grouped_curves(g)
    means = [t for t in gf.data if t.mode == "lines"]
    assert len(means) == len(g.groups) and "min–max" in gf.layout.title.text


def test_importance_figure_and_table(sweep):
    table, _ = sweep
    sub, _ = rs.selection(table, table.frame["run_id"])
    imp = ri.parameter_importance(sub, table.params, "metrics.val_roc_auc", n_estimators=20)
    fig = ef.importance_figure(imp)
    # only what can be told from noise is ranked, longest bar on top
    assert list(fig.data[0].y)[::-1] == imp.ranked["param"].tolist()
    np.testing.assert_allclose(np.asarray(fig.data[0].x, float)[::-1], imp.ranked["importance"])
    assert fig.layout.xaxis.title.text.startswith("Permutation importance")
    html = str(ef.importance_table(imp))
    assert imp.table["param"].iloc[0] in html


# ------------------------------------------------------------------ registry cache, pages
def test_folder_runs_are_parsed_once_per_change(tiny_registry):
    src = open_source(str(tiny_registry))
    first = src.runs("sweep")
    assert src.runs("sweep") is first
    time.sleep(0.01)
    log_run(tiny_registry, "sweep", run_id="run-new", metrics={"auc": 0.5})
    again = src.runs("sweep")
    assert again is not first and "run-new" in set(again.items["run_id"])


@pytest.fixture(scope="module")
def app():
    return create_app(Settings(registry=str(SAMPLE_REGISTRY)))


def _page(app, module, **query):
    fn = dash.page_registry[module]["layout"]
    with app.server.test_request_context("/"):
        return str(fn(**query))


def test_experiments_page_cases(app):
    assert "64 runs" in _page(app, "pages.experiments")
    assert "There is no experiment called" in _page(app, "pages.experiments", experiment="../x")
    bad = _page(app, "pages.experiments", experiment="churn-sweep", q="metrics.val_roc_auc >")
    assert "This filter cannot be applied" in bad and "at character" in bad
    assert "Traceback" not in bad


def test_grid_rows_response(app):
    import pages.experiments as pe
    from pages._data import deck
    state = {"experiment": "churn-sweep", "q": "params.max_depth <= 4", "search": "",
             "cols": ["metrics.val_roc_auc", "params.max_depth"]}
    with app.server.test_request_context("/"):
        resp, count, view = pe.grid_rows(deck(), state, {
            "startRow": 0, "endRow": 100, "filterModel": {},
            "sortModel": [{"colId": "metrics.val_roc_auc", "sort": "desc"}]})
        bad = pe.grid_rows(deck(), state, {"startRow": 0, "endRow": 100,
                                           "sortModel": [{"colId": "x", "sort": "asc"}]})
    values = [r["metrics.val_roc_auc"] for r in resp["rowData"]]
    assert values == sorted(values, reverse=True) and resp["rowCount"] == len(values)
    assert all(r["params.max_depth"] <= 4 for r in resp["rowData"])
    assert count == f"{len(values)} of 64 runs match."
    assert bad[0] == {"rowData": [], "rowCount": 0} and "no column 'x'" in bad[1]


def test_compare_page_cases(app):
    ok = _page(app, "pages.experiments_compare", experiment="churn-sweep",
               runs="sweep-001,sweep-002,gone", smooth="abc", band="nonsense", x="bogus")
    assert "Compare 2 runs of churn-sweep" in ok and "no longer in the registry: gone" in ok
    assert "link's run list cannot be read" in _page(app, "pages.experiments_compare",
                                                     experiment="churn-sweep", runs="~$$")
    assert "No runs were chosen" in _page(app, "pages.experiments_compare",
                                          experiment="churn-sweep")
    assert "There is no experiment called" in _page(app, "pages.experiments_compare",
                                                    experiment="nope", runs="a")


def test_compare_options_survive_the_url():
    import pages.experiments_compare as pc
    src = open_source(str(SAMPLE_REGISTRY))
    table = rt.prepare_runs(src.runs("churn-sweep").items, "churn-sweep")
    sub = table.frame.iloc[:5]
    query = pc.options_query({"experiment": "churn-sweep", "runs": "a,b"},
                             "metrics.val_log_loss", ["params.max_depth"], "params.max_depth",
                             "metrics.val_log_loss", None, "train_log_loss", 0.8,
                             "params.max_depth", "minmax", False)
    from urllib.parse import parse_qsl
    q = dict(parse_qsl(query[1:]))
    opts = pc.view_options(table, sub, q, ["train_log_loss", "val_log_loss"])
    assert opts["metric"] == "metrics.val_log_loss" and opts["dims"] == ["params.max_depth"]
    assert opts["color"] is None and opts["curve"] == "train_log_loss"
    assert opts["smooth"] == 0.8 and opts["band"] == "minmax" and opts["diff"] is False
