"""The folder source: a good registry, every kind of bad input, laziness, cache invalidation,
and the writer API round trip."""
from __future__ import annotations

import json
import os
import shutil
import time

import numpy as np
import pandas as pd
import pytest
from cachelib import SimpleCache

from analysis.portfolio import summarize
from registry import RegistryError, open_source
from registry.cached import CachedSource
from registry.folder import FolderSource
from registry.writer import log_model_version, prediction_frame, set_alias

from conftest import make_read_only, make_writable, snapshot


def problems_text(listing):
    return [str(p) for p in listing.problems]


# ------------------------------------------------------------------ good registry
def test_lists_models_versions_and_aliases(tiny_registry):
    src = open_source(str(tiny_registry))
    listing = src.list_models()
    assert listing.problems == ()
    assert [m.name for m in listing.items] == ["churn", "iris", "price"]
    churn = src.get_model("churn")
    assert churn.task == "binary" and churn.owner == "team-a" and churn.entity == "customer"
    assert churn.business.value_true_positive == 100 and churn.business.currency == "EUR"
    versions = src.list_versions("churn").items
    assert [v.version for v in versions] == [3, 2, 1]  # newest first
    assert versions[1].aliases == ("champion",) and versions[0].aliases == ("challenger",)
    assert versions[2].stage == "Archived"
    assert versions[0].params == {"C": 3} and versions[0].metrics == {"cv_auc": 0.73}
    assert versions[0].splits == ("test",)


def test_evaluation_rows_round_trip_through_writer(tmp_path):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 50)
    score = rng.random(50)
    seg = rng.choice(["a", "b"], 50)
    from registry.writer import log_model
    log_model(tmp_path, "m", "binary")
    v = log_model_version(tmp_path, "m", y_true=y, y_score=score, segments={"plan": seg},
                          features={"age": np.arange(50)}, params={"depth": np.int64(3)},
                          aliases=["champion"])
    assert v.version == 1
    ev = FolderSource(tmp_path).evaluation("m", 1)
    assert ev.split == "test"
    np.testing.assert_array_equal(ev.frame["y_true"], y)
    np.testing.assert_allclose(ev.frame["y_score"], score)
    assert list(ev.frame["segment.plan"]) == list(seg)
    assert ev.segment_columns == ["segment.plan"] and ev.feature_columns == ["feature.age"]
    assert FolderSource(tmp_path).list_versions("m").items[0].params == {"depth": 3}


def test_csv_tables_and_multiclass_probabilities(tiny_registry):
    src = open_source(str(tiny_registry))
    ev = src.evaluation("price", 3)  # written as CSV
    assert {"y_true", "y_pred"} <= set(ev.frame.columns)
    ev = src.evaluation("iris", 1)
    assert ev.proba_columns == ["proba.0", "proba.1", "proba.2"]


def test_monitoring_and_experiments(tiny_registry):
    src = open_source(str(tiny_registry))
    mon = src.monitoring("churn")
    assert len(mon.frame) == 1200 and mon.frame["y_true"].isna().sum() == 300
    assert str(mon.frame["timestamp"].dt.tz) == "UTC"
    assert src.monitoring("iris") is None
    exps = src.list_experiments().items
    assert [(e.name, e.run_count) for e in exps] == [("sweep", 5)]
    runs = src.runs("sweep").items
    assert list(runs["run_id"]) == [f"run-{i}" for i in range(5)]
    assert runs["metrics.auc"].tolist() == pytest.approx([0.80, 0.81, 0.82, 0.83, 0.84])
    run = src.get_run("sweep", "run-2")
    assert run.params == {"lr": pytest.approx(0.3), "depth": 2} and run.tags == {"who": "test"}
    hist = src.metric_history("sweep", ["run-1"], ["loss"])
    assert list(hist.columns) == ["run_id", "key", "step", "timestamp", "value"]
    assert len(hist) == 10 and hist["value"].iloc[-1] == pytest.approx(0.2)


def test_set_alias_moves_it(tiny_registry):
    set_alias(tiny_registry, "churn", "champion", 3)
    versions = {v.version: v for v in open_source(str(tiny_registry)).list_versions("churn").items}
    assert "champion" in versions[3].aliases and "champion" not in versions[2].aliases


def test_writer_rejects_mismatched_columns():
    with pytest.raises(ValueError, match="rows"):
        prediction_frame(y_true=[0, 1, 1], y_score=[0.1, 0.2])
    with pytest.raises(ValueError, match="classes"):
        prediction_frame(y_true=[0, 1], proba=[[0.5, 0.5], [0.4, 0.6]])


# ------------------------------------------------------------------ bad input
def corrupt(path, text):
    path.write_text(text)


def only_problem(listing, model):
    found = [p for p in listing.problems if p.model == model]
    assert found, f"no problem reported for {model}: {listing.problems}"
    return found[0]


def test_missing_registry_path_is_a_clear_error(tmp_path):
    with pytest.raises(RegistryError, match="no registry folder"):
        open_source(str(tmp_path / "nope"))


def test_malformed_model_json_costs_only_that_model(tiny_registry):
    corrupt(tiny_registry / "models/churn/model.json", '{"task": "binary", ')
    listing = open_source(str(tiny_registry)).list_models()
    assert [m.name for m in listing.items] == ["iris", "price"]
    p = only_problem(listing, "churn")
    assert p.path == "models/churn/model.json" and "not valid JSON" in p.message


def test_unknown_task_names_file_and_field(tiny_registry):
    doc = json.loads((tiny_registry / "models/iris/model.json").read_text())
    doc["task"] = "clustering"
    corrupt(tiny_registry / "models/iris/model.json", json.dumps(doc))
    p = only_problem(open_source(str(tiny_registry)).list_models(), "iris")
    assert (p.path, p.field) == ("models/iris/model.json", "task")
    assert "clustering" in p.message and "binary" in p.message


def test_bad_business_number_names_the_field(tiny_registry):
    doc = json.loads((tiny_registry / "models/churn/model.json").read_text())
    doc["business"]["cost_false_positive"] = "ten"
    corrupt(tiny_registry / "models/churn/model.json", json.dumps(doc))
    p = only_problem(open_source(str(tiny_registry)).list_models(), "churn")
    assert p.field == "business.cost_false_positive"


def test_nan_and_inf_metrics_are_dropped_with_a_warning(tiny_registry):
    path = tiny_registry / "models/price/versions/2/version.json"
    doc = json.loads(path.read_text())
    doc["metrics"] = {"rmse": float("nan"), "mae": float("inf"), "r2": 0.5}
    path.write_text(json.dumps(doc))  # Python writes NaN / Infinity
    listing = open_source(str(tiny_registry)).list_versions("price")
    v2 = [v for v in listing.items if v.version == 2][0]
    assert v2.metrics == {"r2": 0.5}
    fields = {p.field for p in listing.problems}
    assert fields == {"metrics.rmse", "metrics.mae"}
    assert all(p.severity == "warning" and p.path.endswith("2/version.json")
               for p in listing.problems)


def test_duplicate_versions_are_reported_once(tiny_registry):
    src_dir = tiny_registry / "models/iris/versions/2"
    shutil.copytree(src_dir, tiny_registry / "models/iris/versions/2-copy")
    listing = open_source(str(tiny_registry)).list_versions("iris")
    assert [v.version for v in listing.items] == [3, 2, 1]
    (p,) = listing.problems
    assert p.field == "version" and "2-copy" in p.path and "also defined" in p.message


def test_bad_version_number_costs_only_that_version(tiny_registry):
    path = tiny_registry / "models/iris/versions/1/version.json"
    doc = json.loads(path.read_text())
    doc["version"] = "one"
    path.write_text(json.dumps(doc))
    listing = open_source(str(tiny_registry)).list_versions("iris")
    assert [v.version for v in listing.items] == [3, 2]
    assert listing.problems[0].field == "version"


def test_table_missing_required_column(tiny_registry):
    path = tiny_registry / "models/churn/versions/2/evaluation/test.parquet"
    pd.read_parquet(path).drop(columns=["y_score"]).to_parquet(path)
    src = open_source(str(tiny_registry))
    with pytest.raises(RegistryError) as e:
        src.evaluation("churn", 2)
    assert e.value.problem.path == "models/churn/versions/2/evaluation/test.parquet"
    assert e.value.problem.field == "y_score"
    # other versions still load
    assert len(src.evaluation("churn", 3).frame) == 400


def test_unreadable_table_is_a_clear_error(tiny_registry):
    (tiny_registry / "models/churn/versions/3/evaluation/test.parquet").write_bytes(b"garbage")
    with pytest.raises(RegistryError, match="cannot be read as a PARQUET table"):
        open_source(str(tiny_registry)).evaluation("churn", 3)


def test_scores_outside_0_1_are_rejected(tiny_registry):
    path = tiny_registry / "models/churn/versions/1/evaluation/test.parquet"
    frame = pd.read_parquet(path)
    frame["y_score"] = frame["y_score"] * 10
    frame.to_parquet(path)
    with pytest.raises(RegistryError, match="between 0 and 1"):
        open_source(str(tiny_registry)).evaluation("churn", 1)


def test_bad_run_lines_are_skipped_with_line_numbers(tiny_registry):
    with open(tiny_registry / "experiments/sweep/runs.jsonl", "a") as f:
        f.write("{not json\n")
        f.write(json.dumps({"name": "no id"}) + "\n")
        f.write(json.dumps({"run_id": "x", "metrics": {"auc": "high"}}) + "\n")
    listing = open_source(str(tiny_registry)).runs("sweep")
    assert len(listing.items) == 6
    assert [p.field for p in listing.problems] == ["line 6", "line 7", "line 8: metrics.auc"]


def test_unsafe_names_are_never_paths(tiny_registry):
    src = open_source(str(tiny_registry))
    for name in ("../churn", "churn/../../etc", "", ".hidden"):
        with pytest.raises(KeyError):
            src.list_versions(name)
        with pytest.raises(KeyError):
            src.runs(name)


def test_summaries_survive_a_broken_model(tiny_registry):
    corrupt(tiny_registry / "models/churn/model.json", "[]")
    deck = CachedSource(open_source(str(tiny_registry)))
    assert [m.name for m in deck.models().items] == ["iris", "price"]
    assert summarize(deck, "iris").value is not None
    with pytest.raises(RegistryError, match="JSON object"):
        deck.model("churn")


# ------------------------------------------------------------------ never writes
def test_reading_never_writes(tiny_registry):
    make_read_only(tiny_registry)
    try:
        before = snapshot(tiny_registry)
        src = open_source(str(tiny_registry))
        deck = CachedSource(src, SimpleCache())
        for m in deck.models().items:
            summarize(deck, m.name)
            for v in deck.versions(m.name).items:
                deck.evaluation(m.name, v.version)
            deck.monitoring(m.name)
        src.runs("sweep")
        src.metric_history("sweep")
        assert snapshot(tiny_registry) == before
    finally:
        make_writable(tiny_registry)


# ------------------------------------------------------------------ laziness and caching
def test_listing_models_never_reads_prediction_tables(tiny_registry, monkeypatch):
    import registry.folder_files as files
    opened = []
    real_parquet, real_csv = files._read_parquet, pd.read_csv
    monkeypatch.setattr(files, "_read_parquet", lambda *a, **k: opened.append(a[0]) or
                        real_parquet(*a, **k))
    monkeypatch.setattr(pd, "read_csv", lambda *a, **k: opened.append(a[0]) or real_csv(*a, **k))
    src = open_source(str(tiny_registry))
    src.list_models()
    for m in ("churn", "iris", "price"):
        src.list_versions(m)
    src.list_experiments()
    assert opened == []
    src.evaluation("churn", 2)
    assert len(opened) == 1


def test_tables_are_read_once_until_they_change(tiny_registry, monkeypatch):
    import registry.folder_files as files
    src = open_source(str(tiny_registry))
    calls = []
    real = files._read_parquet
    monkeypatch.setattr(files, "_read_parquet", lambda *a, **k: calls.append(1) or real(*a, **k))
    src.evaluation("churn", 2)
    src.evaluation("churn", 2)
    assert len(calls) == 1
    path = tiny_registry / "models/churn/versions/2/evaluation/test.parquet"
    frame = real(path)
    frame.iloc[:100].to_parquet(path)
    os.utime(path, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    assert len(src.evaluation("churn", 2).frame) == 100
    assert len(calls) == 2


def test_cache_sees_changes_without_restart(tiny_registry):
    cache = SimpleCache()
    deck = CachedSource(open_source(str(tiny_registry)), cache)
    assert summarize(deck, "price").champion == 3
    calls = []
    deck.memo(("probe",), "price", lambda: calls.append(1))
    deck.memo(("probe",), "price", lambda: calls.append(1))
    assert calls == [1]
    # A new version appears while the app runs: the next read shows it.
    rng = np.random.default_rng(5)
    log_model_version(tiny_registry, "price", y_true=rng.normal(size=20),
                      y_pred=rng.normal(size=20), aliases=["champion"])
    assert [v.version for v in deck.versions("price").items][0] == 4
    assert summarize(deck, "price").champion == 4
    deck.memo(("probe",), "price", lambda: calls.append(1))
    assert calls == [1, 1]
    # A model's description changes: the listing shows it.
    path = tiny_registry / "models/iris/model.json"
    doc = json.loads(path.read_text())
    doc["description"] = "Changed"
    path.write_text(json.dumps(doc))
    os.utime(path, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    assert deck.model("iris").description == "Changed"
