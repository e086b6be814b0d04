"""The runs side of the MLflow source: experiments and their run tables.

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
* ``runs_by_id`` reads only the given runs (a comparison of 1,000 of 20,000 fetches 1,000).

Runs become table rows in ``registry.mlflow_run_frames``; metric histories are
``registry.mlflow_histories``. Used as a base of ``registry.mlflow_source.MlflowSource``; it
relies on that class's client, ``_reading``, ``data_version`` and paging helpers.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Sequence

import pandas as pd

from .base import Listing, RunsProgress
from .mlflow_run_frames import concat_runs, runs_frame, sql_runs
from .model import Experiment, Problem, RegistryError

# A run table is re-read in the background at the latest after this many seconds (a run whose
# metrics change after it finished changes no timestamp MLflow reports).
RUNS_MAX_AGE = 300.0
SEARCH_PAGE = 1000  # runs per search when a server or file store is read in the background
ID_CHUNK = 100  # run ids per "run_id IN (...)" search
FIRST_PAINT_WAIT = 5.0  # seconds a first background read waits for the first page to be shown
DATABASE_SCHEMES = ("sqlite:", "postgresql", "mysql", "mssql")


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

    def _init_runs(self) -> None:
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
                            load.frame = concat_runs(parts, load.name)
                            load.generation += 1
                frame = concat_runs(parts, load.name)
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
            fresh = concat_runs([fresh, self._search_ids(load.experiment_id, load.name, running)],
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
            load.frame = concat_runs([fresh, old.loc[keep]], load.name)
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


def _quote(value: str) -> str:
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise KeyError(value)
