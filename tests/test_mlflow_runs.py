"""Runs from MLflow without waiting for the whole table: the expression → MLflow filter
translation, the short-link store, incremental refresh, and a first page that never reads
every run. A real sqlite store of 60 runs (the benchmark's own writer), no mocks of MLflow.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import analysis.experiments as ae
import analysis.run_selection as rs
import analysis.run_table as rt
from analysis.expression_eval import evaluate
from analysis.expression_mlflow import to_mlflow
from analysis.expressions import ExpressionError
from registry.links import LinkStore

from contract.mlflow_server import needs_mlflow

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = ["run_id", "name", "status", "metrics.auc", "metrics.val_loss", "params.max_depth",
           "params.booster", "tags.note", "tags.team", "tags.odd key"]
NUMERIC = ["metrics.auc", "metrics.val_loss", "params.max_depth"]


# ------------------------------------------------------------------ translation
@pytest.mark.parametrize("text, pushed, residual", [
    ("metrics.auc > 0.9", "metrics.auc > 0.9", ""),
    ("auc >= 0.9 and val_loss < 0.5", "metrics.auc >= 0.9 and metrics.val_loss < 0.5", ""),
    ("0.9 < auc", "metrics.auc > 0.9", ""),
    ("metrics.auc == 1", "metrics.auc = 1", ""),
    ("metrics.auc > '0.9'", "metrics.auc > 0.9", ""),
    ('params.booster == "dart"', "params.booster = 'dart'", ""),
    ('tags.note != "baseline"', "tags.note != 'baseline'", ""),
    ('name contains "trial"', "attributes.run_name ILIKE '%trial%'", ""),
    ('status == "FAILED"', "attributes.status = 'FAILED'", ""),
    ('`tags.odd key` == "x"', "tags.`odd key` = 'x'", ""),
    # numbers on params are compared as numbers here, as text by MLflow: kept
    ("params.max_depth <= 6", "", "`params.max_depth` <= 6.0"),
    ("auc > 0.9 and max_depth <= 6", "metrics.auc > 0.9", "`max_depth` <= 6.0"),
    # MLflow joins with AND only
    ("auc > 0.9 or auc < 0.1", "", "`auc` > 0.9 or `auc` < 0.1"),
    ("not auc > 0.9", "", "not (`auc` > 0.9)"),
    ("auc > 0.9 and (booster == 'dart' or booster == 'hist')", "metrics.auc > 0.9",
     '`booster` == "dart" or `booster` == "hist"'),
    # what MLflow's syntax cannot say
    ("metrics.auc > metrics.val_loss", "", "`metrics.auc` > `metrics.val_loss`"),
    ('tags.note contains "50%"', "", '`tags.note` contains "50%"'),
    ("tags.note == \"it's\"", "", '`tags.note` == "it\'s"'),
    ("tags.team == true", "", "`tags.team` == true"),
    ('metrics.auc contains "9"', "", '`metrics.auc` contains "9"'),
    ('status contains "FAIL"', "", '`status` contains "FAIL"'),
])
def test_what_translates_to_mlflow(text, pushed, residual):
    p = to_mlflow(text, COLUMNS, NUMERIC)
    assert (p.filter_string, p.residual) == (pushed, residual)
    assert p.complete == (residual == "")


def test_translation_keeps_the_meaning_of_the_residual():
    frame = pd.DataFrame({"run_id": list("abcd"), "name": list("wxyz"),
                          "status": ["FINISHED"] * 4, "metrics.auc": [0.95, 0.5, 0.99, np.nan],
                          "metrics.val_loss": [0.1] * 4, "params.max_depth": [3, 8, 9, 2],
                          "params.booster": ["dart", "hist", "dart", "dart"],
                          "tags.note": [None] * 4, "tags.team": ["a"] * 4,
                          "tags.odd key": ["x"] * 4})
    text = "auc > 0.9 and (max_depth <= 4 or booster == 'hist')"
    p = to_mlflow(text, frame.columns, NUMERIC)
    assert p.filter_string == "metrics.auc > 0.9"
    assert list(evaluate(p.residual, frame)) == [True, True, False, True]
    assert list(evaluate(text, frame)) == [True, False, False, False]
    assert to_mlflow("", COLUMNS) == to_mlflow("  ", COLUMNS)
    with pytest.raises(ExpressionError):
        to_mlflow("nope > 1", COLUMNS)


def test_only_mlflows_own_columns_are_sorted_by_mlflow():
    assert ae.mlflow_order([]) == []
    assert ae.mlflow_order([{"colId": "start_time", "sort": "asc"}]) == \
        ["attributes.start_time ASC"]
    assert ae.mlflow_order([{"colId": "name", "sort": "desc"}]) == ["attributes.run_name DESC"]
    assert ae.mlflow_order([{"colId": "metrics.auc", "sort": "desc"}]) is None


# ------------------------------------------------------------------ short links
def test_links_survive_a_new_instance_and_a_new_process(tmp_path):
    ids = [f"{i:032x}" for i in range(1000)]
    key = LinkStore(tmp_path).save("sweep", ids)
    assert len(key) <= 20 and key.isalnum()
    assert LinkStore(tmp_path).load(key) == ("sweep", ids)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from registry.links import LinkStore;"
            "e, ids = LinkStore(sys.argv[2]).load(sys.argv[3]); print(e, len(ids), ids[-1])")
    out = subprocess.run([sys.executable, "-c", code, str(ROOT), str(tmp_path), key],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["sweep", "1000", ids[-1]]
    assert LinkStore(tmp_path).load("unknown") is None
    assert LinkStore(tmp_path).load("../../etc") is None


def test_two_instances_share_one_file(tmp_path):
    a, b = LinkStore(tmp_path), LinkStore(tmp_path)
    ka = a.save("e1", ["r1", "r2"])
    kb = b.save("e2", ["r3"])
    assert b.load(ka) == ("e1", ["r1", "r2"]) and a.load(kb) == ("e2", ["r3"])
    assert b.save("e1", ["r1", "r2"]) == ka  # the same selection, the same id
    assert a.save("e1", ["r2", "r1"]) != ka  # order is part of a selection


def test_state_dir_comes_from_the_environment(tmp_path, monkeypatch):
    from registry.links import link_store, state_dir
    monkeypatch.setenv("MODELDECK_STATE_DIR", str(tmp_path / "state"))
    assert state_dir() == tmp_path / "state"
    link_store().save("e", ["r"])
    assert (tmp_path / "state" / "links.sqlite").is_file()


def test_compare_links_stay_short(tmp_path):
    store = LinkStore(tmp_path)
    assert rs.selection_query("sweep", ["a", "b"], store) == {"experiment": "sweep",
                                                              "runs": "a,b"}
    ids = [f"{i:032x}" for i in range(1000)]
    query = rs.selection_query("sweep", ids, store)
    assert set(query) == {"experiment", "sel"} and len(query["sel"]) < 30
    assert store.load(query["sel"]) == ("sweep", ids)


# ------------------------------------------------------------------ a real MLflow store
@pytest.fixture(scope="module")
def store(tmp_path_factory):
    pytest.importorskip("mlflow")
    from benchmarks.mlflow_runs import build
    folder = tmp_path_factory.mktemp("mlflow-runs")
    return build(folder, 60, 10, quiet=True)


def _source(uri, **kw):
    from registry.mlflow_source import MlflowSource
    return MlflowSource(uri, poll_seconds=0, **kw)


@needs_mlflow
def test_database_read_equals_mlflows_search(store):
    from registry.mlflow_run_frames import runs_frame, sql_runs
    src = _source(store)
    e = src.client.get_experiment_by_name("bench-sweep")
    searched = runs_frame(list(src.client.search_runs([e.experiment_id], max_results=1000)),
                          "bench-sweep")[0]
    read = sql_runs(src._sql_store(), e.experiment_id, "bench-sweep")
    assert len(read) == 60
    a = rt.prepare_runs(searched).frame.sort_values("run_id").reset_index(drop=True)
    b = rt.prepare_runs(read).frame.sort_values("run_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


@needs_mlflow
@pytest.mark.parametrize("text", ["metrics.auc > 0.8", "auc > 0.8 and max_depth <= 6",
                                  "booster == 'dart' and note != 'baseline'",
                                  "name contains '0001' or auc < 0.7"])
def test_mlflow_filter_plus_residual_selects_what_evaluate_selects(store, text):
    src = _source(store)
    full = rt.prepare_runs(src.runs("bench-sweep").items, "bench-sweep")
    numeric = [c for c in full.params + full.metrics if full.is_numeric(c)]
    p = to_mlflow(text, full.frame.columns, numeric)
    page, token = src.runs_page("bench-sweep", 1000, filter_string=p.filter_string or None)
    assert token is None
    fetched = rt.prepare_runs(page, "bench-sweep")
    got = set(fetched.frame.loc[evaluate(p.residual, fetched.frame), "run_id"])
    assert got == set(full.frame.loc[evaluate(text, full.frame), "run_id"])


def _wait_loaded(src, name="bench-sweep"):
    deadline = time.time() + 60
    while not src.runs_loaded(name).done:
        assert time.time() < deadline
        time.sleep(0.05)
    return src.runs_loaded(name)


@needs_mlflow
def test_refresh_is_incremental_for_new_and_deleted_runs(store):
    from mlflow import MlflowClient

    from registry import mlflow_runs
    src = _source(store)
    src._page_served.set()
    before = _wait_loaded(src).frame
    reads = []
    real = mlflow_runs.sql_runs
    mlflow_runs.sql_runs = lambda *a, **k: reads.append(a[3] if len(a) > 3 else None) \
        or real(*a, **k)
    client = MlflowClient(store)
    exp = client.get_experiment_by_name("bench-sweep").experiment_id
    victim = before["run_id"].iloc[-1]
    run = None
    try:
        run = client.create_run(exp, run_name="added-later")
        client.log_metric(run.info.run_id, "auc", 0.5)
        client.set_terminated(run.info.run_id)
        after = src.runs_loaded("bench-sweep").frame
        assert len(after) == len(before) + 1
        row = after.loc[after["run_id"] == run.info.run_id].iloc[0]
        assert row["name"] == "added-later" and row["metrics.auc"] == 0.5
        client.delete_run(victim)
        time.sleep(0.01)
        after = src.runs_loaded("bench-sweep").frame
        assert victim not in set(after["run_id"]) and len(after) == len(before)
        assert None not in reads  # never the whole table again, only runs by id
    finally:
        mlflow_runs.sql_runs = real
        if run is not None:
            client.delete_run(run.info.run_id)
        client.restore_run(victim)


@needs_mlflow
def test_first_rows_do_not_read_every_run(store, monkeypatch):
    import dash

    from app import Settings, create_app
    from registry.mlflow_runs import MlflowRuns
    read_all = []
    monkeypatch.setattr(MlflowRuns, "runs", lambda self, e: read_all.append(e) or 1 / 0)
    monkeypatch.setattr(MlflowRuns, "_start", lambda self, load, first: None)  # stays unloaded
    app = create_app(Settings(registry=store))
    import pages.experiments as pe
    from pages._data import deck
    with app.server.test_request_context("/"):
        layout = dash.page_registry["pages.experiments"]["layout"](
            experiment="bench-sweep", q="metrics.auc > 0.8")
        text = str(layout)
        assert "of about 60" in text and "loading" in text
        state = {"experiment": "bench-sweep", "q": "metrics.auc > 0.8", "search": "",
                 "cols": ["metrics.auc"]}
        resp, count, _ = pe.grid_rows(deck(), state, {"startRow": 0, "endRow": 100})
        sorted_resp, sorted_count, _ = pe.grid_rows(deck(), state, {
            "startRow": 0, "endRow": 100,
            "sortModel": [{"colId": "metrics.auc", "sort": "desc"}]})
    assert read_all == []
    assert resp["rowData"] and all(r["metrics.auc"] > 0.8 for r in resp["rowData"])
    assert "filtered by MLflow" in count
    # a metric sort is not MLflow's to do cheaply: it waits for (here: never-)loaded runs
    assert sorted_resp == {"rowData": [], "rowCount": 0}
    assert "none have arrived yet (about 60 runs in all)" in sorted_count


# ------------------------------------------------------------------ missing values, both paths
@pytest.fixture(scope="module")
def sparse_store(tmp_path_factory):
    """Runs without some metric, param or tag, and with a NaN metric (which ModelDeck's
    table holds as missing, MLflow's search compares as a number)."""
    pytest.importorskip("mlflow")
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag
    folder = tmp_path_factory.mktemp("mlflow-sparse")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    exp = client.create_experiment("sparse", artifact_location=(folder / "art").as_uri())
    for name, metrics, params, tags in [
            ("full", {"auc": 0.95}, {"booster": "dart"}, {"note": "trial"}),
            ("low", {"auc": 0.5}, {"booster": "hist"}, {"note": "baseline"}),
            ("no-auc", {"loss": 0.3}, {"booster": "dart"}, {}),
            ("nan-auc", {"auc": float("nan")}, {}, {"note": "trial"}),
            ("no-note", {"auc": 0.97}, {"booster": "dart"}, {}),
            ("bare", {}, {}, {})]:
        run = client.create_run(exp, run_name=name)
        client.log_batch(run.info.run_id,
                         metrics=[Metric(k, v, 0, 0) for k, v in metrics.items()],
                         params=[Param(k, v) for k, v in params.items()],
                         tags=[RunTag(k, v) for k, v in tags.items()])
        client.set_terminated(run.info.run_id)
    return uri


@needs_mlflow
@pytest.mark.parametrize("text, expected", [
    ("metrics.auc > 0.9", {"full", "no-note"}),
    ("metrics.auc != 0.5", {"full", "no-note"}),  # MLflow also matches the NaN auc
    ("metrics.auc > 0.1 and not booster == 'dart'", {"low"}),  # no booster: unknown
    ("note != 'baseline'", {"full", "nan-auc"}),
    ("booster == 'dart' and not note == 'baseline'", {"full"}),  # no-note: unknown
    ("booster == 'dart' and not (auc > 0.9 or auc < 0.6)", set()),
])
def test_missing_values_mean_the_same_on_mlflow_and_here(sparse_store, monkeypatch, text,
                                                          expected):
    from registry.cached import CachedSource
    from registry.mlflow_run_frames import runs_frame
    from registry.mlflow_runs import MlflowRuns
    monkeypatch.setattr(MlflowRuns, "_start", lambda self, load, first: None)  # MLflow path
    src = _source(sparse_store)
    e = src.client.get_experiment_by_name("sparse")
    every = rt.prepare_runs(runs_frame(list(src.client.search_runs([e.experiment_id])),
                                       "sparse")[0], "sparse").frame
    here = set(every.loc[evaluate(text, every), "name"])
    assert to_mlflow(text, every.columns).filter_string  # part of it is MLflow's to do
    answer = ae.answer_rows(CachedSource(src), "sparse", text)
    assert answer.how == "mlflow"
    assert set(answer.table.frame["name"].iloc[answer.positions]) == here == expected
