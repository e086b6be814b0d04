"""An MLflow tracking server or store, read in place as a ModelDeck registry.

``MlflowSource("http://mlflow.internal:5000")`` (or ``sqlite:///mlflow.db``,
``postgresql://...``, ``file:///.../mlruns``) maps MLflow's entities onto ``registry.model``:

=========================  ===============================================================
MLflow                     ModelDeck
=========================  ===============================================================
registered model           ``Model``: description; owner, entity, business settings from
                           tags prefixed ``modeldeck.`` (docs/mlflow.md); other tags; the
                           task from its tag, else inferred (``registry.mlflow_models``)
model version              ``ModelVersion``: aliases (from the registered model's alias
                           map), legacy stage, description; params, metrics, tags, datasets
                           and chart images of its run (an MLflow 3 logged model's run and
                           metrics for a ``models:/m-…`` source)
artifact of the version's  evaluation rows: ``modeldeck/evaluation/<split>.parquet``
run
version tag                the "test" rows in an engine: ``modeldeck.evaluation_table`` =
                           ``<connection>:<table>`` (``registry.rows``)
registered-model tag       monitoring rows: the run named by ``modeldeck.monitoring_run``
                           holds ``modeldeck/monitoring.parquet``
experiment / run           ``Experiment`` / one row of the ``runs()`` table (``search_runs``
                           shape, paged); metric histories on demand
=========================  ===============================================================

Only MLflow's public client is used for reading, except read-only queries of MLflow's own
tables on SQL stores for runs (counts, the state of the runs, the whole run table in the
background: registry/mlflow_runs.py), so that 20,000 runs need not become 20,000 ``Run``
objects. Nothing is ever written to the store.

The class is assembled from parts with one job each: this module (connection, data versions,
paging), ``registry.mlflow_registered`` (registered models and versions),
``registry.mlflow_runs`` (experiments and run tables, made of rows by
``registry.mlflow_run_frames``), ``registry.mlflow_histories`` (metric histories),
``registry.mlflow_artifacts`` (evaluation and production rows, chart images) and
``registry.mlflow_client`` (the client, tag and artifact names, failures explained).
Reads that fail because the server is down, the address is wrong or access is refused raise
``RegistryError`` with a Problem that names the URI and what to check; the next read tries
again, so the app recovers by itself when the server is back.
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Sequence, TypeVar

import pandas as pd

from .base import Source
from .mlflow_artifacts import MlflowArtifacts
from .mlflow_client import (
    HTTP_DEFAULTS, PAGE, _import_sql_store, _not_found, explain, import_mlflow,
    tracking_uri_of,
)
from .mlflow_histories import MlflowHistories
from .mlflow_models import TaskAnswer
from .mlflow_registered import MlflowRegistered
from .mlflow_runs import DATABASE_SCHEMES, MlflowRuns, _quote
from .model import Problem, RegistryError

log = logging.getLogger(__name__)
T = TypeVar("T")


class MlflowSource(MlflowRegistered, MlflowRuns, MlflowHistories, MlflowArtifacts, Source):
    """Read-only view of one MLflow tracking store and its model registry.

    ``poll_seconds``: how long a data version may be reused before MLflow is asked again
    (one page view makes many cache look-ups; they share one round trip).
    """

    def __init__(self, uri: str, *, poll_seconds: float = 2.0, table_cache_size: int = 8,
                 history_cache_size: int = 20000, workers: int = 8):
        MlflowClient = import_mlflow()
        for key, value in HTTP_DEFAULTS.items():
            os.environ.setdefault(key, value)
        self.uri = str(uri)
        self.tracking_uri = tracking_uri_of(self.uri)
        self._check_local_store()
        if self.tracking_uri.startswith("file:"):
            # MLflow 3 refuses mlruns folders unless asked; reading one in place is the point.
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
            # Its file registry opens a default client internally, which would otherwise
            # create ./mlflow.db in the working folder: point the default at this store.
            import mlflow
            mlflow.set_tracking_uri(self.tracking_uri)
        self._client_class = MlflowClient
        self._client = None
        self.poll_seconds = poll_seconds
        self.workers = workers
        self._lock = threading.Lock()
        self._client_lock = threading.Lock()
        self._versions_seen: dict[str | None, tuple[float, str]] = {}
        self._tables: OrderedDict[tuple, pd.DataFrame] = OrderedDict()
        self._tables_max = table_cache_size
        self._init_runs()
        self._init_histories(history_cache_size)
        if self.tracking_uri.startswith(DATABASE_SCHEMES):
            # Importing MLflow's SQL store takes seconds; do it while the app starts rather
            # than in the first request (nothing is connected or read here).
            threading.Thread(target=_import_sql_store, daemon=True,
                             name="modeldeck-mlflow-import").start()
        self._tasks: dict[str, tuple[str, TaskAnswer]] = {}  # model -> (data version, answer)
        self._run_experiment: dict[str, str] = {}  # run id -> experiment id (never changes)

    @property
    def client(self):
        """MLflow's client, made on first use: a database store connects when it is made, and
        ModelDeck must start even while the database or server is away."""
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    with self._reading("connecting"):
                        self._client = self._client_class(tracking_uri=self.tracking_uri,
                                                          registry_uri=self.tracking_uri)
        return self._client

    # ---------------------------------------------------------------- errors
    def _check_local_store(self) -> None:
        """MLflow creates a missing sqlite file or mlruns folder on first use; ModelDeck never
        writes, so a local store that is not there is an error, not a new empty store."""
        u = self.tracking_uri
        if u.startswith("sqlite:///"):
            # sqlite:///relative.db or sqlite:////absolute/path.db
            path = Path(u[len("sqlite:///"):].split("?")[0])
            if not path.is_file() or path.stat().st_size == 0:
                raise RegistryError(Problem(self.uri, "", (
                    f"no MLflow database at {path}. Check the path in the sqlite:/// URI "
                    "(three slashes and a relative path, four for an absolute one)")))
        elif u.startswith("file:"):
            from urllib.parse import unquote, urlparse
            path = Path(unquote(urlparse(u).path))
            if not path.is_dir():
                raise RegistryError(Problem(self.uri, "", (
                    f"no MLflow folder (mlruns) at {path}. Check the path")))

    @contextmanager
    def _reading(self, what: str = "") -> Iterator[None]:
        """Turn MLflow's and the network's failures into a RegistryError a person can act on."""
        try:
            yield
        except (RegistryError, KeyError):
            raise
        except Exception as e:  # MLflow raises MlflowException, requests and SQL errors
            problem = explain(self.uri, e, what)
            log.warning("MLflow read failed: %s", problem)
            raise RegistryError(problem) from None

    # ---------------------------------------------------------------- data versions
    def data_version(self, model: str | None = None) -> str:
        """A digest of what MLflow says changed: registered models (tags, aliases and
        last-update times), experiments' last-update times and the newest run's start and end
        (listing); the model and its versions (one model). Reused for ``poll_seconds``."""
        now = time.monotonic()
        with self._lock:
            seen = self._versions_seen.get(model)
        if seen is not None and now - seen[0] < self.poll_seconds:
            return seen[1]
        with self._reading():
            parts = self._listing_state() if model is None else self._model_state(model)
        digest = hashlib.blake2b(repr(parts).encode(), digest_size=10).hexdigest()
        with self._lock:
            self._versions_seen[model] = (now, digest)
        return digest

    def _listing_state(self) -> tuple:
        models = tuple((m.name, m.last_updated_timestamp, sorted(m.tags.items()),
                        sorted((m.aliases or {}).items()))
                       for m in self._all(self.client.search_registered_models))
        exps = tuple((e.experiment_id, e.name, e.last_update_time, e.lifecycle_stage)
                     for e in self._experiments())
        return models, exps, self._runs_state([e[0] for e in exps])

    def _model_state(self, model: str) -> tuple:
        try:
            rm = self.client.get_registered_model(model)
        except Exception as e:
            if _not_found(e):
                return ("missing", model)
            raise
        raw = self._model_versions(model)
        versions = tuple((v.version, v.last_updated_timestamp, v.current_stage, v.run_id,
                          sorted(v.tags.items()), v.description)
                         for v in raw)
        # A run deleted (or restored) changes no version: ask for the runs' states too.
        alive = self._run_states([v.run_id for v in raw if v.run_id])
        return (rm.name, rm.last_updated_timestamp, rm.description, sorted(rm.tags.items()),
                sorted((rm.aliases or {}).items()), versions, alive)

    def _run_states(self, run_ids: Sequence[str]) -> tuple:
        """(run id, lifecycle stage, end time) of these runs, 100 per request over every
        experiment (deleted ones too), instead of one request per run."""
        from mlflow.entities import ViewType
        ids = sorted(set(run_ids))
        if not ids:
            return ()
        # A run never moves between experiments: once each run's experiment is known, only
        # those experiments are searched (one request per 100 runs).
        if all(r in self._run_experiment for r in ids):
            exps = sorted({self._run_experiment[r] for r in ids})
        else:
            exps = [e.experiment_id for e in self._all(
                lambda **kw: self.client.search_experiments(view_type=ViewType.ALL, **kw))]
        out = []
        for k in range(0, len(ids), 100):
            quoted = ", ".join(_quote(x) for x in ids[k:k + 100])
            for page in self._pages(lambda **kw: self.client.search_runs(
                    exps, filter_string=f"attributes.run_id IN ({quoted})",
                    run_view_type=ViewType.ALL, **kw), page=100):
                for r in page:
                    self._run_experiment[r.info.run_id] = r.info.experiment_id
                    out.append((r.info.run_id, r.info.lifecycle_stage, r.info.end_time))
        return tuple(sorted(out))

    # ---------------------------------------------------------------- paging helpers
    def _pages(self, search: Callable[..., list], page: int = PAGE) -> Iterator[list]:
        token = None
        while True:
            result = search(max_results=page, page_token=token)
            yield list(result)
            token = getattr(result, "token", None)
            if not token:
                return

    def _all(self, search: Callable[..., list], page: int = PAGE) -> list:
        return [x for p in self._pages(search, page) for x in p]

    def _map(self, fn: Callable[[T], object], items: Sequence[T]) -> list:
        """``fn`` over ``items``, several requests in flight when talking to a server."""
        items = list(items)
        if len(items) < 2 or not self.tracking_uri.startswith(("http://", "https://")):
            return [fn(x) for x in items]
        with ThreadPoolExecutor(max_workers=min(self.workers, len(items))) as pool:
            return list(pool.map(fn, items))
