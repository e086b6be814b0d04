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

Only MLflow's public client is used for reading, except read-only queries of MLflow's own
tables on SQL stores for runs (counts, the state of the runs, the whole run table in the
background: registry/mlflow_runs.py), so that 20,000 runs need not become 20,000 ``Run``
objects. Nothing is ever written to the store.
Reads that fail because the server is down, the address is wrong or access is refused raise
``RegistryError`` with a Problem that names the URI and what to check; the next read tries
again, so the app recovers by itself when the server is back.
"""
from __future__ import annotations

import hashlib
from dataclasses import replace
import logging
import os
import tempfile
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, ClassVar, Iterator, Sequence, TypeVar

import pandas as pd

from .base import Listing, Source
from .mlflow_models import (
    TRAINING_DATA_PREFIX, card_doc_from_tags, data_doc_from_tags, IMAGE_TYPES, MAX_IMAGE_BYTES, TaskAnswer, images_of, infer_task, logged_model_id,
    logged_model_metrics, read_mlmodel, run_datasets,
)
from .mlflow_runs import DATABASE_SCHEMES, MlflowRuns, _finite, _quote, param_value
from .rows import table_tag
from .model import (
    COL_TRUE, BusinessSettings, Evaluation,
    Model, ModelVersion, Monitoring, Problem, RegistryError,
)
from .naming import display_name, redact
from .schema import BusinessDoc, CardDoc, DataDoc, _Doc, card_info, data_info, parse
from .tables import positive_mask, prepare_predictions

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
STAGES = {"production": "Production", "staging": "Staging", "archived": "Archived"}
INSTALL_HINT = 'pip install -e ".[mlflow]"'

# MLflow's HTTP client retries for minutes by default; a dashboard should say at once that the
# server is away and try again on the next view. The user's own settings win.
HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
                 "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "0",
                 "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0",
                 "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
PAGE = 1000  # results per request when a whole listing is needed


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


def _import_sql_store() -> None:
    try:
        import mlflow.store.tracking.sqlalchemy_store  # noqa: F401
    except Exception:  # noqa: BLE001 - the first real read reports any problem
        pass


def tracking_uri_of(uri: str) -> str:
    """The URI MLflow's client expects: a bare ``mlruns`` path becomes a ``file:`` URI."""
    if uri.startswith(("http://", "https://", "sqlite:", "postgresql", "mysql", "mssql",
                       "databricks", "file:")):
        return uri
    return Path(uri).expanduser().resolve().as_uri()


class MlflowSource(MlflowRuns, Source):
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
        self._init_runs(history_cache_size)
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

    # ---------------------------------------------------------------- models
    def list_models(self) -> Listing[tuple[Model, ...]]:
        models, problems = [], []
        with self._reading("listing registered models"):
            registered = self._all(self.client.search_registered_models)
        for rm in sorted(registered, key=lambda m: m.name):
            if getattr(rm, "_is_prompt", lambda: False)():
                continue
            try:
                models.append(self._to_model(rm, problems))
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

    def _to_model(self, rm, problems: list[Problem] | None = None) -> Model:
        """The registered model as a Model; warnings (a bad card tag) go to ``problems``."""
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
            # the same schema as model.json's "business" (registry/schema.py); tags are text
            doc = {key: _number_or_text(tags[BUSINESS_PREFIX + key])
                   for key in BusinessDoc.model_fields if BUSINESS_PREFIX + key in tags
                   and tags[BUSINESS_PREFIX + key] != ""}
            b, _ = parse(BusinessDoc, doc, where, name, field_prefix=f"tag {BUSINESS_PREFIX}")
            business = BusinessSettings(**b.model_dump())
        card = None
        card_doc = card_doc_from_tags(tags)
        if card_doc is not None:
            # the same schema as model.json's "card"; a bad field is left out with a warning
            wrapped, warnings = parse(_CardHolder, {"card": card_doc}, where, name,
                                      field_prefix=f"tag {PREFIX}")
            card = card_info(wrapped.card)
            if problems is not None:
                problems += warnings
        production_table = None
        if tags.get(PREFIX + "production_table"):  # "<connection>:<table>" (registry/rows.py)
            try:
                production_table = table_tag(tags[PREFIX + "production_table"])
            except ValueError as e:
                if problems is not None:
                    problems.append(Problem(where, f"tag {PREFIX}production_table", str(e),
                                            model=name, severity="warning"))
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
            card=card,
            production_table=production_table,
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
            training = data_doc_from_tags(run_tags, TRAINING_DATA_PREFIX)
            if training is not None:
                where = f"registered model '{model}' version {number}"
                try:
                    doc, _ = parse(DataDoc, training, where, model,
                                   field_prefix=f"run tag {TRAINING_DATA_PREFIX}")
                    training = data_info(doc)
                except RegistryError as e:  # costs the training-data line, not the version
                    problems.append(replace(e.problem, severity="warning",
                                            message=e.problem.message + "; ignored"))
                    training = None
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
                training_data=training,
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
        run_label = None
        if m.task == "binary" and m.positive_label is None:
            # the modeldeck evaluator notes the positive class on the run it evaluated
            run_label = self._run_positive_label(v.run_id)
            m = replace(m, positive_label=run_label)

        def prepare(frame: pd.DataFrame):
            frame, notes = prepare_predictions(frame, m, rel, evaluation=True)
            if run_label is not None:
                # the model knows no positive class: hand analysis the labels as 1 / 0
                frame = frame.assign(**{COL_TRUE: positive_mask(frame[COL_TRUE], run_label)})
            return frame, tuple(notes)

        frame, notes = self._prepared(v.run_id, info, rel, model,
                                      ("evaluation", m.task, m.positive_label), prepare)
        return Evaluation(model=model, version=int(version), split=split, frame=frame,
                          notes=notes)

    def _prepared(self, run_id: str, info, rel: str, model: str, how: tuple, prepare):
        """A table checked and normalised once (``prepare``), kept beside the raw tables."""
        key = (run_id, info.path, info.file_size, how)
        with self._lock:
            if key in self._tables:
                self._tables.move_to_end(key)
                return self._tables[key]
        result = prepare(self._table(run_id, info, rel, model))
        with self._lock:
            self._tables[key] = result
            while len(self._tables) > self._tables_max:
                self._tables.popitem(last=False)
        return result

    def _run_positive_label(self, run_id: str) -> str | None:
        with self._reading(f"reading run {run_id}"):
            try:
                run = self.client.get_run(run_id)
            except Exception as e:
                if _not_found(e):
                    return None
                raise
        label = run.data.tags.get(PREFIX + "positive_label")
        return label if label not in (None, "") else None

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

        def prepare(frame: pd.DataFrame):
            frame, notes = prepare_predictions(frame, m, rel, evaluation=False)
            return frame, tuple(notes)

        frame, notes = self._prepared(run_id, infos[0], rel, model,
                                      ("monitoring", m.task, m.positive_label), prepare)
        return Monitoring(model=model, frame=frame, notes=notes)

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


def explain(uri: str, error: Exception, what: str = "") -> Problem:
    """A Problem that names the URI and says what to check, from one of MLflow's errors."""
    text = str(error)
    low = text.lower()
    code = getattr(error, "error_code", "") or ""
    doing = f" while {what}" if what else ""
    if isinstance(error, ImportError):
        return Problem(path=display_name(uri), field="", message=(
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
    return Problem(path=display_name(uri), field="", message=redact(msg, uri))


def _short(text: str, n: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n - 1] + "…"


def _not_found(e: Exception) -> bool:
    return getattr(e, "error_code", "") == "RESOURCE_DOES_NOT_EXIST"


def _time(ms) -> datetime | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


class _CardHolder(_Doc):
    """A registered model's card tags, validated as model.json's ``card`` (whose bad fields
    are left out with a warning naming the tag)."""

    IGNORABLE: ClassVar[frozenset[str]] = frozenset({"card"})
    card: CardDoc | None = None


def _number_or_text(raw: str):
    """A business tag as the number it spells (for the schema's checks), else the text."""
    try:
        return float(raw) if raw.strip().lower() not in ("nan", "inf", "-inf", "infinity") \
            else raw
    except ValueError:
        return raw
