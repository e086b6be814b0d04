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
registered-model tag       monitoring rows: the run named by ``modeldeck.monitoring_run``
                           holds ``modeldeck/monitoring.parquet``
experiment / run           ``Experiment`` / one row of the ``runs()`` table (``search_runs``
                           shape, paged); metric histories on demand
=========================  ===============================================================

Only MLflow's public client is used for reading, except one count query on SQL stores (so
that counting 20,000 runs does not mean fetching them). Nothing is ever written to the store.
Reads that fail because the server is down, the address is wrong or access is refused raise
``RegistryError`` with a Problem that names the URI and what to check; the next read tries
again, so the app recovers by itself when the server is back.
"""
from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import tempfile
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence, TypeVar

import numpy as np
import pandas as pd

from .base import Listing, Source
from .folder import check_prediction_columns
from .mlflow_models import (
    IMAGE_TYPES, MAX_IMAGE_BYTES, TaskAnswer, images_of, infer_task, logged_model_id,
    logged_model_metrics, read_mlmodel, run_datasets,
)
from .model import (
    COL_TIME, COL_VERSION, HISTORY_COLUMNS, BusinessSettings, Evaluation, Experiment, Model,
    ModelVersion, Monitoring, Problem, RegistryError,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

#: tag prefix of ModelDeck's settings on registered models, versions and runs
PREFIX = "modeldeck."
BUSINESS_PREFIX = PREFIX + "business."
#: artifact paths inside a run (docs/mlflow.md)
EVALUATION_DIR = "modeldeck/evaluation"
MONITORING_PATH = "modeldeck/monitoring.parquet"
MONITORING_RUN_TAG = PREFIX + "monitoring_run"
HIDDEN_TAG = PREFIX + "hidden"  # experiments ModelDeck keeps for itself (monitoring runs)
NOTE_TAG = "mlflow.note.content"  # MLflow's own description tag of experiments and runs
BUSINESS_NUMBERS = ("value_true_positive", "cost_false_positive", "cost_false_negative",
                    "volume_per_month", "cost_per_unit_error")
STAGES = {"production": "Production", "staging": "Staging", "archived": "Archived"}
INSTALL_HINT = 'pip install -e ".[mlflow]"'

# MLflow's HTTP client retries for minutes by default; a dashboard should say at once that the
# server is away and try again on the next view. The user's own settings win.
HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
                 "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "0",
                 "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0",
                 "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
PAGE = 1000  # results per request when a whole listing is needed
# A run table is re-read when a run starts or ends later than any before (data_version), and
# at the latest after this many seconds (a deleted or back-dated run changes no timestamp).
RUNS_MAX_AGE = 300.0


def import_mlflow():
    """``mlflow`` and its client, or a RegistryError that says how to install them."""
    try:
        import mlflow  # noqa: F401
        from mlflow import MlflowClient
    except ImportError as e:
        raise RegistryError(Problem(path="mlflow", field="", message=(
            f"reading an MLflow registry needs the MLflow client, which is not installed "
            f"({e.name or 'mlflow'} is missing); install it with: {INSTALL_HINT}"))) from None
    return MlflowClient


def tracking_uri_of(uri: str) -> str:
    """The URI MLflow's client expects: a bare ``mlruns`` path becomes a ``file:`` URI."""
    if uri.startswith(("http://", "https://", "sqlite:", "postgresql", "mysql", "mssql",
                       "databricks", "file:")):
        return uri
    return Path(uri).expanduser().resolve().as_uri()


class MlflowSource(Source):
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
        self._histories: OrderedDict[tuple, list] = OrderedDict()
        self._histories_max = history_cache_size
        self._runs_cache: dict[str, tuple[str, pd.DataFrame, tuple, float]] = {}
        self._counts: dict[tuple, int] = {}
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
        ids = [e[0] for e in exps]
        newest = ()
        if ids:
            for order in ("attributes.start_time DESC", "attributes.end_time DESC"):
                r = self.client.search_runs(ids, max_results=1, order_by=[order])
                newest += tuple((x.info.run_id, x.info.start_time, x.info.end_time, x.info.status)
                                for x in r)
        return models, exps, newest

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

    # ---------------------------------------------------------------- models
    def list_models(self) -> Listing[tuple[Model, ...]]:
        models, problems = [], []
        with self._reading("listing registered models"):
            registered = self._all(self.client.search_registered_models)
        for rm in sorted(registered, key=lambda m: m.name):
            if getattr(rm, "_is_prompt", lambda: False)():
                continue
            try:
                models.append(self._to_model(rm))
            except RegistryError as e:
                problems.append(e.problem)
        return Listing(tuple(models), tuple(problems))

    def get_model(self, name: str) -> Model:
        with self._reading(f"reading model {name!r}"):
            try:
                rm = self.client.get_registered_model(name)
            except Exception as e:
                if _not_found(e):
                    raise KeyError(name) from None
                raise
        return self._to_model(rm)

    def _to_model(self, rm) -> Model:
        name, tags = rm.name, dict(rm.tags or {})
        where = f"registered model '{name}'"
        if "/" in name:
            raise RegistryError(Problem(where, "name", "a name with '/' cannot be shown at a "
                                        "ModelDeck address; rename the registered model",
                                        model=name))
        answer = self._task(rm)
        task = answer.task
        business = None
        if any(k.startswith(BUSINESS_PREFIX) for k in tags):
            values = {}
            for key in BUSINESS_NUMBERS:
                raw = tags.get(BUSINESS_PREFIX + key)
                if raw is None or raw == "":
                    continue
                try:
                    value = float(raw)
                except ValueError:
                    value = math.nan
                if not math.isfinite(value):
                    raise RegistryError(Problem(where, f"tag {BUSINESS_PREFIX}{key}",
                                                f"must be a finite number, got {raw!r}",
                                                model=name))
                values[key] = value
            business = BusinessSettings(
                positive_means=tags.get(BUSINESS_PREFIX + "positive_means", ""),
                currency=tags.get(BUSINESS_PREFIX + "currency") or "EUR", **values)
        return Model(
            name=name,
            task=task,
            description=rm.description or "",
            owner=tags.get(PREFIX + "owner", ""),
            tags={k: v for k, v in tags.items() if not k.startswith((PREFIX, "mlflow."))},
            business=business,
            entity=tags.get(PREFIX + "entity", ""),
            target_unit=tags.get(PREFIX + "target_unit", ""),
            positive_label=tags.get(PREFIX + "positive_label"),
            updated_at=_time(rm.last_updated_timestamp),
            task_source=answer.source,
        )

    def _task(self, rm) -> TaskAnswer:
        """What the model predicts and where that came from (registry.mlflow_models): its
        tag when set, else read from its versions' runs, kept until the model changes."""
        tagged = infer_task(rm.tags or {}, [])
        if tagged.source.startswith("set by the registered model's tag"):
            return tagged
        version = self.data_version(rm.name)
        hit = self._tasks.get(rm.name)
        if hit is not None and hit[0] == version:
            return hit[1]
        with self._reading(f"reading the versions of {rm.name!r}"):
            raw = self._model_versions(rm.name)
            champion = {int(n) for a, n in (rm.aliases or {}).items() if a == "champion"}
            raw.sort(key=lambda v: (int(v.version) not in champion, -int(v.version)))
            raw = raw[:5]
            runs = self._runs_by_id([v.run_id for v in raw if v.run_id])
            evidence = []
            for v in raw:
                run = runs.get(v.run_id)
                if run is not None and run.info.lifecycle_stage == "deleted":
                    run = None
                mid = logged_model_id(v.source, getattr(v, "model_id", None))
                metrics = dict(run.data.metrics) if run is not None else {}
                if mid:  # metrics logged on the logged model, e.g. from another run
                    for key, value in self._logged_model_metrics(mid).items():
                        metrics.setdefault(key, value)
                names = tuple(f.path for f in self._artifacts(v.run_id, None)) \
                    if run is not None else ()
                evidence.append((f"v{v.version}", run.data.tags if run is not None else {},
                                 metrics, names,
                                 lambda v=v, mid=mid: read_mlmodel(self.client, v.run_id, mid,
                                                                   v.source)))
            answer = infer_task(rm.tags or {}, evidence)
        self._tasks[rm.name] = (version, answer)
        return answer

    def _logged_model_metrics(self, model_id: str) -> dict[str, float]:
        try:
            return logged_model_metrics(self.client.get_logged_model(model_id))
        except Exception as e:
            if _not_found(e) or isinstance(e, AttributeError):
                return {}
            raise

    def _logged_model_run(self, model_id: str) -> str | None:
        try:
            return self.client.get_logged_model(model_id).source_run_id or None
        except Exception as e:
            if _not_found(e) or isinstance(e, AttributeError):
                return None
            raise

    def image(self, model: str, version: int, path: str) -> tuple[bytes, str]:
        """The bytes and media type of a chart image stored with a version's run (a PNG,
        JPEG or SVG at the top of its artifacts, at most MAX_IMAGE_BYTES). KeyError for
        anything else: another file, a path that is not one of the run's images."""
        suffix = Path(path).suffix.lower()
        if suffix not in IMAGE_TYPES or "/" in path or "\\" in path or path.startswith("."):
            raise KeyError(path)
        with self._reading(f"reading the image {path} of {model} v{version}"):
            v = self._version(model, version)
            run_id = v.run_id or self._logged_model_run(
                logged_model_id(v.source, getattr(v, "model_id", None)) or "")
            if not run_id:
                raise KeyError(path)
            found = [f for f in images_of(self._artifacts(run_id, None)) if f.path == path]
            if not found or found[0].size > MAX_IMAGE_BYTES:
                raise KeyError(path)
            with tempfile.TemporaryDirectory(prefix="modeldeck-image-") as tmp:
                local = Path(self.client.download_artifacts(run_id, path, tmp))
                data = local.read_bytes()
        if len(data) > MAX_IMAGE_BYTES:
            raise KeyError(path)
        return data, IMAGE_TYPES[suffix]

    # ---------------------------------------------------------------- versions
    def list_versions(self, model: str) -> Listing[tuple[ModelVersion, ...]]:
        problems: list[Problem] = []
        with self._reading(f"reading the versions of {model!r}"):
            try:
                rm = self.client.get_registered_model(model)
            except Exception as e:
                if _not_found(e):
                    raise KeyError(model) from None
                raise
            raw = self._model_versions(model)
            # MLflow 3: a version registered from a logged model (models:/m-…) belongs to
            # the run that logged it; metrics may be logged on the logged model itself.
            model_ids = {v.version: logged_model_id(v.source, getattr(v, "model_id", None))
                         for v in raw}
            logged = dict(zip(
                [k for k, mid in model_ids.items() if mid],
                self._map(lambda mid: self._logged_model(mid),
                          [mid for mid in model_ids.values() if mid])))
            run_of = {v.version: v.run_id or getattr(logged.get(v.version), "source_run_id",
                                                     None) for v in raw}
            runs = self._runs_by_id([r for r in run_of.values() if r])
            deleted = {rid for rid, r in runs.items() if r.info.lifecycle_stage == "deleted"}
            runs = {rid: r for rid, r in runs.items() if rid not in deleted}
            splits = self._map(lambda v: self._splits(run_of[v.version])
                               if run_of[v.version] in runs else (), raw)
            # Stored chart images stand in for ModelDeck's own charts: listed only for the
            # versions without prediction rows.
            images = self._map(lambda vs: images_of(self._artifacts(run_of[vs[0].version], None))
                               if run_of[vs[0].version] in runs and not vs[1] else (),
                               list(zip(raw, splits)))
        # MLflow 3 may leave ``aliases`` empty on searched versions; the model has the map.
        aliases: dict[int, set[str]] = {}
        for alias, number in (rm.aliases or {}).items():
            aliases.setdefault(int(number), set()).add(alias)
        out = []
        for v, split_names, image_list in zip(raw, splits, images):
            number = int(v.version)
            run_id = run_of[v.version]
            run = runs.get(run_id)
            if run_id and run is None:
                why = "was deleted" if run_id in deleted else "cannot be found (deleted?)"
                problems.append(Problem(f"registered model '{model}' version {number}", "run_id",
                                        f"run {run_id} {why}; its params and metrics are not "
                                        "shown", model=model, severity="warning"))
            run_tags = run.data.tags if run is not None else {}
            metrics = _finite(run.data.metrics) if run is not None else {}
            lm = logged.get(v.version)
            for key, value in _finite(logged_model_metrics(lm) if lm is not None else {}
                                      ).items():
                metrics.setdefault(key, value)
            stage = STAGES.get((v.current_stage or "").lower())
            out.append(ModelVersion(
                model=model,
                version=number,
                aliases=tuple(sorted(aliases.get(number, set()) | set(v.aliases or ()))),
                stage=stage,
                created_at=_time(v.creation_timestamp),
                run_id=run_id or None,
                algorithm=(v.tags.get(PREFIX + "algorithm") or run_tags.get(PREFIX + "algorithm")
                           or run_tags.get("estimator_name") or ""),
                params=({k: param_value(x) for k, x in run.data.params.items()}
                        if run is not None else {}),
                metrics=metrics,
                description=v.description or "",
                splits=split_names,
                tags={k: x for k, x in run_tags.items() if not k.startswith("mlflow.")},
                datasets=run_datasets(run) if run is not None else (),
                images=image_list,
                model_id=model_ids.get(v.version),
            ))
        out.sort(key=lambda v: v.version, reverse=True)
        return Listing(tuple(out), tuple(problems))

    def _logged_model(self, model_id: str):
        try:
            return self.client.get_logged_model(model_id)
        except Exception as e:
            if _not_found(e) or isinstance(e, AttributeError):
                return None
            raise

    def _model_versions(self, model: str) -> list:
        return self._all(lambda **kw: self.client.search_model_versions(
            filter_string=f"name = {_quote(model)}", **kw))

    def _version(self, model: str, version: int):
        try:
            return self.client.get_model_version(model, str(int(version)))
        except Exception as e:
            if _not_found(e):
                raise KeyError(f"{model} v{version}") from None
            raise

    def _runs_by_id(self, run_ids: Sequence[str]) -> dict:
        def get(rid):
            try:
                return self.client.get_run(rid)
            except Exception as e:
                if _not_found(e):
                    return None
                raise
        return {r.info.run_id: r for r in self._map(get, list(dict.fromkeys(run_ids)))
                if r is not None}

    def _splits(self, run_id: str) -> tuple[str, ...]:
        return tuple(sorted(Path(f.path).stem for f in self._artifacts(run_id, EVALUATION_DIR)
                            if f.path.endswith(".parquet") and not f.is_dir))

    def _artifacts(self, run_id: str, path: str | None) -> list:
        try:
            return list(self.client.list_artifacts(run_id, path))
        except Exception as e:
            # A run whose artifact folder was never created: no artifacts, not an error.
            if isinstance(e, (FileNotFoundError, NotADirectoryError)) or _not_found(e):
                return []
            raise

    # ---------------------------------------------------------------- tables
    def evaluation(self, model: str, version: int, split: str | None = None) -> Evaluation:
        m = self.get_model(model)
        with self._reading(f"reading the evaluation rows of {model} v{version}"):
            v = self._version(model, version)
            files = {Path(f.path).stem: f for f in
                     (self._artifacts(v.run_id, EVALUATION_DIR) if v.run_id else [])
                     if f.path.endswith(".parquet") and not f.is_dir}
        if not m.task_known:
            raise KeyError(f"{model}'s task is unknown, so its prediction rows cannot be read; "
                           f"{m.task_source}")
        if not files:
            raise KeyError(f"{model} v{version} has no evaluation rows (no "
                           f"{EVALUATION_DIR}/<split>.parquet in run {v.run_id})")
        if split is None:
            split = "test" if "test" in files else sorted(files)[0]
        if split not in files:
            raise KeyError(f"{model} v{version} has no split {split!r}")
        info = files[split]
        rel = f"run {v.run_id}: {info.path}"
        frame = self._table(v.run_id, info, rel, model)
        check_prediction_columns(frame, m.task, rel, model)
        return Evaluation(model=model, version=int(version), split=split, frame=frame)

    def monitoring(self, model: str) -> Monitoring | None:
        m = self.get_model(model)
        if not m.task_known:
            return None  # production rows cannot be checked without a task (its page says so)
        with self._reading(f"reading the production rows of {model}"):
            rm = self.client.get_registered_model(model)
            run_id = (rm.tags or {}).get(MONITORING_RUN_TAG)
            if not run_id:
                return None
            infos = [f for f in self._artifacts(run_id, str(Path(MONITORING_PATH).parent))
                     if f.path == MONITORING_PATH]
        rel = f"run {run_id}: {MONITORING_PATH}"
        if not infos:
            raise RegistryError(Problem(rel, "", f"the tag {MONITORING_RUN_TAG} names this run, "
                                        "but it has no such artifact", model=model))
        frame = self._table(run_id, infos[0], rel, model)
        for col in (COL_TIME, COL_VERSION):
            if col not in frame.columns:
                raise RegistryError(Problem(rel, col, "required column is missing", model=model))
        check_prediction_columns(frame, m.task, rel, model, truth_required=False)
        frame = frame.copy()
        time_col = frame[COL_TIME]
        if not pd.api.types.is_datetime64_any_dtype(time_col):
            time_col = pd.to_datetime(time_col, utc=True, format="ISO8601")
        elif time_col.dt.tz is None:
            time_col = time_col.dt.tz_localize("UTC")
        frame[COL_TIME] = time_col
        return Monitoring(model=model, frame=frame)

    def _table(self, run_id: str, info, rel: str, model: str | None) -> pd.DataFrame:
        """Download one Parquet artifact into a temporary folder and parse it; parsed tables
        stay in a small in-process cache keyed by run, path and size."""
        key = (run_id, info.path, info.file_size)
        with self._lock:
            if key in self._tables:
                self._tables.move_to_end(key)
                return self._tables[key]
        with self._reading(f"downloading {rel}"), tempfile.TemporaryDirectory(
                prefix="modeldeck-mlflow-") as tmp:
            local = self.client.download_artifacts(run_id, info.path, tmp)
            try:
                frame = pd.read_parquet(local)
            except Exception as e:  # pyarrow raises many types for damaged files
                raise RegistryError(Problem(rel, "", f"cannot be read as a PARQUET table "
                                            f"({type(e).__name__}: {e})", model=model)) from None
        with self._lock:
            self._tables[key] = frame
            while len(self._tables) > self._tables_max:
                self._tables.popitem(last=False)
        return frame

    # ---------------------------------------------------------------- experiments
    def _experiments(self) -> list:
        return [e for e in self._all(self.client.search_experiments)
                if (e.tags or {}).get(HIDDEN_TAG, "").lower() != "true"]

    def _experiment(self, name: str):
        with self._reading(f"reading experiment {name!r}"):
            e = self.client.get_experiment_by_name(name)
        if e is None or e.lifecycle_stage != "active" or \
                (e.tags or {}).get(HIDDEN_TAG, "").lower() == "true":
            raise KeyError(name)
        return e

    def list_experiments(self) -> Listing[tuple[Experiment, ...]]:
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

    def runs(self, experiment: str) -> Listing[pd.DataFrame]:
        """Every run of the experiment, newest first, fetched a page of 1,000 at a time (no
        metric histories); kept in process until a run starts or ends later than any before,
        an experiment changes, or ``RUNS_MAX_AGE`` seconds pass."""
        e = self._experiment(experiment)
        version = self.data_version(None)
        hit = self._runs_cache.get(e.experiment_id)
        if hit is not None and hit[0] == version and time.monotonic() - hit[3] < RUNS_MAX_AGE:
            return Listing(hit[1], hit[2])
        with self._reading(f"reading the runs of {experiment!r}"):
            runs = [r for page in self._pages(
                lambda **kw: self.client.search_runs([e.experiment_id], **kw)) for r in page]
        frame, problems = runs_frame(runs, experiment)
        self._runs_cache[e.experiment_id] = (version, frame, problems, time.monotonic())
        return Listing(frame, problems)

    def runs_page(self, experiment: str, max_results: int = 100,
                  page_token: str | None = None) -> tuple[pd.DataFrame, str | None]:
        e = self._experiment(experiment)
        with self._reading(f"reading the runs of {experiment!r}"):
            page = self.client.search_runs([e.experiment_id], max_results=max_results,
                                           page_token=page_token)
        frame, _ = runs_frame(list(page), experiment)
        token = page.token or None
        return frame, token.decode() if isinstance(token, bytes) else token

    def metric_history(self, experiment: str, run_ids: Sequence[str] | None = None,
                       keys: Iterable[str] | None = None) -> pd.DataFrame:
        """Histories fetched on demand, one request per run and key, several at a time; a
        finished run's history is kept in process (it can no longer change)."""
        frame = self._runs_of(experiment, run_ids)
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

    def _runs_of(self, experiment: str, run_ids: Sequence[str] | None) -> pd.DataFrame:
        """The rows of the given runs: from the run table when it is already in memory, else
        only those runs (100 per request), so that comparing 1,000 runs of 20,000 does not
        fetch the other 19,000."""
        if run_ids is None:
            return self.runs(experiment).items
        ids = list(dict.fromkeys(str(r) for r in run_ids))
        e = self._experiment(experiment)
        hit = self._runs_cache.get(e.experiment_id)
        if hit is not None and hit[0] == self.data_version(None) and \
                time.monotonic() - hit[3] < RUNS_MAX_AGE:
            return hit[1].loc[hit[1]["run_id"].isin(ids)]
        chunks = [ids[k:k + 100] for k in range(0, len(ids), 100)]

        def fetch(chunk):
            quoted = ", ".join(_quote(x) for x in chunk)
            return list(self.client.search_runs([e.experiment_id], max_results=len(chunk),
                                                filter_string=f"attributes.run_id IN ({quoted})"))
        with self._reading(f"reading runs of {experiment!r}"):
            runs = [r for part in self._map(fetch, chunks) for r in part]
        return runs_frame(runs, experiment)[0]

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

    def _sql_store(self):
        try:
            from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
        except ImportError:
            return None
        store = getattr(getattr(self.client, "_tracking_client", None), "store", None)
        return store if isinstance(store, SqlAlchemyStore) else None

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


# ------------------------------------------------------------------ shared conversions
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
    fixed = ["run_id", "experiment", "name", "status", "start_time", "end_time"]
    frame = pd.DataFrame(rows) if rows else pd.DataFrame(columns=fixed)
    for col in ("start_time", "end_time"):
        frame[col] = pd.to_datetime(frame[col], unit="ms", utc=True)
    rest = sorted(c for c in frame.columns if c not in fixed)
    return frame[fixed + rest], ()


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


def explain(uri: str, error: Exception, what: str = "") -> Problem:
    """A Problem that names the URI and says what to check, from one of MLflow's errors."""
    text = str(error)
    low = text.lower()
    code = getattr(error, "error_code", "") or ""
    doing = f" while {what}" if what else ""
    if isinstance(error, ImportError):
        return Problem(path=uri, field="", message=(
            f"the Python package {error.name or 'for this database'} is missing{doing}; "
            "install the database driver MLflow needs for this URI (for example "
            "psycopg2-binary for postgresql://, pymysql for mysql://)"))
    if any(s in low for s in ("connection refused", "failed to establish", "name or service",
                              "max retries exceeded", "timed out", "timeout",
                              "connection aborted", "remotedisconnected", "connection reset",
                              "temporary failure in name resolution", "nodename nor servname")):
        msg = ("cannot reach the MLflow server" + doing + ". Check that the tracking server "
               "is running and that the address and port are right; ModelDeck tries again on "
               "the next page view")
    elif code in ("PERMISSION_DENIED", "UNAUTHENTICATED") or any(
            s in low for s in ("403", "401", "permission denied", "unauthorized", "forbidden")):
        msg = ("the MLflow server refused access" + doing + ". Check the credentials "
               "(MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and "
               "MLFLOW_TRACKING_PASSWORD) and that this user may read the experiments and "
               "registered models")
    elif code == "ENDPOINT_NOT_FOUND" or "404" in low or ("not found" in low and "api" in low) \
            or "expecting value" in low or "jsondecodeerror" in low:
        msg = ("something answers at this address, but not an MLflow tracking server" + doing
               + ". Check the URI (scheme, host, port and path prefix)")
    elif any(s in low for s in ("unable to open database", "no such table", "out-of-date",
                                "operationalerror", "database schema")):
        msg = ("the MLflow database cannot be read" + doing + f" ({_short(text)}). Check the "
               "path and that the database was made by a compatible MLflow version")
    else:
        msg = f"MLflow could not answer{doing}: {_short(text)}"
    return Problem(path=uri, field="", message=msg)


def _short(text: str, n: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n - 1] + "…"


def _not_found(e: Exception) -> bool:
    return getattr(e, "error_code", "") == "RESOURCE_DOES_NOT_EXIST"


def _quote(value: str) -> str:
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise KeyError(value)


def _finite(metrics: dict) -> dict:
    return {str(k): float(v) for k, v in metrics.items()
            if v is not None and np.isfinite(float(v))}


def _time(ms) -> datetime | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
