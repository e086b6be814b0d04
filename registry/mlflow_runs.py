"""The runs side of the MLflow source: experiments, run tables, metric histories.

A run table of 20,000 runs takes MLflow's search tens of seconds to return (it builds a full
``Run`` entity per run), so nothing a page shows first waits for it:

* ``runs_page`` is one ``search_runs`` call, with MLflow's own filter and order: the experiments
  page's first rows come from it.
* ``runs_loaded`` returns the runs read so far and starts reading the rest in a background
  thread: on a database store straight from MLflow's tables (runs, params, latest_metrics,
  tags; four queries instead of 20 searches), elsewhere 1,000 runs per search.
* Once loaded, a table is kept up to date incrementally: when MLflow's state changes, only the
  runs started or ended since the last read (and those still running) are searched and merged;
  on a database store a ``COUNT`` notices deleted (or back-dated) runs, which one query of the
  run ids then removes (or adds); and every ``RUNS_MAX_AGE`` seconds the table is re-read in the
  background while the old one keeps serving.
* ``runs_by_id`` reads only the given runs (a comparison of 1,000 of 20,000 fetches 1,000), and
  ``metric_history`` only the histories of the runs and keys asked for.

Used as a base of ``registry.mlflow_source.MlflowSource``; it relies on that class's client,
``_reading``, ``data_version`` and paging helpers.

Why one file of ~610 lines: it has one job, the run table of one store, and its parts — the
first page, the background load (SQL tables or searches), the incremental refresh and the
reads by id — share one cached table, its lock and its generation counter; split apart, each
would have to know the others' state.
"""
from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from .base import Listing, RunsProgress
from .model import HISTORY_COLUMNS, Experiment, Problem, RegistryError

FIXED = ["run_id", "experiment", "name", "status", "start_time", "end_time"]
# A run table is re-read in the background at the latest after this many seconds (a run whose
# metrics change after it finished changes no timestamp MLflow reports).
RUNS_MAX_AGE = 300.0
SEARCH_PAGE = 1000  # runs per search when a server or file store is read in the background
ID_CHUNK = 100  # run ids per "run_id IN (...)" search
SQL_ID_CHUNK = 500  # run ids per IN (...) on a database
FIRST_PAINT_WAIT = 5.0  # seconds a first background read waits for the first page to be shown
DATABASE_SCHEMES = ("sqlite:", "postgresql", "mysql", "mssql")
FETCH = 5000  # rows per fetch from a database cursor (other threads get a turn in between)


@dataclass
class _Load:
    """The run table of one experiment as it is read, and what is needed to refresh it."""

    experiment_id: str
    name: str
    frame: pd.DataFrame | None = None  # rows read so far
    total: int | None = None  # about how many runs there are
    done: bool = False
    error: Problem | None = None
    version: str = ""  # MLflow state when the table was last brought up to date
    loaded_at: float = 0.0  # monotonic time of the last full read
    checked_at: float = 0.0  # monotonic time of the last refresh check
    generation: int = 0  # changes whenever ``frame`` does
    name_version: str = ""  # MLflow state when the experiment's name was last looked up
    reloading: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    finished: threading.Event = field(default_factory=threading.Event)

    def progress(self) -> RunsProgress:
        with self.lock:
            frame = self.frame if self.frame is not None else runs_frame([], self.name)[0]
            return RunsProgress(frame=frame, problems=(), loaded=len(frame),
                                total=self.total, done=self.done,
                                generation=f"{self.generation}:{int(self.done)}")


class MlflowRuns:
    """Experiments and runs of an MLflow store (mixed into ``MlflowSource``)."""

    can_search = True  # runs_page takes MLflow filter strings and orders

    def _init_runs(self, history_cache_size: int) -> None:
        from collections import OrderedDict
        self._histories: OrderedDict[tuple, tuple] = OrderedDict()
        self._histories_max = history_cache_size
        self._loads: dict[str, _Load] = {}
        self._loads_lock = threading.Lock()
        self._counts: dict[tuple, int] = {}
        # Set once a page of runs has been answered: a first background read waits for it
        # (a few seconds at most), so that it does not compete with the first paint.
        self._page_served = threading.Event()

    # ---------------------------------------------------------------- experiments
    def _experiments(self) -> list:
        from .mlflow_client import HIDDEN_TAG
        return [e for e in self._all(self.client.search_experiments)
                if (e.tags or {}).get(HIDDEN_TAG, "").lower() != "true"]

    def _experiment(self, name: str):
        from .mlflow_client import HIDDEN_TAG
        with self._reading(f"reading experiment {name!r}"):
            e = self.client.get_experiment_by_name(name)
        if e is None or e.lifecycle_stage != "active" or \
                (e.tags or {}).get(HIDDEN_TAG, "").lower() == "true":
            raise KeyError(name)
        return e

    def list_experiments(self) -> Listing[tuple[Experiment, ...]]:
        from .mlflow_client import NOTE_TAG
        with self._reading("listing experiments"):
            exps = self._experiments()
            version = self.data_version(None)
            counts = self._map(lambda e: self._count_runs(e.experiment_id, version), exps)
        out = [Experiment(name=e.name, description=(e.tags or {}).get(NOTE_TAG, ""),
                          run_count=n)
               for e, n in zip(exps, counts)
               # MLflow makes an empty "Default" experiment in every store: not worth a row.
               if not (e.experiment_id == "0" and n == 0)]
        return Listing(tuple(sorted(out, key=lambda e: e.name)), ())

    def _count_runs(self, experiment_id: str, version: str) -> int:
        key = (experiment_id, version)
        if key in self._counts:
            return self._counts[key]
        n = self._sql_count(experiment_id)
        if n is None:  # a server or a file store: count page by page (done once per change)
            n = sum(len(p) for p in self._pages(
                lambda **kw: self.client.search_runs([experiment_id], **kw)))
        self._counts = {k: v for k, v in self._counts.items() if k[1] == version}
        self._counts[key] = n
        return n

    def _sql_count(self, experiment_id: str) -> int | None:
        """Count active runs with one SQL query when the store is a database."""
        store = self._sql_store()
        if store is None:
            return None
        from mlflow.store.tracking.dbmodels.models import SqlRun
        with store.ManagedSessionMaker() as session:
            return (session.query(SqlRun)
                    .filter(SqlRun.experiment_id == int(experiment_id),
                            SqlRun.lifecycle_stage == "active").count())

    def _sql_store(self):
        """MLflow's SQL store behind the client, or None (a server, a folder). A server's URI
        never imports the SQL store module: that import alone takes seconds."""
        if not self.tracking_uri.startswith(DATABASE_SCHEMES):
            return None
        try:
            from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
        except ImportError:
            return None
        store = getattr(getattr(self.client, "_tracking_client", None), "store", None)
        return store if isinstance(store, SqlAlchemyStore) else None

    def _runs_state(self, experiment_ids: list[str]) -> tuple:
        """What changes when a run starts, ends or is deleted: on a database one aggregate
        query (newest start and end, count, per experiment); elsewhere the newest-started
        and newest-ended run (two searches of one run; a deletion shows at RUNS_MAX_AGE)."""
        if not experiment_ids:
            return ()
        store = self._sql_store()
        if store is not None:
            from mlflow.store.tracking.dbmodels.models import SqlRun
            from sqlalchemy import func
            with store.ManagedSessionMaker() as session:
                return tuple(tuple(r) for r in session.query(
                    SqlRun.experiment_id, func.max(SqlRun.start_time),
                    func.max(SqlRun.end_time), func.count(SqlRun.run_uuid),
                    func.sum(SqlRun.status == "RUNNING"))
                    .filter(SqlRun.experiment_id.in_([int(i) for i in experiment_ids]),
                            SqlRun.lifecycle_stage == "active")
                    .group_by(SqlRun.experiment_id).order_by(SqlRun.experiment_id))
        newest = ()
        for order in ("attributes.start_time DESC", "attributes.end_time DESC"):
            r = self.client.search_runs(experiment_ids, max_results=1, order_by=[order])
            newest += tuple((x.info.run_id, x.info.start_time, x.info.end_time, x.info.status)
                            for x in r)
        return newest

    # ---------------------------------------------------------------- one page
    def runs_page(self, experiment: str, max_results: int = 100,
                  page_token: str | None = None, filter_string: str | None = None,
                  order_by: Sequence[str] | None = None) -> tuple[pd.DataFrame, str | None]:
        """One ``search_runs`` request: MLflow filters and orders (newest start first unless
        ``order_by`` says otherwise), and says where the next page starts."""
        e = self._experiment(experiment)
        with self._reading(f"searching the runs of {experiment!r}"):
            page = self.client.search_runs([e.experiment_id], filter_string or "",
                                           max_results=max_results, page_token=page_token,
                                           order_by=list(order_by) if order_by else None)
        frame, _ = runs_frame(list(page), experiment)
        self._page_served.set()
        token = page.token or None
        return frame, token.decode() if isinstance(token, bytes) else token

    # ---------------------------------------------------------------- the whole table
    def runs_loaded(self, experiment: str) -> RunsProgress:
        """The runs read so far (all of them once ``done``); starts the background read on
        first use and brings a finished table up to date (see the module's docstring)."""
        load = self._load_of(experiment)
        if load.done:
            self._refresh(load)
        return load.progress()

    def _load_of(self, experiment: str) -> _Load:
        """The table of ``experiment`` (by name; the name is looked up in MLflow again only
        when MLflow's listing changed, so a renamed or deleted experiment is noticed)."""
        version = self.data_version(None)
        with self._loads_lock:
            load = self._loads.get(experiment)
        if load is not None and load.error is None and load.name_version == version:
            return load
        e = self._experiment(experiment)
        with self._loads_lock:
            load = self._loads.get(experiment)
            if load is None or load.error is not None or load.experiment_id != e.experiment_id:
                load = _Load(e.experiment_id, experiment)
                self._loads[experiment] = load
                self._start(load, first=True)
            load.name_version = version
        return load

    def runs(self, experiment: str) -> Listing[pd.DataFrame]:
        """Every run of the experiment (no metric histories), waiting for the background read
        when it is not finished."""
        self._page_served.set()  # a caller that wants every run has nothing to paint first
        self.runs_loaded(experiment)
        load = self._load_of(experiment)
        load.finished.wait()
        if load.error is not None:
            raise RegistryError(load.error)
        p = load.progress()
        return Listing(p.frame, p.problems)

    def _start(self, load: _Load, first: bool) -> None:
        if not first:
            if load.reloading:
                return
            load.reloading = True
        thread = threading.Thread(target=self._read_all, args=(load, first),
                                  name=f"modeldeck-runs-{load.experiment_id}", daemon=True)
        thread.start()

    def _read_all(self, load: _Load, first: bool) -> None:
        """Read the whole table (in the background). A first read shows its pages as they
        arrive; a re-read replaces the table only when it is complete."""
        try:
            if first:
                self._page_served.wait(FIRST_PAINT_WAIT)
            version = self.data_version(None)
            store = self._sql_store()
            if first:
                total = self._count_runs(load.experiment_id, version)
                with load.lock:
                    load.total = total
            if store is not None:
                frame = sql_runs(store, load.experiment_id, load.name)
            else:
                parts = []
                for page in self._pages(lambda **kw: self.client.search_runs(
                        [load.experiment_id], **kw), SEARCH_PAGE):
                    parts.append(runs_frame(page, load.name)[0])
                    if first:
                        with load.lock:
                            load.frame = _concat(parts, load.name)
                            load.generation += 1
                frame = _concat(parts, load.name)
            with load.lock:
                load.frame = frame
                load.total = len(frame)
                load.version = version
                load.loaded_at = load.checked_at = time.monotonic()
                load.generation += 1
                load.done = True
        except Exception as e:  # noqa: BLE001 - reported to the page, tried again next time
            from .mlflow_client import explain
            problem = e.problem if isinstance(e, RegistryError) else \
                explain(self.uri, e, f"reading the runs of {load.name!r}")
            with load.lock:
                if not load.done:
                    load.error = problem
        finally:
            load.reloading = False
            load.finished.set()

    def _refresh(self, load: _Load) -> None:
        """Bring a finished table up to date (at most every ``poll_seconds``)."""
        now = time.monotonic()
        with load.lock:
            if now - load.checked_at < self.poll_seconds:
                return
            load.checked_at = now
        if now - load.loaded_at >= RUNS_MAX_AGE:
            self._start(load, first=False)  # the old table serves until the new one is read
        with self._reading(f"refreshing the runs of {load.name!r}"):
            version = self.data_version(None)
            if version == load.version:
                return
            self._merge_changed(load)
            store = self._sql_store()
            # On a database the state includes the number of runs, so a deletion changes the
            # version too; the count then tells whether ids must be compared.
            if store is not None and self._sql_count(load.experiment_id) != len(load.frame):
                self._reconcile_ids(load, store)
        with load.lock:
            load.version = version

    def _merge_changed(self, load: _Load) -> None:
        """Search the runs started or ended since the last read, and those that were still
        running, and put them in place of their old rows."""
        f = load.frame
        ms = lambda s: int(s.max().value // 1_000_000) if s.notna().any() else 0  # noqa: E731
        searches = [f"attributes.start_time >= {ms(f['start_time'])}",
                    f"attributes.end_time >= {ms(f['end_time'])}"]
        running = f.loc[f["status"] == "RUNNING", "run_id"].tolist()
        found = []
        for text in searches:
            for page in self._pages(lambda **kw: self.client.search_runs(
                    [load.experiment_id], text, **kw), SEARCH_PAGE):
                found += page
        fresh = runs_frame(found, load.name)[0]
        if running:
            fresh = _concat([fresh, self._search_ids(load.experiment_id, load.name, running)],
                            load.name)
        gone = set(running) - set(fresh["run_id"])  # running runs that were deleted
        self._replace(load, fresh, gone)

    def _reconcile_ids(self, load: _Load, store) -> None:
        """On a database: drop runs no longer active, read runs not yet in the table."""
        from mlflow.store.tracking.dbmodels.models import SqlRun
        with store.ManagedSessionMaker() as session:
            ids = {r[0] for r in session.query(SqlRun.run_uuid).filter(
                SqlRun.experiment_id == int(load.experiment_id),
                SqlRun.lifecycle_stage == "active")}
        have = set(load.frame["run_id"])
        new = sorted(ids - have)
        fresh = sql_runs(store, load.experiment_id, load.name, new) if new else \
            runs_frame([], load.name)[0]
        self._replace(load, fresh, have - ids)

    def _replace(self, load: _Load, fresh: pd.DataFrame, gone: set) -> None:
        fresh = fresh.drop_duplicates("run_id", keep="last")  # found by several searches
        with load.lock:
            old = load.frame
            keep = ~old["run_id"].isin(set(fresh["run_id"]) | set(gone))
            if keep.all() and fresh.empty:
                return
            load.frame = _concat([fresh, old.loc[keep]], load.name)
            load.total = len(load.frame)
            load.generation += 1

    # ---------------------------------------------------------------- chosen runs
    def runs_by_id(self, experiment: str, run_ids: Sequence[str]) -> pd.DataFrame:
        """The rows of the given runs of ``experiment`` (ids of other experiments or deleted
        runs are left out): from the table when it is loaded, else only those runs."""
        ids = list(dict.fromkeys(str(r) for r in run_ids))
        e = self._experiment(experiment)
        load = self._loads.get(experiment)
        if load is not None and load.done and load.error is None and \
                load.experiment_id == e.experiment_id:
            self._refresh(load)
            f = load.progress().frame
            return f.loc[f["run_id"].isin(ids)].reset_index(drop=True)
        store = self._sql_store()
        with self._reading(f"reading runs of {experiment!r}"):
            if store is not None:
                return sql_runs(store, e.experiment_id, experiment, ids)
            return self._search_ids(e.experiment_id, experiment, ids)

    def _search_ids(self, experiment_id: str, name: str, ids: list[str]) -> pd.DataFrame:
        chunks = [ids[k:k + ID_CHUNK] for k in range(0, len(ids), ID_CHUNK)]

        def fetch(chunk):
            quoted = ", ".join(_quote(x) for x in chunk)
            return list(self.client.search_runs([experiment_id], max_results=len(chunk),
                                                filter_string=f"attributes.run_id IN ({quoted})"))
        runs = [r for part in self._map(fetch, chunks) for r in part]
        return runs_frame(runs, name)[0]

    # ---------------------------------------------------------------- histories
    def history_keys(self, experiment: str, run_ids: Sequence[str]) -> list[str]:
        """Metric keys that at least one of the runs logged more than once (a curve)."""
        store = self._sql_store()
        if store is None:
            return super().history_keys(experiment, run_ids)
        from mlflow.store.tracking.dbmodels.models import SqlMetric
        from sqlalchemy import func
        ids = list(dict.fromkeys(str(r) for r in run_ids))
        keys: set[str] = set()
        with self._reading(f"reading metric names of {experiment!r}"), \
                store.ManagedSessionMaker() as session:
            for k in range(0, len(ids), SQL_ID_CHUNK):
                q = (session.query(SqlMetric.key)
                     .filter(SqlMetric.run_uuid.in_(ids[k:k + SQL_ID_CHUNK]))
                     .group_by(SqlMetric.run_uuid, SqlMetric.key)
                     .having(func.count() > 1))
                keys |= {r[0] for r in q.distinct()}
        return sorted(keys)

    def metric_history(self, experiment: str, run_ids: Sequence[str] | None = None,
                       keys: Iterable[str] | None = None) -> pd.DataFrame:
        """Histories fetched on demand, only for the runs and keys asked for: from a database
        with one query per key and 100 runs, from a server one request per run and key,
        several at a time. A finished run's history is kept in process."""
        frame = self.runs(experiment).items if run_ids is None else \
            self.runs_by_id(experiment, run_ids)
        metric_cols = [c for c in frame.columns if c.startswith("metrics.")]
        wanted = None if keys is None else set(keys)
        jobs = []
        for row in frame[["run_id", "status", "end_time", *metric_cols]].itertuples(index=False):
            for col, value in zip(metric_cols, row[3:]):
                key = col[len("metrics."):]
                if (wanted is None or key in wanted) and not pd.isna(value):
                    jobs.append((row[0], key, row[1], row[2]))
        with self._reading(f"reading metric histories of {experiment!r}"):
            fetched = self._bulk_histories(jobs)
            parts = self._map(lambda j: fetched[j[:2]] if j[:2] in fetched
                              else self._history(*j), jobs)
        rows = [(rid, key, m.step, m.timestamp, m.value)
                for (rid, key, _, _), metrics in zip(jobs, parts) for m in metrics]
        out = pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))
        out["timestamp"] = pd.to_datetime(out["timestamp"], unit="ms", utc=True)
        out["step"] = out["step"].astype("int64")
        out["value"] = out["value"].astype(float)
        return out.sort_values(["run_id", "key", "step"], kind="stable").reset_index(drop=True)

    def _bulk_histories(self, jobs: list[tuple]) -> dict[tuple, list]:
        """On a database store, the histories not yet in memory with one query per metric
        key and 100 runs (MLflow's own bulk read), instead of one request per run and key."""
        store = self._sql_store()
        if store is None or not hasattr(store, "get_metric_history_bulk"):
            return {}
        with self._lock:
            missing = [j for j in jobs if not (j[:2] in self._histories and
                                               self._histories[j[:2]][0] == (j[2], j[3]))]
        out: dict[tuple, list] = {}
        by_key: dict[str, list[tuple]] = {}
        for j in missing:
            by_key.setdefault(j[1], []).append(j)
        for key, group in by_key.items():
            for k in range(0, len(group), 100):
                chunk = group[k:k + 100]
                limit = 1_000_000
                got = store.get_metric_history_bulk([j[0] for j in chunk], key, limit)
                if len(got) >= limit:
                    return out  # too long to read at once: per run, as usual
                per_run: dict[str, list] = {j[0]: [] for j in chunk}
                for m in got:
                    per_run[m.run_id].append(m)  # a Metric that also knows its run
                for rid, status, end in ((j[0], j[2], j[3]) for j in chunk):
                    metrics = sorted(per_run[rid], key=lambda m: (m.step, m.timestamp))
                    out[(rid, key)] = metrics
                    if status != "RUNNING":
                        with self._lock:
                            self._histories[(rid, key)] = ((status, end), metrics)
        with self._lock:
            while len(self._histories) > self._histories_max:
                self._histories.popitem(last=False)
        return out

    def _history(self, run_id: str, key: str, status: str, end_time) -> list:
        cache_key = (run_id, key)
        with self._lock:
            hit = self._histories.get(cache_key)
            if hit is not None and hit[0] == (status, end_time):
                self._histories.move_to_end(cache_key)
                return hit[1]
        metrics = self.client.get_metric_history(run_id, key)
        if status != "RUNNING":
            with self._lock:
                self._histories[cache_key] = ((status, end_time), metrics)
                while len(self._histories) > self._histories_max:
                    self._histories.popitem(last=False)
        return metrics


# ------------------------------------------------------------------ reading a database
def sql_runs(store, experiment_id: str, experiment: str,
             run_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """The ``runs_frame`` of an experiment's active runs (or of the given ones) read straight
    from MLflow's tables on a database store: the same columns and values as
    ``runs_frame(search_runs(...))`` (tested), without building a ``Run`` per run."""
    from mlflow.store.tracking.dbmodels.models import (
        SqlLatestMetric, SqlParam, SqlRun, SqlTag,
    )
    from sqlalchemy import select

    active = (SqlRun.experiment_id == int(experiment_id)) & \
        (SqlRun.lifecycle_stage == "active")
    chunks = [None] if run_ids is None else \
        [list(run_ids[k:k + SQL_ID_CHUNK]) for k in range(0, len(run_ids), SQL_ID_CHUNK)]
    runs, params, metrics, tags = [], [], [], []
    with store.ManagedSessionMaker() as session:
        conn = session.connection()
        # The database driver's own cursor: hundreds of thousands of plain tuples, without
        # SQLAlchemy building a Row object for each (a third of the time otherwise).
        cursor = conn.connection.driver_connection.cursor()

        def rows(stmt, chunk, col):
            if chunk is not None:
                stmt = stmt.where(col.in_(chunk))
            sql = stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
            cursor.execute(str(sql))
            out = []
            while True:
                batch = cursor.fetchmany(FETCH)
                if not batch:
                    return out
                out += batch
                time.sleep(0)  # let a request thread run between batches
        for chunk in chunks:
            runs += rows(select(SqlRun.run_uuid, SqlRun.name, SqlRun.status,
                                SqlRun.start_time, SqlRun.end_time).where(active),
                         chunk, SqlRun.run_uuid)
            for model, out, extra in ((SqlParam, params, ()), (SqlTag, tags, ()),
                                      (SqlLatestMetric, metrics, (SqlLatestMetric.is_nan,))):
                out += rows(select(model.run_uuid, model.key, model.value, *extra)
                            .join(SqlRun, SqlRun.run_uuid == model.run_uuid).where(active),
                            chunk, model.run_uuid)
    frame = pd.DataFrame(runs, columns=["run_id", "name", "status", "start_time", "end_time"])
    frame.insert(1, "experiment", experiment)
    frame["name"] = frame["name"].fillna("")
    index = frame["run_id"]
    p = _wide(pd.DataFrame(params, columns=["run_id", "key", "value"]), "params.", index)
    for col in p.columns:  # MLflow stores text: numbers come back as numbers (param_value)
        values = p[col].dropna().unique()
        p[col] = p[col].map({v: param_value(v) for v in values})
    m = pd.DataFrame(metrics, columns=["run_id", "key", "value", "is_nan"])
    m = m.loc[~m["is_nan"].astype(bool) & np.isfinite(m["value"].astype(float))]
    m = _wide(m[["run_id", "key", "value"]], "metrics.", index).astype(float)
    t = pd.DataFrame(tags, columns=["run_id", "key", "value"])
    t = _wide(t.loc[~t["key"].str.startswith("mlflow.")], "tags.", index)
    frame = pd.concat([frame.reset_index(drop=True), p, m, t], axis=1)
    for col in ("start_time", "end_time"):
        frame[col] = pd.to_datetime(frame[col], unit="ms", utc=True)
    frame = frame.sort_values(["start_time", "run_id"], ascending=[False, True],
                              kind="stable").reset_index(drop=True)
    rest = sorted(c for c in frame.columns if c not in FIXED)
    return frame[FIXED + rest]


def _wide(long: pd.DataFrame, prefix: str, index: pd.Series) -> pd.DataFrame:
    """key/value rows as one column per key, aligned to the runs in ``index``."""
    if long.empty:
        return pd.DataFrame(index=range(len(index)))
    wide = long.drop_duplicates(["run_id", "key"], keep="last") \
        .pivot(index="run_id", columns="key", values="value")
    wide = wide.reindex(index.to_numpy())
    wide.columns = [prefix + str(c) for c in wide.columns]
    return wide.reset_index(drop=True).astype(object).where(wide.notna().to_numpy(), np.nan)


def _concat(parts: list[pd.DataFrame], experiment: str) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    if not parts:
        return runs_frame([], experiment)[0]
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    frame = frame.sort_values(["start_time", "run_id"], ascending=[False, True],
                              kind="stable").reset_index(drop=True)
    rest = sorted(c for c in frame.columns if c not in FIXED)
    return frame[FIXED + rest]


# ------------------------------------------------------------------ conversions
def runs_frame(runs: list, experiment: str) -> tuple[pd.DataFrame, tuple[Problem, ...]]:
    """MLflow runs as the flat ``runs()`` table (``mlflow.search_runs`` shape without MLflow's
    own ``mlflow.*`` tags; params that read as numbers become numbers)."""
    rows = []
    for r in runs:
        row = {"run_id": r.info.run_id, "experiment": experiment,
               "name": r.info.run_name or r.data.tags.get("mlflow.runName", "") or "",
               "status": r.info.status, "start_time": r.info.start_time,
               "end_time": r.info.end_time}
        row.update({f"params.{k}": param_value(v) for k, v in r.data.params.items()})
        row.update({f"metrics.{k}": v for k, v in _finite(r.data.metrics).items()})
        row.update({f"tags.{k}": v for k, v in r.data.tags.items()
                    if not k.startswith("mlflow.")})
        rows.append(row)
    frame = pd.DataFrame(rows) if rows else pd.DataFrame(columns=FIXED)
    for col in ("start_time", "end_time"):
        frame[col] = pd.to_datetime(frame[col], unit="ms", utc=True)
    rest = sorted(c for c in frame.columns if c not in FIXED)
    return frame[FIXED + rest], ()


def param_value(text):
    """MLflow stores params as text; ``"3"`` and ``"0.1"`` come back as the numbers they were."""
    if not isinstance(text, str):
        return text
    if re.fullmatch(r"[+-]?\d+", text.strip()):
        return int(text)
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) and not text.strip().lower().startswith(("n", "i")) \
        else text


def _finite(metrics: dict) -> dict:
    return {str(k): float(v) for k, v in metrics.items()
            if v is not None and np.isfinite(float(v))}


def _quote(value: str) -> str:
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise KeyError(value)
