"""The ModelDeck folder format (docs/registry-format.md), read in place.

Layout::

    <root>/models/<model>/model.json
    <root>/models/<model>/versions/<folder>/version.json
    <root>/models/<model>/versions/<folder>/evaluation/<split>.parquet | .csv
    <root>/models/<model>/monitoring.parquet | .csv
    <root>/experiments/<experiment>/experiment.json
    <root>/experiments/<experiment>/runs.jsonl
    <root>/experiments/<experiment>/history.parquet | .csv

Reads are lazy: listing models reads only the small JSON files; a prediction table is read
when a page asks for it, and kept in a small in-process cache keyed by the file's size and
modification time. Files are only ever opened for reading.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import threading
from collections import OrderedDict
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from .base import Listing, Source
from .model import (
    COL_PRED, COL_SCORE, COL_TIME, COL_TRUE, COL_VERSION, HISTORY_COLUMNS, PROBA_PREFIX, TASKS,
    BusinessSettings, Evaluation, Experiment, Model, ModelVersion, Monitoring, Problem,
    RegistryError,
)

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
TABLE_SUFFIXES = (".parquet", ".csv")
RUN_FIXED = ("run_id", "experiment", "name", "status", "start_time", "end_time")
BUSINESS_NUMBERS = ("value_true_positive", "cost_false_positive", "cost_false_negative",
                    "volume_per_month", "cost_per_unit_error")


def is_valid_name(name: str) -> bool:
    """Model and experiment names are folder names and URL segments: letters, digits, . _ -"""
    return bool(NAME_RE.match(name)) and ".." not in name


class FolderSource(Source):
    def __init__(self, root: str | os.PathLike, table_cache_size: int = 6):
        self.uri = str(root)
        self.root = Path(root).expanduser().resolve()
        if not self.root.is_dir():
            raise RegistryError(Problem(path=str(root), field="",
                                        message="no registry folder at this path"))
        self._tables: OrderedDict[tuple, pd.DataFrame] = OrderedDict()
        self._tables_max = table_cache_size
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- data versions
    def data_version(self, model: str | None = None) -> str:
        if model is None:
            paths = [self.root / "models", self.root / "experiments"]
            paths += sorted((self.root / "models").glob("*/model.json"))
            paths += sorted((self.root / "models").glob("*/versions"))
            paths += sorted((self.root / "models").glob("*/versions/*/version.json"))
            paths += sorted((self.root / "experiments").glob("*/experiment.json"))
            paths += sorted((self.root / "experiments").glob("*/runs.jsonl"))
            paths += sorted((self.root / "experiments").glob("*/history.*"))
        else:
            d = self._model_dir(model)
            paths = [d, d / "model.json", d / "versions"]
            paths += sorted(d.glob("monitoring.*"))
            paths += sorted(d.glob("versions/*"))
            paths += sorted(d.glob("versions/*/version.json"))
            paths += sorted(d.glob("versions/*/evaluation/*"))
        h = hashlib.blake2b(digest_size=10)
        for p in paths:
            try:
                st = p.stat()
                h.update(f"{p}:{st.st_mtime_ns}:{st.st_size};".encode())
            except OSError:
                h.update(f"{p}:-;".encode())
        return h.hexdigest()

    # ---------------------------------------------------------------- models
    def list_models(self) -> Listing[tuple[Model, ...]]:
        models, problems = [], []
        base = self.root / "models"
        if not base.is_dir():
            problems.append(Problem(path="models/", field="",
                                    message="the registry has no 'models' folder"))
            return Listing((), tuple(problems))
        for d in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
            try:
                models.append(self._read_model(d))
            except RegistryError as e:
                problems.append(e.problem)
        for p in problems:
            log.warning("registry problem: %s", p)
        return Listing(tuple(models), tuple(problems))

    def _model_dir(self, name: str) -> Path:
        if not is_valid_name(name):
            raise KeyError(name)
        d = self.root / "models" / name
        if not d.is_dir():
            raise KeyError(name)
        return d

    def _read_model(self, d: Path) -> Model:
        name = d.name
        path = d / "model.json"
        if not is_valid_name(name):
            raise RegistryError(Problem(self._rel(d), "", "a model folder name may use only "
                                        "letters, digits, '.', '_' and '-'", model=name))
        doc = self._read_json(path, model=name)
        task = doc.get("task")
        if task not in TASKS:
            raise RegistryError(Problem(self._rel(path), "task",
                                        f"unknown task {task!r}; expected one of "
                                        f"{', '.join(TASKS)}", model=name))
        if "name" in doc and doc["name"] != name:
            raise RegistryError(Problem(self._rel(path), "name",
                                        f"says {doc['name']!r} but the folder is {name!r}",
                                        model=name))
        business = None
        if doc.get("business") is not None:
            business = self._business(doc["business"], path, name)
        tags = doc.get("tags") or {}
        if not isinstance(tags, dict):
            raise RegistryError(Problem(self._rel(path), "tags", "must be an object of "
                                        "name: value pairs", model=name))
        positive = doc.get("positive_label")
        return Model(
            name=name,
            task=task,
            description=_text(doc.get("description")),
            owner=_text(doc.get("owner")),
            tags={str(k): _text(v) for k, v in tags.items()},
            business=business,
            entity=_text(doc.get("entity")),
            target_unit=_text(doc.get("target_unit")),
            positive_label=None if positive is None else str(positive),
            updated_at=_mtime(path),
        )

    def _business(self, b, path: Path, model: str) -> BusinessSettings:
        if not isinstance(b, dict):
            raise RegistryError(Problem(self._rel(path), "business", "must be an object",
                                        model=model))
        values = {}
        for key in BUSINESS_NUMBERS:
            v = b.get(key)
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise RegistryError(Problem(self._rel(path), f"business.{key}",
                                            f"must be a finite number, got {v!r}", model=model))
            values[key] = float(v)
        return BusinessSettings(positive_means=_text(b.get("positive_means")),
                                currency=_text(b.get("currency")) or "EUR", **values)

    # ---------------------------------------------------------------- versions
    def list_versions(self, model: str) -> Listing[tuple[ModelVersion, ...]]:
        d = self._model_dir(model)
        versions: dict[int, ModelVersion] = {}
        seen_in: dict[int, Path] = {}
        problems: list[Problem] = []
        vdir = d / "versions"
        folders = sorted(p for p in vdir.iterdir() if p.is_dir()) if vdir.is_dir() else []
        for folder in folders:
            try:
                v = self._read_version(model, folder, problems)
            except RegistryError as e:
                problems.append(e.problem)
                continue
            if v.version in versions:
                problems.append(Problem(self._rel(folder / "version.json"), "version",
                                        f"version {v.version} is also defined in "
                                        f"{self._rel(seen_in[v.version] / 'version.json')}; "
                                        "this copy is ignored", model=model))
                continue
            versions[v.version] = v
            seen_in[v.version] = folder
        for p in problems:
            log.warning("registry problem: %s", p)
        ordered = tuple(sorted(versions.values(), key=lambda v: v.version, reverse=True))
        return Listing(ordered, tuple(problems))

    def _read_version(self, model: str, folder: Path, problems: list[Problem]) -> ModelVersion:
        path = folder / "version.json"
        rel = self._rel(path)
        doc = self._read_json(path, model=model)
        raw = doc.get("version")
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
            raise RegistryError(Problem(rel, "version", f"must be a whole number >= 0, "
                                        f"got {raw!r}", model=model))
        aliases = doc.get("aliases") or []
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise RegistryError(Problem(rel, "aliases", "must be a list of names",
                                        model=model))
        metrics = {}
        for key, value in (doc.get("metrics") or {}).items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                problems.append(Problem(rel, f"metrics.{key}", f"is not a number ({value!r}); "
                                        "ignored", model=model, severity="warning"))
            elif not math.isfinite(value):
                problems.append(Problem(rel, f"metrics.{key}", f"is {value}; ignored",
                                        model=model, severity="warning"))
            else:
                metrics[str(key)] = float(value)
        created = doc.get("created_at")
        created_at = None
        if created is not None:
            try:
                created_at = _parse_time(created)
            except (TypeError, ValueError):
                problems.append(Problem(rel, "created_at", f"is not an ISO 8601 time "
                                        f"({created!r}); ignored", model=model,
                                        severity="warning"))
        params = doc.get("params") or {}
        if not isinstance(params, dict):
            raise RegistryError(Problem(rel, "params", "must be an object", model=model))
        splits = tuple(sorted({p.stem for p in (folder / "evaluation").glob("*")
                               if p.suffix in TABLE_SUFFIXES}))
        return ModelVersion(
            model=model,
            version=raw,
            aliases=tuple(aliases),
            stage=doc.get("stage") or None,
            created_at=created_at,
            run_id=doc.get("run_id") or None,
            algorithm=_text(doc.get("algorithm")),
            params=params,
            metrics=metrics,
            description=_text(doc.get("description")),
            splits=splits,
        )

    def _version_folder(self, model: str, version: int) -> Path:
        d = self._model_dir(model)
        for folder in sorted((d / "versions").glob("*")):
            try:
                doc = self._read_json(folder / "version.json", model=model)
            except RegistryError:
                continue
            if doc.get("version") == version:
                return folder
        raise KeyError(f"{model} v{version}")

    # ---------------------------------------------------------------- tables
    def get_model(self, name: str) -> Model:
        return self._read_model(self._model_dir(name))

    def evaluation(self, model: str, version: int, split: str | None = None) -> Evaluation:
        m = self.get_model(model)
        folder = self._version_folder(model, version)
        tables = {p.stem: p for p in sorted((folder / "evaluation").glob("*"))
                  if p.suffix in TABLE_SUFFIXES}
        if not tables:
            raise KeyError(f"{model} v{version} has no evaluation rows")
        if split is None:
            split = "test" if "test" in tables else sorted(tables)[0]
        if split not in tables:
            raise KeyError(f"{model} v{version} has no split {split!r}")
        path = tables[split]
        rel = self._rel(path)

        def prepare(frame: pd.DataFrame) -> pd.DataFrame:
            check_prediction_columns(frame, m.task, rel, model)
            return frame

        frame = self._read_table(path, model, prepare=(f"evaluation:{m.task}", prepare))
        return Evaluation(model=model, version=version, split=split, frame=frame)

    def monitoring(self, model: str) -> Monitoring | None:
        m = self.get_model(model)
        d = self._model_dir(model)
        path = _first_table(d / "monitoring")
        if path is None:
            return None
        rel = self._rel(path)

        def prepare(frame: pd.DataFrame) -> pd.DataFrame:
            for col in (COL_TIME, COL_VERSION):
                if col not in frame.columns:
                    raise RegistryError(Problem(rel, col, "required column is missing",
                                                model=model))
            check_prediction_columns(frame, m.task, rel, model, truth_required=False)
            times = _to_time(frame[COL_TIME], rel, model)
            if times is not frame[COL_TIME]:  # convert only when the table needs it
                frame = frame.assign(**{COL_TIME: times})
            return frame

        frame = self._read_table(path, model, prepare=(f"monitoring:{m.task}", prepare))
        return Monitoring(model=model, frame=frame)

    # ---------------------------------------------------------------- experiments
    def list_experiments(self) -> Listing[tuple[Experiment, ...]]:
        base = self.root / "experiments"
        out, problems = [], []
        if not base.is_dir():
            return Listing((), ())
        for d in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if not is_valid_name(d.name):
                problems.append(Problem(self._rel(d), "", "an experiment folder name may use "
                                        "only letters, digits, '.', '_' and '-'"))
                continue
            desc = ""
            if (d / "experiment.json").exists():
                try:
                    desc = _text(self._read_json(d / "experiment.json").get("description"))
                except RegistryError as e:
                    problems.append(e.problem)
                    continue
            count = 0
            if (d / "runs.jsonl").exists():
                with open(d / "runs.jsonl", "rb") as f:
                    count = sum(1 for line in f if line.strip())
            out.append(Experiment(name=d.name, description=desc, run_count=count))
        return Listing(tuple(out), tuple(problems))

    def _experiment_dir(self, experiment: str) -> Path:
        if not is_valid_name(experiment):
            raise KeyError(experiment)
        d = self.root / "experiments" / experiment
        if not d.is_dir():
            raise KeyError(experiment)
        return d

    def runs(self, experiment: str) -> Listing[pd.DataFrame]:
        """Parsed once per change of runs.jsonl (in-process cache keyed by its size and
        modification time, like ``_read_table``); callers must not modify the frame."""
        d = self._experiment_dir(experiment)
        path = d / "runs.jsonl"
        try:
            st = path.stat()
            key = ("runs", str(path), st.st_mtime_ns, st.st_size)
        except OSError:
            key = None
        with self._lock:
            if key is not None and key in self._tables:
                self._tables.move_to_end(key)
                return self._tables[key]
        listing = self._parse_runs(experiment, path)
        if key is not None:
            with self._lock:
                self._tables[key] = listing
                while len(self._tables) > self._tables_max:
                    self._tables.popitem(last=False)
        return listing

    def _parse_runs(self, experiment: str, path: Path) -> Listing[pd.DataFrame]:
        rel = self._rel(path)
        rows, problems = [], []
        if path.exists():
            with open(path, "r", encoding="utf-8") as f:
                for n, line in enumerate(f, start=1):
                    if not line.strip():
                        continue
                    try:
                        doc = json.loads(line)
                    except json.JSONDecodeError as e:
                        problems.append(Problem(rel, f"line {n}", f"is not valid JSON ({e.msg}); "
                                                "run skipped", severity="warning"))
                        continue
                    if not isinstance(doc, dict) or not doc.get("run_id"):
                        problems.append(Problem(rel, f"line {n}", "has no 'run_id'; run skipped",
                                                severity="warning"))
                        continue
                    rows.append(_flatten_run(doc, experiment, rel, n, problems))
        frame = pd.DataFrame(rows)
        if frame.empty:
            frame = pd.DataFrame(columns=list(RUN_FIXED))
        for col in ("start_time", "end_time"):
            frame[col] = pd.to_datetime(frame[col], utc=True, errors="coerce", format="ISO8601")
        dup = frame["run_id"].duplicated(keep="first")
        for rid in frame.loc[dup, "run_id"]:
            problems.append(Problem(rel, "run_id", f"run {rid!r} appears more than once; "
                                    "the first is kept", severity="warning"))
        frame = frame.loc[~dup].reset_index(drop=True)
        return Listing(frame, tuple(problems))

    def metric_history(self, experiment: str, run_ids: Sequence[str] | None = None,
                       keys: Iterable[str] | None = None) -> pd.DataFrame:
        d = self._experiment_dir(experiment)
        path = _first_table(d / "history")
        if path is None:
            return pd.DataFrame(columns=list(HISTORY_COLUMNS))
        frame = self._read_table(path, None)
        missing = [c for c in ("run_id", "key", "step", "value") if c not in frame.columns]
        if missing:
            raise RegistryError(Problem(self._rel(path), missing[0],
                                        "required column is missing"))
        mask = np.ones(len(frame), dtype=bool)
        if run_ids is not None:
            mask &= frame["run_id"].isin(list(run_ids)).to_numpy()
        if keys is not None:
            mask &= frame["key"].isin(list(keys)).to_numpy()
        out = frame.loc[mask]
        if "timestamp" not in out.columns:
            out = out.assign(timestamp=pd.NaT)
        return out[list(HISTORY_COLUMNS)].reset_index(drop=True)

    # ---------------------------------------------------------------- file helpers
    def _rel(self, p: Path) -> str:
        try:
            return str(p.relative_to(self.root))
        except ValueError:
            return str(p)

    def _read_json(self, path: Path, model: str | None = None) -> dict:
        rel = self._rel(path)
        try:
            with open(path, "rb") as f:
                doc = json.loads(f.read().decode("utf-8"))
        except FileNotFoundError:
            raise RegistryError(Problem(rel, "", "file is missing", model=model)) from None
        except (OSError, UnicodeDecodeError) as e:
            raise RegistryError(Problem(rel, "", f"cannot be read ({e})", model=model)) from None
        except json.JSONDecodeError as e:
            raise RegistryError(Problem(rel, "", f"is not valid JSON: {e.msg} at line {e.lineno}"
                                        f", column {e.colno}", model=model)) from None
        if not isinstance(doc, dict):
            raise RegistryError(Problem(rel, "", "must hold a JSON object", model=model))
        return doc

    def _read_table(self, path: Path, model: str | None, prepare=None) -> pd.DataFrame:
        """Read a Parquet or CSV table, cached in-process by file size and modification time.

        ``prepare`` is ``(tag, fn)``: ``fn`` checks and converts the frame once, and the
        prepared frame is what the cache keeps (keyed by ``tag`` too)."""
        rel = self._rel(path)
        try:
            st = path.stat()
        except OSError as e:
            raise RegistryError(Problem(rel, "", f"cannot be read ({e})", model=model)) from None
        tag, fn = prepare if prepare is not None else ("raw", None)
        key = (str(path), st.st_mtime_ns, st.st_size, tag)
        with self._lock:
            if key in self._tables:
                self._tables.move_to_end(key)
                return self._tables[key]
        try:
            if path.suffix == ".parquet":
                frame = _read_parquet(path)
            else:
                frame = pd.read_csv(path)
        except Exception as e:  # pyarrow and pandas raise many types for damaged files
            raise RegistryError(Problem(rel, "", f"cannot be read as a "
                                        f"{path.suffix[1:].upper()} table "
                                        f"({type(e).__name__}: {e})", model=model)) from None
        if fn is not None:
            frame = fn(frame)
        with self._lock:
            self._tables[key] = frame
            while len(self._tables) > self._tables_max:
                self._tables.popitem(last=False)
        return frame


# ---------------------------------------------------------------- shared checks
def check_prediction_columns(frame: pd.DataFrame, task: str, rel: str, model: str | None,
                             truth_required: bool = True) -> None:
    """Raise RegistryError naming the first column a task needs that the table lacks."""

    def need(col: str, why: str = "required column is missing"):
        raise RegistryError(Problem(rel, col, why, model=model))

    if truth_required and COL_TRUE not in frame.columns:
        need(COL_TRUE)
    if task == "binary":
        if COL_SCORE not in frame.columns:
            need(COL_SCORE, "required column is missing (probability of the positive class)")
        if not pd.api.types.is_numeric_dtype(frame[COL_SCORE]):
            need(COL_SCORE, "must hold numbers between 0 and 1")
        score = frame[COL_SCORE].to_numpy(dtype=float)
        if np.isnan(score).any():
            need(COL_SCORE, f"{int(np.isnan(score).sum())} rows have no score")
        if score.size and (score.min() < 0 or score.max() > 1):
            need(COL_SCORE, "must hold probabilities between 0 and 1")
    elif task == "multiclass":
        if COL_PRED not in frame.columns and not any(c.startswith(PROBA_PREFIX)
                                                     for c in frame.columns):
            need(COL_PRED, f"required column is missing (or '{PROBA_PREFIX}<class>' columns)")
    elif task == "regression":
        if COL_PRED not in frame.columns:
            need(COL_PRED)
        for col in (COL_TRUE, COL_PRED):
            if col in frame.columns and not pd.api.types.is_numeric_dtype(frame[col]):
                need(col, "must hold numbers")
    if truth_required and frame[COL_TRUE].isna().any():
        need(COL_TRUE, f"{int(frame[COL_TRUE].isna().sum())} rows have no true value")


def _read_parquet(path: Path) -> pd.DataFrame:
    """A Parquet file as a DataFrame, one column at a time: the Arrow copy of only one
    column is alive at once, so a large table does not need twice its size in memory."""
    import pyarrow.parquet as pq

    f = pq.ParquetFile(path)
    names = f.schema_arrow.names
    if f.metadata.num_rows < 1_000_000:
        return f.read().to_pandas()
    columns = {}
    for name in names:
        columns[name] = f.read(columns=[name]).to_pandas()[name]
    return pd.DataFrame(columns, copy=False)


def _first_table(stem: Path) -> Path | None:
    for suffix in TABLE_SUFFIXES:
        p = stem.with_suffix(suffix)
        if p.exists():
            return p
    return None


def _flatten_run(doc: dict, experiment: str, rel: str, line: int,
                 problems: list[Problem]) -> dict:
    row = {"run_id": str(doc["run_id"]), "experiment": experiment,
           "name": _text(doc.get("name")), "status": _text(doc.get("status")) or "FINISHED",
           "start_time": doc.get("start_time"), "end_time": doc.get("end_time")}
    for group in ("params", "metrics", "tags"):
        values = doc.get(group) or {}
        if not isinstance(values, dict):
            problems.append(Problem(rel, f"line {line}: {group}", "must be an object; ignored",
                                    severity="warning"))
            continue
        for k, v in values.items():
            if group == "metrics":
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    problems.append(Problem(rel, f"line {line}: metrics.{k}",
                                            f"is not a finite number ({v!r}); ignored",
                                            severity="warning"))
                    continue
                v = float(v)
            elif group == "tags":
                v = _text(v)
            row[f"{group}.{k}"] = v
    return row


def _to_time(col: pd.Series, rel: str, model: str | None) -> pd.Series:
    try:
        out = pd.to_datetime(col, utc=True, format="ISO8601") if not \
            pd.api.types.is_datetime64_any_dtype(col) else col
    except (TypeError, ValueError):
        raise RegistryError(Problem(rel, COL_TIME, "must hold ISO 8601 times",
                                    model=model)) from None
    if getattr(out.dt, "tz", None) is None:
        out = out.dt.tz_localize("UTC")
    return out


def _parse_time(value) -> datetime:
    t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def _mtime(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)
    except OSError:
        return None


def _text(v) -> str:
    return "" if v is None else str(v)
