"""One contract of numbers for every engine: prediction rows stored as a folder of Parquet parts
(read in place by DuckDB through the folder source) and the same rows as a table in Apache Spark
(local mode, named by the registry as an external table) give the summaries from which
analysis computes metrics, curves and drift — equal to scikit-learn / scipy on the rows.

Spark runs in one session for the module (local[1], tiny tables); it needs Java (make java).
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn import metrics as skm

from analysis import queries as q
from analysis import summaries as sm
from analysis.drift import Bins, psi
from analysis.monitoring_types import MonitoringSettings
from analysis.monitoring_rows import metric_from_summary, report_from_rows
from registry.cached import CachedSource
from registry.folder import FolderSource
from registry.model import Model, RegistryError
from registry.rows import COL_WINDOW, register_connection
from registry.tables import prepare_predictions

TASKS = ("binary", "multiclass", "regression")
MONTHS = ["2026-01", "2026-02", "2026-03", "2026-04"]
CLASSES = ["cat", "dog", "bird"]


def rows_for(task: str, n: int = 480, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    """Production-shaped rows: a timestamp in one of four months, version 1, a label (missing
    in the last month's second half), the task's outputs, two numeric features (one with ties
    and a missing value), one text feature and a segment."""
    rng = np.random.default_rng(seed)
    month = np.repeat(np.arange(4), n // 4)
    day = rng.integers(0, 27, n)
    ts = pd.to_datetime([f"{MONTHS[m]}-{d + 1:02d}T{h:02d}:00:00Z"
                         for m, d, h in zip(month, day, rng.integers(0, 24, n))], utc=True)
    x = rng.normal(size=n) + shift * (month == 3)
    frame = pd.DataFrame({"timestamp": ts, "version": 1})
    if task == "binary":
        y = (x + rng.normal(size=n) > 0).astype(float)
        frame["y_true"] = y
        frame["y_score"] = np.round(1 / (1 + np.exp(-x)), 2)  # rounded: many ties
    elif task == "multiclass":
        y = rng.choice(CLASSES, n)
        frame["y_true"] = y
        frame["y_pred"] = np.where(rng.random(n) < 0.7, y, rng.choice(CLASSES, n))
    else:
        y = 3 * x + rng.normal(size=n)
        frame["y_true"] = y
        frame["y_pred"] = np.round(3 * x, 1)
    last = (month == 3) & (day >= 14)
    if task == "multiclass":
        frame["y_true"] = frame["y_true"].astype(object).where(~last, None)
    else:
        frame.loc[last, "y_true"] = np.nan
    frame["feature.x"] = x
    frame["feature.calls"] = rng.integers(0, 4, n).astype(float)
    frame.loc[5, "feature.calls"] = np.nan
    frame["feature.payment"] = rng.choice(["card", "cash", "bank"], n)
    frame["segment.region"] = rng.choice(["north", "south"], n)
    return frame


def evaluation_for(task: str) -> pd.DataFrame:
    f = rows_for(task, n=200, seed=7).drop(columns=["timestamp", "version"])
    return f.dropna(subset=["y_true"]).reset_index(drop=True)


def write_registry(root, task: str, production: pd.DataFrame, evaluation: pd.DataFrame,
                   external: bool = False) -> None:
    d = root / "models" / task
    (d / "versions" / "1" / "evaluation").mkdir(parents=True)
    doc = {"name": task, "task": task}
    if task == "binary":
        doc["positive_label"] = "1"
    if external:
        doc["production_table"] = {"connection": "spark", "table": f"prod_{task}"}
    (d / "model.json").write_text(json.dumps(doc))
    vdoc = {"version": 1, "aliases": ["champion"]}
    if external:
        vdoc["evaluation_table"] = {"connection": "spark", "table": f"eval_{task}"}
    (d / "versions" / "1" / "version.json").write_text(json.dumps(vdoc))
    evaluation.to_parquet(d / "versions" / "1" / "evaluation" / "test.parquet", index=False)
    if not external:  # production rows as Parquet parts, one folder per month (hive style)
        for m in MONTHS:
            part = production.loc[production["timestamp"].dt.strftime("%Y-%m") == m]
            folder = d / "monitoring" / f"month={m}"
            folder.mkdir(parents=True)
            half = len(part) // 2
            part.iloc[:half].to_parquet(folder / "part-0.parquet", index=False)
            part.iloc[half:].to_parquet(folder / "part-1.parquet", index=False)


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession
    import ibis
    session = (SparkSession.builder.master("local[1]").appName("modeldeck-tests")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "1")
               .config("spark.default.parallelism", "1")
               .config("spark.sql.session.timeZone", "UTC")
               # tiny tables: compiling generated code would cost more than it saves
               .config("spark.sql.codegen.wholeStage", "false")
               .config("spark.sql.adaptive.enabled", "false")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .config("spark.driver.bindAddress", "127.0.0.1")
               .config("spark.driver.host", "127.0.0.1")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    register_connection("spark", ibis.pyspark.connect(session))
    yield session
    session.stop()


@pytest.fixture(scope="module", params=["duckdb", "duckdb-stacked", "spark"])
def engine(request, tmp_path_factory):
    """(engine name, {task: (deck, production frame, evaluation frame)}). "duckdb-stacked":
    the month folders aggregated one at a time, as for folders of millions of rows
    (``registry.row_checks.STACK_MIN_ROWS``; these tables are small)."""
    from registry import row_checks
    external = request.param == "spark"
    patch = pytest.MonkeyPatch()
    if request.param == "duckdb-stacked":
        patch.setattr(row_checks, "STACK_MIN_ROWS", 0)
    if external:
        session = request.getfixturevalue("spark")
    root = tmp_path_factory.mktemp(f"registry-{request.param}")
    out = {}
    for task in TASKS:
        prod, ev = rows_for(task, shift=1.5), evaluation_for(task)
        write_registry(root, task, prod, ev, external)
        if external:
            session.createDataFrame(prod).createOrReplaceTempView(f"prod_{task}")
            session.createDataFrame(ev).createOrReplaceTempView(f"eval_{task}")
        out[task] = (prod, ev)
    deck = CachedSource(FolderSource(root))
    yield request.param, Reader(deck), out
    patch.undo()


class Reader:
    """The deck, and each table's rows opened (and checked by the engine) once."""

    def __init__(self, deck):
        self.deck, self._rows = deck, {}

    def model(self, name):
        return self.deck.model(name)

    def rows(self, task, production=True):
        key = (task, production)
        if key not in self._rows:
            self._rows[key] = q.rows_of(self.deck, task) if production else \
                q.rows_of(self.deck, task, 1, production=False)
        return self._rows[key]


def labelled(frame):
    return frame.loc[frame["y_true"].notna()]


def sk_metrics(task, frame) -> dict:
    f = labelled(frame)
    if task == "binary":
        y, s = f["y_true"].to_numpy(int), f["y_score"].to_numpy(float)
        pred = (s >= 0.5).astype(int)
        return {"roc_auc": skm.roc_auc_score(y, s),
                "average_precision": skm.average_precision_score(y, s),
                "accuracy": skm.accuracy_score(y, pred),
                "precision": skm.precision_score(y, pred), "recall": skm.recall_score(y, pred),
                "f1": skm.f1_score(y, pred), "brier": skm.brier_score_loss(y, s),
                "log_loss": skm.log_loss(y, np.clip(s, 1e-15, 1 - 1e-15))}
    if task == "multiclass":
        yt, yp = f["y_true"].astype(str), f["y_pred"].astype(str)
        return {"accuracy": skm.accuracy_score(yt, yp),
                "f1_macro": skm.f1_score(yt, yp, average="macro"),
                "f1_weighted": skm.f1_score(yt, yp, average="weighted")}
    y, p = f["y_true"].to_numpy(float), f["y_pred"].to_numpy(float)
    return {"mae": skm.mean_absolute_error(y, p), "rmse": skm.root_mean_squared_error(y, p),
            "r2": skm.r2_score(y, p), "mape": skm.mean_absolute_percentage_error(y, p)}


@pytest.mark.parametrize("task", TASKS)
def test_metrics_of_every_task_equal_scikit_learn(engine, task):
    name, deck, data = engine
    prod, ev = data[task]
    model = deck.model(task)
    for rows, frame in ((deck.rows(task), prod), (deck.rows(task, False), ev)):
        summary = q.metric_summary(model, rows.table, rows, [])
        for metric, expected in sk_metrics(task, frame).items():
            got = metric_from_summary(model, summary, metric)
            assert got == pytest.approx(expected, abs=1e-9), (name, metric)


@pytest.mark.parametrize("task", TASKS)
def test_windows_count_rows_and_metric_per_month(engine, task):
    name, deck, data = engine
    prod, _ = data[task]
    model = deck.model(task)
    rows = deck.rows(task)
    days = q.day_counts(rows, 1)
    assert rows.days is not None  # counted by the pass that checked the table
    from dataclasses import replace
    asked = q.day_counts(replace(rows, days=None), 1)  # per day, asked of the engine
    # Parquet parts in month folders are counted per month (no time read), else per day
    assert days.monthly == (name == "duckdb-stacked") == rows.days_monthly
    if days.monthly:
        pd.testing.assert_frame_equal(q.day_counts(rows, 1, per_day=True).table,
                                      asked.table, check_dtype=False)
        assert len(days.table) == len(MONTHS)
    else:
        pd.testing.assert_frame_equal(days.table, asked.table, check_dtype=False)
    assert days.span == asked.span
    assert days.span.rows == len(prod)
    assert days.span.first == prod["timestamp"].min() and \
        days.span.last == prod["timestamp"].max()
    t = q.windowed(rows, 1, weekly=False, span=days.span)
    counts, _ = days.windows(t.starts)
    pd.testing.assert_frame_equal(counts, asked.windows(t.starts)[0])
    month = prod["timestamp"].dt.strftime("%Y-%m")
    per_day = prod["timestamp"].dt.floor("D").value_counts().sort_index()
    assert asked.table["rows"].tolist() == per_day.tolist()
    assert [w.strftime("%Y-%m") for w in counts[COL_WINDOW]] == MONTHS
    assert counts["rows"].tolist() == month.value_counts().sort_index().tolist()
    assert counts["labelled"].tolist() == \
        prod["y_true"].notna().groupby(month).sum().tolist()
    per_window = q.metric_summary(model, t, rows, [COL_WINDOW])
    headline = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "mae"}[task]
    for w, m in zip(counts[COL_WINDOW], MONTHS):
        got = metric_from_summary(model, per_window.loc[per_window[COL_WINDOW] == w], headline)
        assert got == pytest.approx(sk_metrics(task, prod.loc[month == m])[headline],
                                    abs=1e-9), (name, m)


def test_roc_and_pr_curves_and_confusion_equal_scikit_learn(engine):
    name, deck, data = engine
    prod, _ = data["binary"]
    rows = deck.rows("binary")
    s, pos, neg = sm.score_counts(q.metric_summary(deck.model("binary"), rows.table, rows, []))
    f = labelled(prod)
    y, score = f["y_true"].to_numpy(int), f["y_score"].to_numpy(float)
    fpr, tpr, thr = sm.roc_from_counts(s, pos, neg)
    e_fpr, e_tpr, e_thr = skm.roc_curve(y, score, drop_intermediate=False)
    np.testing.assert_allclose(fpr, e_fpr, atol=1e-12)
    np.testing.assert_allclose(tpr, e_tpr, atol=1e-12)
    np.testing.assert_array_equal(thr, e_thr)
    p, r, t = sm.pr_from_counts(s, pos, neg)
    e_p, e_r, e_t = skm.precision_recall_curve(y, score)
    np.testing.assert_allclose(p, e_p, atol=1e-12)
    np.testing.assert_allclose(r, e_r, atol=1e-12)
    np.testing.assert_array_equal(t, e_t)
    for threshold in (0.3, 0.5, 0.71):
        c = sm.confusion_at(s, pos, neg, threshold)
        tn, fp, fn, tp = skm.confusion_matrix(y, (score >= threshold).astype(int)).ravel()
        assert (c["tp"], c["fp"], c["fn"], c["tn"]) == (tp, fp, fn, tn)


@pytest.mark.parametrize("task", TASKS)
def test_drift_bins_psi_and_ks_equal_the_rows(engine, task):
    """The report's PSI equals analysis.drift.psi on the rows, its KS scipy's (the windows
    are small enough to be tested whole), and the engine's deciles numpy's."""
    name, deck, data = engine
    prod, ev = data[task]
    model = deck.model(task)
    report = report_from_rows(model, deck.rows(task, False), deck.rows(task), 1, "accuracy" if task == "multiclass"
                              else ("roc_auc" if task == "binary" else "mae"),
                              MonitoringSettings(weekly_below_days=0))  # months
    month = prod["timestamp"].dt.strftime("%Y-%m")
    d = report.drift.set_index(["column", "label"])
    for col in ("feature.x", "feature.calls", "feature.payment", "segment.region"):
        for m, label in zip(MONTHS, ["Jan 2026", "Feb 2026", "Mar 2026", "Apr 2026"]):
            cur = prod.loc[month == m, col]
            assert d.loc[(col, label), "psi"] == pytest.approx(psi(ev[col], cur), abs=1e-9)
            if col.startswith("feature.") and col != "feature.payment":
                r = stats.ks_2samp(ev[col].dropna(), cur.dropna())
                assert d.loc[(col, label), "ks_stat"] == pytest.approx(r.statistic, abs=1e-12)
                assert d.loc[(col, label), "ks_pvalue"] == pytest.approx(r.pvalue, abs=1e-9)
    assert d.loc[("feature.x", "Apr 2026"), "psi"] > 0.2  # the shift put in the last month
    vc = q.value_counts(deck.rows(task, False), "feature.x")
    edges = sm.quantile_edges(vc["value"].to_numpy(), vc["n"].to_numpy(), 10)
    np.testing.assert_allclose(edges, Bins.from_reference(ev["feature.x"]).edges, atol=1e-12)
    p = report.performance
    assert p["rows"].tolist() == month.value_counts().sort_index().tolist()
    assert (p["low"] <= p["value"]).all() and (p["value"] <= p["high"]).all()


def test_sample_is_bounded_and_whole_when_small(engine):
    name, deck, data = engine
    prod, _ = data["regression"]
    rows = deck.rows("regression")
    whole, n = q.rows_sample(rows, ["y_true", "y_pred"], 10_000)
    assert n == len(whole) == prod["y_true"].notna().sum()
    assert sorted(whole["y_true"]) == pytest.approx(sorted(labelled(prod)["y_true"]))
    part, n = q.rows_sample(rows, ["y_true", "y_pred"], 50)
    assert len(part) <= 50 and n == len(whole)
    assert set(part["y_true"]) <= set(whole["y_true"])


def test_quantile_edges_equal_numpy_on_the_rows():
    rng = np.random.default_rng(3)
    values = np.round(rng.normal(size=1_000), 1)
    v, c = np.unique(values, return_counts=True)
    np.testing.assert_array_equal(sm.quantile_edges(v, c, 10),
                                  Bins.from_reference(pd.Series(values)).edges)


# ------------------------------------------------------------------ bad input
def test_a_missing_column_names_the_parts_folder_and_column(tmp_path):
    prod = rows_for("binary").drop(columns=["y_score"])
    write_registry(tmp_path, "binary", prod, evaluation_for("binary"))
    deck = CachedSource(FolderSource(tmp_path))
    with pytest.raises(RegistryError) as e:
        q.rows_of(deck, "binary")
    p = e.value.problem
    assert (p.path, p.field, p.model) == ("models/binary/monitoring/", "y_score", "binary")
    assert "required column is missing" in p.message


def test_a_wrong_type_names_the_column(tmp_path):
    prod = rows_for("regression").assign(y_pred="high")
    write_registry(tmp_path, "regression", prod, evaluation_for("regression"))
    with pytest.raises(RegistryError) as e:
        q.rows_of(CachedSource(FolderSource(tmp_path)), "regression")
    assert e.value.problem.field == "y_pred" and "must hold numbers" in e.value.problem.message


def test_rows_left_out_are_counted_in_a_note(tmp_path):
    prod = rows_for("binary")
    prod.loc[:9, "y_score"] = np.nan
    write_registry(tmp_path, "binary", prod, evaluation_for("binary"))
    rows = q.rows_of(CachedSource(FolderSource(tmp_path)), "binary")
    assert rows.notes == (f"models/binary/monitoring/: 10 of {len(prod):,} rows left out "
                          "(10 with a NaN or infinite y_score).",)


def test_an_unknown_connection_is_a_problem_of_that_model_only(tmp_path):
    write_registry(tmp_path, "binary", rows_for("binary"), evaluation_for("binary"))
    doc = json.loads((tmp_path / "models" / "binary" / "model.json").read_text())
    doc["production_table"] = {"connection": "warehouse", "table": "db.predictions"}
    (tmp_path / "models" / "binary" / "model.json").write_text(json.dumps(doc))
    write_registry(tmp_path, "regression", rows_for("regression"), evaluation_for("regression"))
    deck = CachedSource(FolderSource(tmp_path))
    with pytest.raises(RegistryError) as e:
        q.rows_of(deck, "binary")
    p = e.value.problem
    assert (p.path, p.field, p.model) == ("models/binary/model.json",
                                          "production_table.connection", "binary")
    assert "MODELDECK_CONNECTION_WAREHOUSE" in p.message
    assert q.rows_of(deck, "regression") is not None  # the other model is unaffected


def test_a_model_json_with_a_bad_table_name_is_a_problem_naming_the_field(tmp_path):
    write_registry(tmp_path, "binary", rows_for("binary"), evaluation_for("binary"))
    doc = json.loads((tmp_path / "models" / "binary" / "model.json").read_text())
    doc["production_table"] = {"connection": "spark", "table": "x; DROP TABLE y"}
    (tmp_path / "models" / "binary" / "model.json").write_text(json.dumps(doc))
    listing = FolderSource(tmp_path).list_models()
    assert [p.field for p in listing.problems if p.model == "binary"] == \
        ["production_table.table"]


def test_engine_rows_equal_the_pandas_path(tmp_path):
    """The same table read into pandas (small tables, CSV) and queried in place gives the
    same report."""
    prod, ev = rows_for("binary", shift=1.0), evaluation_for("binary")
    write_registry(tmp_path, "binary", prod, ev)
    deck = CachedSource(FolderSource(tmp_path))
    model = deck.model("binary")
    settings = MonitoringSettings(weekly_below_days=0)
    engine = report_from_rows(model, q.rows_of(deck, "binary", 1, production=False),
                              q.rows_of(deck, "binary"), 1, "roc_auc", settings)
    from analysis.monitoring import monitoring_report
    frames = monitoring_report(Model("binary", "binary", positive_label="1"),
                               deck.evaluation("binary", 1).frame, prod, 1, "roc_auc", settings)
    cols = ["label", "rows", "labelled", "value", "note"]
    pd.testing.assert_frame_equal(engine.performance[cols], frames.performance[cols])
    pd.testing.assert_frame_equal(engine.drift.drop(columns=["ks_stat", "ks_pvalue"]),
                                  frames.drift.drop(columns=["ks_stat", "ks_pvalue"]))
    assert engine.reference == pytest.approx(frames.reference, abs=1e-12)


@pytest.mark.parametrize("task", TASKS)
def test_the_whole_report_from_the_outlines_points_equals_one_made_at_once(engine, task):
    """The monitoring page's whole report starts from its outline's points (windows, values,
    notes) and adds the intervals and the drift: the same report as one worked out at once,
    on every engine and task."""
    name, deck, _ = engine
    model = deck.model(task)
    metric = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "mae"}[task]
    settings = MonitoringSettings()
    prod, ref = deck.rows(task), deck.rows(task, False)
    points = report_from_rows(model, ref, prod, 1, metric, settings, intervals=False)
    staged = report_from_rows(model, ref, prod, 1, metric, settings, points=points)
    once = report_from_rows(model, ref, prod, 1, metric, settings)
    pd.testing.assert_frame_equal(staged.performance, once.performance)
    pd.testing.assert_frame_equal(staged.drift, once.drift)
    pd.testing.assert_frame_equal(staged.score_drift, once.score_drift)
    assert staged.notes == once.notes and staged.reference == once.reference
    assert (staged.reference_low, staged.reference_high) == \
        (once.reference_low, once.reference_high)
    assert staged.performance["low"].notna().any(), name
    # rows that changed since the outline (other counts): every value is worked out again
    from dataclasses import replace
    stale = replace(points, performance=points.performance.assign(
        rows=points.performance["rows"] + 1, value=0.0))
    again = report_from_rows(model, ref, prod, 1, metric, settings, points=stale)
    pd.testing.assert_frame_equal(again.performance, once.performance)


def test_the_estimate_without_labels_is_the_same_on_an_engine(engine):
    """The estimate from the scores alone, on rows an engine keeps (per-window counts of each
    distinct score), equals the one computed from the table in memory: every window, value
    and interval."""
    from analysis.estimation import (
        EstimationSettings, estimate_from_rows, estimate_performance,
    )
    name, deck, data = engine
    prod, ev = data["binary"]
    model = deck.model("binary")
    settings = EstimationSettings(min_reference_rows=100)
    on_engine = estimate_from_rows(model, ev, deck.rows("binary"), 1, 0.5, settings)
    in_memory = estimate_performance(model, ev, prod, 1, 0.5, settings)
    assert on_engine.available and in_memory.available, on_engine.unavailable
    pd.testing.assert_frame_equal(on_engine.windows, in_memory.windows, check_dtype=False,
                                  rtol=1e-12)
    assert on_engine.calibration.sentence(1) == in_memory.calibration.sentence(1), name


def test_a_versions_evaluation_table_in_an_engine_serves_the_model_page(tmp_path, monkeypatch):
    """A version whose "test" rows are only an engine's table (``evaluation_table``): the
    pages that work on rows in memory get the same rows as from a file, and a table too large
    to read is a message naming the field, on that model only."""
    import ibis

    import registry.folder as folder
    from registry.model import RegistryError
    from registry.rows import register_connection
    from registry.tables import prepare_predictions
    ev = evaluation_for("binary")
    con = ibis.duckdb.connect()
    con.create_table("eval_binary", ev)
    register_connection("evalhouse", con)
    write_registry(tmp_path, "binary", rows_for("binary"), ev)
    v = tmp_path / "models" / "binary" / "versions" / "1"
    (v / "evaluation" / "test.parquet").unlink()
    (v / "version.json").write_text(json.dumps({
        "version": 1, "aliases": ["champion"],
        "evaluation_table": {"connection": "evalhouse", "table": "eval_binary"}}))
    deck = CachedSource(FolderSource(tmp_path))
    got = deck.evaluation("binary", 1)
    want, _ = prepare_predictions(ev, deck.model("binary"), "test.parquet", True)
    assert got.split == "test"
    pd.testing.assert_frame_equal(got.frame.reset_index(drop=True),
                                  want.reset_index(drop=True)[list(got.frame.columns)],
                                  check_dtype=False, check_categorical=False)
    monkeypatch.setattr(folder, "ENGINE_MIN_ROWS", 100)
    with pytest.raises(RegistryError) as e:
        FolderSource(tmp_path).evaluation("binary", 1)
    assert e.value.problem.field == "evaluation_table"
    assert "read at most 100 evaluation rows" in e.value.problem.message


def test_an_mlflow_tag_names_a_connection_and_a_table():
    from registry.rows import table_tag
    assert table_tag("spark:ml.churn_predictions") == ("spark", "ml.churn_predictions")
    for bad in ("ml.churn_predictions", "spark:", "spark:x; DROP TABLE y", ":t"):
        with pytest.raises(ValueError, match="<connection>:<table>"):
            table_tag(bad)


def test_the_monitoring_page_reads_parquet_parts_and_caches_the_summaries(tmp_path,
                                                                           monkeypatch):
    """The sample's production rows stored as monthly parts: the page says what it said from
    one file, and a second view asks the engine nothing (the report is cached by data
    version); adding a part changes the data version, so the next view counts it."""
    import shutil

    import dash
    import pyarrow.parquet as pq

    from app import Settings, create_app
    from registry import SAMPLE_REGISTRY
    from registry.rows import Rows

    reg = tmp_path / "reg"
    shutil.copytree(SAMPLE_REGISTRY, reg)
    d = reg / "models" / "customer-churn"
    table = pq.read_table(d / "monitoring.parquet").to_pandas()
    (d / "monitoring.parquet").unlink()
    month = table["timestamp"].dt.strftime("%Y-%m")
    for m in sorted(month.unique()):
        (d / "monitoring" / f"month={m}").mkdir(parents=True)
        table.loc[month == m].to_parquet(d / "monitoring" / f"month={m}" / "part-0.parquet",
                                         index=False)
    queries = []
    execute = Rows.execute
    monkeypatch.setattr(Rows, "execute", lambda self, e: queries.append(1) or execute(self, e))
    app = create_app(Settings(registry=str(reg)))
    fn = dash.page_registry["pages.monitoring"]["layout"]
    from conftest import monitoring_page
    with app.server.test_request_context("/"):
        text = monitoring_page(fn, name="customer-churn")[1]
        assert "ROC AUC in Oct 2026: 0.786" in text and "No labels yet for Nov 2026" in text
        assert f"{len(table):,} production rows in 12 months" in text
        asked = len(queries)
        assert asked > 0
        monitoring_page(fn, name="customer-churn")
        assert len(queries) == asked  # from the cache: the engine is not asked again
        extra = table.loc[month == "2026-11"].head(100)
        extra.to_parquet(d / "monitoring" / "month=2026-11" / "part-1.parquet", index=False)
        text = monitoring_page(fn, name="customer-churn")[1]
        assert len(queries) > asked
        assert f"{len(table) + 100:,} production rows in 12 months" in text


# ------------------------------------------------------------------ the model page's numbers
def assert_same_evaluation(got, want, interval_tol: float):
    """An evaluation from the engine's summaries against ``evaluate`` on the rows."""
    assert got.rows == want.rows and got.task == want.task
    assert set(got.metrics) == set(want.metrics)
    for k, ci in want.metrics.items():
        assert got.metrics[k].value == pytest.approx(ci.value, abs=1e-9), k
        assert got.metrics[k].low == pytest.approx(ci.low, abs=interval_tol), k
        assert got.metrics[k].high == pytest.approx(ci.high, abs=interval_tol), k
    assert got.unavailable == want.unavailable
    for part in ("roc", "pr", "gain"):
        a, b = getattr(got.binary, part), getattr(want.binary, part)
        np.testing.assert_allclose(a.x, b.x, atol=1e-12)
        np.testing.assert_allclose(a.y, b.y, atol=1e-12)
        np.testing.assert_array_equal(a.thresholds, b.thresholds)
        assert a.points_full == b.points_full
        assert a.area == pytest.approx(b.area, abs=1e-12) or (np.isnan(a.area)
                                                              and np.isnan(b.area))
    pd.testing.assert_frame_equal(got.binary.calibration, want.binary.calibration,
                                  check_dtype=False, atol=1e-12)
    pd.testing.assert_frame_equal(got.binary.scores, want.binary.scores, check_dtype=False)
    assert (got.binary.positives, got.binary.negatives) == (want.binary.positives,
                                                            want.binary.negatives)
    g, w = got.segments, want.segments
    assert list(g.columns) == list(w.columns)
    assert g[["segment", "value", "rows", "metric", "note"]].equals(
        w[["segment", "value", "rows", "metric", "note"]])
    np.testing.assert_allclose(g["estimate"], w["estimate"], atol=1e-9)
    np.testing.assert_allclose(g["low"], w["low"], atol=interval_tol)
    np.testing.assert_allclose(g["high"], w["high"], atol=interval_tol)


def test_the_model_page_numbers_from_the_engine_equal_those_on_the_rows(engine, monkeypatch):
    """A yes/no version whose evaluation rows an engine keeps (here a Parquet file over the
    limit, or the Spark table): the model page's metrics, curves, segments and the counts
    at a threshold equal ``evaluate`` on the same rows read into memory."""
    from analysis import evaluation_rows as er
    from analysis.evaluation import at_threshold, binary_rows, evaluate
    from registry import folder
    name, deck, data = engine
    monkeypatch.setattr(folder, "ENGINE_MIN_ROWS", 10)
    _, ev = data["binary"]
    model = deck.model("binary")
    rows = q.kept_rows_of(deck.deck, "binary", 1)
    assert rows is not None, "the rows are kept by the engine"
    summary = er.summarise(model, rows)
    got = er.evaluate_summary(model, 1, summary, er.segment_counts(model, rows))
    assert not got.segments_pending
    frame, _ = prepare_predictions(ev, model, "test.parquet", True)
    want = evaluate(model, 1, frame)
    assert_same_evaluation(got, want, interval_tol=0.03)
    y, s = binary_rows(model, frame)
    for t in (0.0, 0.35, 0.5, 0.99, 1.0):
        a, b = er.threshold_counts(summary, t), at_threshold(y, s, t)
        assert (a.tp, a.fp, a.fn, a.tn) == (b.tp, b.fp, b.fn, b.tn), t
        assert a.metrics == b.metrics


@pytest.mark.parametrize("values", [
    [1.0, 0.0, np.nan, 1.0, 2.0], [1, 0, 0, 1, 1], [True, False, None, True, False],
    ["yes", "No", None, "YES", "maybe"], ["1", "0", "true", None, "1.0"]])
@pytest.mark.parametrize("positive", [None, "1", "yes", "true", "0", "2", "no"])
def test_the_engines_positive_class_is_positive_mask(values, positive):
    """with_positive (numbers and booleans compared in the query, text through its distinct
    values) flags the rows registry.tables.positive_mask flags; missing labels stay null."""
    from registry.row_checks import with_positive
    from registry.rows import COL_POS, Rows
    from registry.tables import positive_mask
    frame = pd.DataFrame({"y_true": pd.Series(values, dtype=object if isinstance(
        values[0], str) or values[2] is None else None), "y_score": 0.5})
    rows = with_positive(Rows.from_frame(frame, "m", "t", True), positive)
    got = rows.execute(rows.table.select(COL_POS))[COL_POS].to_numpy(dtype=float)
    missing = frame["y_true"].isna().to_numpy()
    assert np.isnan(got[missing]).all()
    np.testing.assert_array_equal(got[~missing], positive_mask(frame["y_true"],
                                                               positive)[~missing])


@pytest.mark.parametrize("labels,positive", [
    ([0.0, 1.0, 1.0, 0.0], "1"), ([0, 1, 1, 0], None), ([0.0, 0.0, np.nan, 0.0], "1"),
    ([1, 1, 1, 1], "yes"), ([0.0, 1.0, 2.0, 1.0], "1"), ([0, 2, 2, 0], None),
    ([0, 2, 2, 0], "2"), ([0.0, 1.0, np.nan, 1.0], "yes"), ([0.5, 1.0, 0.5, 1.0], "0.5")])
def test_the_engines_label_check_is_the_pandas_one(tmp_path, labels, positive):
    """Numeric labels checked in the engine's own pass (0/1) or by a query (any other value)
    pass or fail as registry.tables.prepare_predictions does on the same rows, with the same
    message, and flag the same positives."""
    from registry.row_checks import parquet_rows
    from registry.rows import COL_POS
    model = Model(name="m", task="binary", positive_label=positive)
    frame = pd.DataFrame({"y_true": labels, "y_score": [0.2, 0.8, 0.6, 0.4]})
    frame.to_parquet(tmp_path / "t.parquet", index=False)
    try:
        want, _ = prepare_predictions(frame, model, "t.parquet", True)
    except RegistryError as e:
        with pytest.raises(RegistryError) as got:
            parquet_rows([tmp_path / "t.parquet"], "t.parquet", model, evaluation=True)
        assert (got.value.problem.field, got.value.problem.message) == \
            (e.problem.field, e.problem.message)
        return
    rows = parquet_rows([tmp_path / "t.parquet"], "t.parquet", model, evaluation=True)
    got = rows.execute(rows.table.select(COL_POS))[COL_POS].to_numpy(dtype=float)
    from registry.tables import positive_mask
    np.testing.assert_array_equal(got, positive_mask(want["y_true"], positive))


@pytest.mark.parametrize("stacked", [False, True])
def test_a_month_partition_numbers_the_windows_only_when_it_is_each_rows_month(
        tmp_path, monkeypatch, stacked):
    """Parts under month=YYYY-MM folders: monthly windows come from the partition when the
    check's pass found it true of every row, and from the rows' times when not; the
    windows' counts are the same either way, and whether each folder is aggregated on its
    own (``stacked``, as for folders of millions of rows) or all rows by window."""
    from registry import row_checks
    from registry.rows import COL_MONTH
    if stacked:
        monkeypatch.setattr(row_checks, "STACK_MIN_ROWS", 0)
    prod, ev = rows_for("binary"), evaluation_for("binary")
    out = {}
    for name, lie in (("true", False), ("shifted", True)):
        root = tmp_path / name
        write_registry(root, "binary", prod, ev)
        if lie:
            mon = root / "models" / "binary" / "monitoring"
            (mon / "month=2026-01").rename(mon / "month=2025-12")
        deck = CachedSource(FolderSource(root))
        rows = q.rows_of(deck, "binary")
        assert rows.months == (None if lie else COL_MONTH)
        assert rows.stack_months == (stacked and not lie)
        span = q.day_counts(rows, 1).span
        win = q.windowed(rows, 1, False, span)
        got = q.metric_summary(deck.model("binary"), win, rows, [COL_WINDOW])
        out[name] = got.sort_values([COL_WINDOW, "score"]).reset_index(drop=True)
        since = pd.Timestamp(win.starts[1]).tz_localize("UTC")
        later = q.metric_summary(deck.model("binary"), q.windowed(rows, 1, False, span, since),
                                 rows, [COL_WINDOW])
        assert later[COL_WINDOW].min() == win.starts[1]
    assert len(out["true"][COL_WINDOW].unique()) == 4
    pd.testing.assert_frame_equal(out["true"], out["shifted"], check_dtype=False)


@pytest.mark.parametrize("task", TASKS)
def test_month_partitions_are_checked_per_month_with_the_per_day_passs_numbers(
        tmp_path, monkeypatch, task):
    """Parts in month folders whose footers show only times of that month, none missing, are
    checked one partition at a time without reading the times (``Rows.days_monthly``): with
    two versions and rows left out, the notes, each version's span and monthly counts, the
    monitoring report (months, and weeks, which are counted per day) and the estimate equal
    those of the per-day pass on the same files."""
    from analysis.estimation import EstimationSettings, estimate_from_rows
    from registry import row_checks
    prod = rows_for(task, n=960, seed=3)
    prod["version"] = np.where(prod["timestamp"] >= pd.Timestamp("2026-03-10", tz="UTC"),
                               2.0, 1.0)
    prod.loc[[5, 300], "version"] = [np.nan, 1.5]  # left out: no whole version number
    out_col = "y_score" if task == "binary" else "y_pred"
    if task != "multiclass":
        prod.loc[[7, 700], out_col] = [np.nan, np.inf]  # left out: NaN or infinite output
    write_registry(tmp_path, task, prod, evaluation_for(task))
    model = Model(name=task, task=task, positive_label="1" if task == "binary" else None)
    hold = row_checks._months_hold

    def opened(monthly: bool):
        as_if_a_time_were_missing = lambda *a: (hold(*a)[0], False, hold(*a)[2])  # noqa: E731
        monkeypatch.setattr(row_checks, "_months_hold",
                            hold if monthly else as_if_a_time_were_missing)
        deck = CachedSource(FolderSource(tmp_path))
        return deck, q.rows_of(deck, task)

    monkeypatch.setattr(row_checks, "STACK_MIN_ROWS", 0)  # as for folders of millions
    (deck, per_month), (_, per_day) = opened(True), opened(False)
    assert per_month.days_monthly and not per_day.days_monthly
    assert per_month.notes == per_day.notes and "left out" in per_month.notes[0]
    for version in (1, 2, None):
        a, b = q.day_counts(per_month, version), q.day_counts(per_day, version)
        assert a.monthly and not b.monthly
        assert a.span == b.span and a.span.rows > 0
        starts = q.windowed(per_month, version, False, a.span).starts
        pd.testing.assert_frame_equal(a.windows(starts)[0], b.windows(starts)[0])
        with pytest.raises(ValueError, match="per day"):
            a.windows(q.window_starts(a.span.first, a.span.last, weekly=True))
    reference = q.rows_of(deck, task, 1, production=False)
    metric = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "mae"}[task]
    for weekly_below in (0, 10_000):  # months; weeks
        settings = MonitoringSettings(weekly_below_days=weekly_below)
        got, want = (report_from_rows(model, reference, rows, 2, metric, settings,
                                      intervals=False) for rows in (per_month, per_day))
        assert (got.window_kind, got.notes) == (want.window_kind, want.notes)
        assert got.window_kind == ("month" if weekly_below == 0 else "week")
        pd.testing.assert_frame_equal(got.performance, want.performance)
    if task == "binary":
        ev = evaluation_for(task)
        est = [estimate_from_rows(model, ev, rows, 2, 0.5, EstimationSettings(
            min_reference_rows=50, monitoring=MonitoringSettings(weekly_below_days=10_000)))
            for rows in (per_month, per_day)]
        assert est[0].available, est[0].unavailable
        pd.testing.assert_frame_equal(est[0].windows, est[1].windows)


def test_a_missing_time_in_a_month_partition_counts_it_per_day(tmp_path, monkeypatch):
    """A part whose footer counts a missing time: the check reads the times (per day), so the
    row is left out and said to be, as on any other table."""
    from registry import row_checks
    monkeypatch.setattr(row_checks, "STACK_MIN_ROWS", 0)  # as for folders of millions
    prod = rows_for("binary")
    write_registry(tmp_path, "binary", prod, evaluation_for("binary"))
    extra = prod.iloc[:3].copy()
    extra["timestamp"] = extra["timestamp"].astype(object)
    extra.loc[extra.index[1], "timestamp"] = None
    extra["timestamp"] = pd.to_datetime(extra["timestamp"], utc=True)
    extra.to_parquet(tmp_path / "models" / "binary" / "monitoring" / "month=2026-01" /
                     "part-9.parquet", index=False)
    rows = q.rows_of(CachedSource(FolderSource(tmp_path)), "binary")
    assert rows.months is not None and rows.stack_months and not rows.days_monthly
    assert "1 with no readable timestamp" in rows.notes[0]
    assert q.day_counts(rows, 1).span.rows == len(prod) + 2


def test_text_labels_give_the_engines_monitoring_intervals(tmp_path):
    """A yes/no model whose labels are words ("yes"/"no", positive_label "yes"): the
    engine's per-window intervals are bootstrapped on the positive class, as on the rows in
    memory (before, the sample's 1.0/0.0 were compared with "yes" and every row counted as
    negative, so no window had an interval)."""
    prod, ev = rows_for("binary", shift=1.0), evaluation_for("binary")
    words = lambda f: f.assign(y_true=f["y_true"].map({1.0: "yes", 0.0: "no"}))  # noqa: E731
    write_registry(tmp_path, "binary", words(prod), words(ev))
    doc = tmp_path / "models" / "binary" / "model.json"
    doc.write_text(json.dumps({**json.loads(doc.read_text()), "positive_label": "yes"}))
    deck = CachedSource(FolderSource(tmp_path))
    model = deck.model("binary")
    settings = MonitoringSettings(weekly_below_days=0)
    report = report_from_rows(model, q.rows_of(deck, "binary", 1, production=False),
                              q.rows_of(deck, "binary"), 1, "roc_auc", settings)
    p = report.performance.loc[report.performance["note"] == ""]
    assert len(p) >= 3
    assert np.isfinite(p["low"]).all() and np.isfinite(p["high"]).all()
    assert (p["low"] < p["value"]).all() and (p["value"] < p["high"]).all()
    assert report.reference_low < report.reference < report.reference_high


def test_samples_of_parquet_parts_draw_the_same_rows_on_every_run(tmp_path):
    """Production rows in Parquet parts are sampled by a hash of each row's file and
    position, not by the engine's unseeded random numbers: two cold starts give the same
    intervals and drift (before, each start drew other rows)."""
    from analysis.uncertainty import BootstrapSettings
    prod = rows_for("binary", n=2_000, shift=1.0)
    write_registry(tmp_path, "binary", prod, evaluation_for("binary"))
    settings = MonitoringSettings(bootstrap=BootstrapSettings(n_boot=200, max_rows=60),
                                  ks_max_rows=80)

    def cold_report():
        deck = CachedSource(FolderSource(tmp_path))
        prod_rows = q.rows_of(deck, "binary")
        assert prod_rows.positions == ("__file", "__row")
        return report_from_rows(deck.model("binary"), q.rows_of(deck, "binary", 1,
                                                                 production=False),
                                prod_rows, 1, "roc_auc", settings), prod_rows

    (one, rows), (two, _) = cold_report(), cold_report()
    assert one.performance["low"].notna().sum() >= 10  # weeks larger than their samples
    pd.testing.assert_frame_equal(one.performance, two.performance)
    pd.testing.assert_frame_equal(one.drift, two.drift)
    a, n = q.rows_sample(rows, ["y_true", "y_score"], 100)
    b, _ = q.rows_sample(rows, ["y_true", "y_score"], 100)
    assert n == prod["y_true"].notna().sum() and len(a) == 100
    pd.testing.assert_frame_equal(a, b)


def test_a_column_named_as_duckdbs_row_number_still_opens(tmp_path, monkeypatch):
    """A table with its own ``file_row_number`` or ``filename`` column opens (without the
    rows' places: not paired, samples from the engine's random numbers) rather than failing
    on the name."""
    from registry import folder
    monkeypatch.setattr(folder, "ENGINE_MIN_ROWS", 10)  # the evaluation file in DuckDB too
    prod = rows_for("binary")
    prod["filename"], prod["file_row_number"] = "x", 7
    ev = evaluation_for("binary")
    ev["file_row_number"] = np.arange(len(ev))
    write_registry(tmp_path, "binary", prod, ev)
    deck = CachedSource(FolderSource(tmp_path))
    prod_rows = q.rows_of(deck, "binary")
    ev_rows = q.rows_of(deck, "binary", 1, production=False)
    assert prod_rows.positions == () and ev_rows.row_numbers is None
    assert not ev_rows.in_memory
    assert int(prod_rows.execute(prod_rows.table.count())) == len(prod)
    assert int(ev_rows.execute(ev_rows.table.count())) == len(ev)


@pytest.mark.parametrize("task", ["regression", "multiclass"])
def test_a_number_or_class_models_page_from_the_engine_equals_the_rows(engine, task,
                                                                       monkeypatch):
    """A number or class model's version whose evaluation rows an engine keeps: the model
    page's metrics, per-class details, segments and a number model's binned charts
    (``analysis.task_rows``) equal ``evaluate`` / numpy on the same rows read into memory."""
    from analysis import task_rows as tr
    from analysis.evaluation import binned_scatter, evaluate, regression_diagnostics
    from registry import folder
    name, deck, data = engine
    monkeypatch.setattr(folder, "ENGINE_MIN_ROWS", 10)
    _, ev = data[task]
    model = deck.model(task)
    rows = q.kept_rows_of(deck.deck, task, 1)
    assert rows is not None, "the rows are kept by the engine"
    summary = tr.summarise_task(model, rows)
    got = tr.evaluate_task(model, 1, summary, tr.segment_counts(model, rows))
    frame, _ = prepare_predictions(ev, model, "test.parquet", True)
    want = evaluate(model, 1, frame)
    assert got.rows == want.rows and set(got.metrics) == set(want.metrics)
    for k, ci in want.metrics.items():  # every row is in the sample: the same intervals
        for f in ("value", "low", "high"):
            assert getattr(got.metrics[k], f) == pytest.approx(getattr(ci, f), abs=1e-9), k
    assert got.unavailable == want.unavailable
    cols = ["segment", "value", "rows", "note", "weakest"]
    assert got.segments[cols].equals(want.segments[cols])
    np.testing.assert_allclose(got.segments["estimate"], want.segments["estimate"], atol=1e-9)
    if task == "multiclass":
        np.testing.assert_array_equal(got.multiclass.confusion, want.multiclass.confusion)
        pd.testing.assert_frame_equal(got.multiclass.per_class, want.multiclass.per_class,
                                      check_dtype=False, atol=1e-12)
        return
    # the engine's bins (forced: the rows are few enough to be drawn as points)
    f = labelled(frame)
    y, p = f["y_true"].to_numpy(float), f["y_pred"].to_numpy(float)
    binned = tr.regression_diagnostics_of(rows, len(f))
    for part, (x, v) in (("actual_vs_predicted", (p, y)), ("residuals", (p, y - p))):
        a, b = getattr(binned, part), binned_scatter(x, v, max_points=0)
        np.testing.assert_array_equal(a.counts, b.counts)
        np.testing.assert_allclose(a.x, b.x, atol=1e-12)
        np.testing.assert_allclose(a.y, b.y, atol=1e-12)
    pd.testing.assert_frame_equal(binned.errors, regression_diagnostics(y, p).errors,
                                  check_dtype=False)


def test_a_class_models_curves_and_log_loss_from_the_engine_equal_the_rows(engine, request):
    """A class model's probability columns as the engine counts them (per class and
    distinct probability, and per distinct top probability) give the one-vs-rest ROC
    curves, the confidence chart and the log loss of the rows."""
    from analysis import task_rows as tr
    from analysis.multiclass import multiclass_details
    from analysis.uncertainty import point_estimates, prepare
    from registry.rows import Rows, connection
    name, _, _ = engine
    rng = np.random.default_rng(4)
    n = 300
    t = rng.integers(0, 3, n)
    logits = rng.normal(0, 1, (n, 3))
    logits[np.arange(n), t] += 1.2
    p = np.round(np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True), 2)
    frame = pd.DataFrame({"y_true": np.asarray(CLASSES)[t],
                          **{f"proba.{c}": p[:, j] for j, c in enumerate(CLASSES)}})
    frame["y_pred"] = np.asarray(CLASSES)[p.argmax(axis=1)]
    if name == "spark":
        request.getfixturevalue("spark").createDataFrame(frame).createOrReplaceTempView(
            "eval_proba")
        backend = connection("spark")
        rows = Rows(backend.table("eval_proba"), "spark:eval_proba", "m", True,
                    backend=backend)
    else:
        rows = Rows.from_frame(frame, "m", "proba.parquet", True)
    proba = [f"proba.{c}" for c in CLASSES]
    got = tr.curves_from_counts(q.class_probability_counts(rows, proba, 10_000), proba)
    want = multiclass_details(frame)
    assert [c.label for c in got["roc"]] == [c.label for c in want.roc] and len(want.roc) == 3
    for a, b in zip(got["roc"], want.roc):
        assert a.roc.area == pytest.approx(b.roc.area, abs=1e-12)
        np.testing.assert_allclose(a.roc.x, b.roc.x, atol=1e-12)
        np.testing.assert_allclose(a.roc.y, b.roc.y, atol=1e-12)
    pd.testing.assert_frame_equal(got["confidence"].table, want.confidence.table,
                                  check_dtype=False, atol=1e-12)
    model = Model(name="m", task="multiclass")
    log_loss, distinct = q.class_probability_sums(rows, proba)
    assert log_loss / n == pytest.approx(
        point_estimates(model, prepare(model, frame))["log_loss"], abs=1e-12)
    exact = sum(len(np.unique(p[:, j])) for j in range(3))
    assert 0.8 * exact <= distinct <= 1.2 * exact  # the engine's approximate count
    assert q.class_probability_counts(rows, proba, 10) is None  # too many: left out
