"""A small Python API that writes the ModelDeck folder format.

An ML engineer calls it after training::

    from registry.writer import log_model, log_model_version

    log_model("my-registry", "churn", task="binary", description="...", entity="customer")
    log_model_version("my-registry", "churn", y_true=y_test, y_score=model.predict_proba(X)[:, 1],
                      params=model.get_params(), algorithm="GradientBoostingClassifier",
                      segments={"region": X_test.region}, aliases=["challenger"])

This is the only module that writes; ModelDeck's app never imports it. What it writes is
checked with the same schema the reader uses (``registry.schema``), so a value the reader
would refuse is a ValueError here, naming the file and the field. Every file is written
to a temporary name first and then renamed, so a reader never sees half a file.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
import uuid
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .folder import is_valid_name
from .schema import ExperimentDoc, ModelDoc, RunDoc, VersionDoc, check, data_info
from .model import (
    COL_PRED, COL_SCORE, COL_TIME, COL_TRUE, COL_VERSION, FEATURE_PREFIX, PROBA_PREFIX,
    SEGMENT_PREFIX, TASKS, BusinessSettings, ModelVersion,
)

FORMAT_VERSION = 1


def log_model(registry_dir: str | os.PathLike, name: str, task: str, *, description: str = "",
              owner: str = "", tags: Mapping[str, str] | None = None,
              business: BusinessSettings | Mapping | None = None, entity: str = "",
              target_unit: str = "", positive_label: object = None,
              card: Mapping | None = None) -> Path:
    """Create or update ``models/<name>/model.json``. ``card``: the model card's own fields
    (purpose, intended_use, out_of_scope, limitations, caveats, training_data,
    evaluation_data; docs/registry-format.md)."""
    if not is_valid_name(name):
        raise ValueError(f"model name {name!r}: use letters, digits, '.', '_' and '-'")
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    root = _init_root(registry_dir)
    doc: dict = {"name": name, "task": task, "description": description, "owner": owner,
                 "tags": dict(tags or {}), "entity": entity}
    if target_unit:
        doc["target_unit"] = target_unit
    if positive_label is not None:
        doc["positive_label"] = _plain(positive_label)
    if business is not None:
        b = asdict(business) if isinstance(business, BusinessSettings) else dict(business)
        doc["business"] = {k: v for k, v in b.items() if v is not None}
    if card is not None:
        doc["card"] = _plain_tree(dict(card))
    check(ModelDoc, doc, f"models/{name}/model.json")  # what the reader will accept
    path = root / "models" / name / "model.json"
    _write_json(path, doc)
    return path


def log_model_version(registry_dir: str | os.PathLike, model: str, *, y_true,
                      y_score=None, y_pred=None, proba=None, classes: Sequence | None = None,
                      version: int | None = None, split: str = "test", timestamp=None,
                      segments: Mapping | pd.DataFrame | None = None,
                      features: Mapping | pd.DataFrame | None = None,
                      params: Mapping | None = None, metrics: Mapping | None = None,
                      algorithm: str = "", aliases: Iterable[str] = (), stage: str | None = None,
                      run_id: str | None = None, description: str = "",
                      created_at: datetime | None = None,
                      table_format: str = "parquet",
                      training_data: Mapping | None = None) -> ModelVersion:
    """Register a new version of ``model`` with its evaluation rows on ``split``.

    ``version`` defaults to one more than the highest existing version. Aliases given here
    move to this version (an alias names one version at a time). ``training_data``:
    ``{"source": …, "rows": …, "period": …}`` of the rows it was trained on.
    """
    root = Path(registry_dir)
    model_dir = _model_dir(root, model)
    existing = _existing_versions(model_dir)
    if version is None:
        version = max(existing, default=0) + 1
    if version in existing:
        raise ValueError(f"{model} already has version {version}")
    aliases = list(aliases)
    for alias in aliases:
        _drop_alias(model_dir, alias)
    frame = prediction_frame(y_true=y_true, y_score=y_score, y_pred=y_pred, proba=proba,
                             classes=classes, timestamp=timestamp, segments=segments,
                             features=features)
    created_at = created_at or datetime.now(timezone.utc)
    doc = {
        "version": int(version),
        "aliases": aliases,
        "stage": stage,
        "created_at": created_at.isoformat(),
        "run_id": run_id,
        "algorithm": algorithm,
        "params": {str(k): _plain(v) for k, v in (params or {}).items()},
        "metrics": {str(k): float(v) for k, v in (metrics or {}).items()},
        "description": description,
    }
    if training_data is not None:
        doc["training_data"] = _plain_tree(dict(training_data))
    folder = model_dir / "versions" / str(version)
    parsed = check(VersionDoc, doc, f"models/{model}/versions/{version}/version.json")
    _write_table(frame, folder / "evaluation" / split, table_format)
    _write_json(folder / "version.json", doc)
    return ModelVersion(
        model=model, version=int(version), aliases=tuple(aliases), stage=stage,
        created_at=created_at, run_id=run_id, algorithm=algorithm, params=doc["params"],
        metrics=doc["metrics"], description=description, splits=(split,),
        training_data=data_info(parsed.training_data))


def log_evaluation(registry_dir: str | os.PathLike, model: str, version: int, split: str, *,
                   y_true, y_score=None, y_pred=None, proba=None, classes=None, timestamp=None,
                   segments=None, features=None, table_format: str = "parquet",
                   kind: str | None = None, description: str = "") -> Path:
    """Add evaluation rows on another split (e.g. ``validation``) to an existing version.

    ``kind`` (test, validation, fold, time, stress, other) and ``description`` (for a stress
    set, what was done to the rows: "with 10% of values missing") go into version.json's
    ``splits``; without them the page reads the kind from the name (``fold-3``, ``stress-…``).
    """
    folder = _version_folder(Path(registry_dir), model, version)
    if not is_valid_name(split):
        raise ValueError(f"split name {split!r}: use letters, digits, '.', '_' and '-'")
    if any((folder / "evaluation" / split).with_suffix(s).exists() for s in (".parquet", ".csv")):
        raise ValueError(f"{model} v{version} already has a {split!r} split")
    frame = prediction_frame(y_true=y_true, y_score=y_score, y_pred=y_pred, proba=proba,
                             classes=classes, timestamp=timestamp, segments=segments,
                             features=features)
    doc = None
    if kind is not None or description:
        doc = json.loads((folder / "version.json").read_text())
        entry = {"kind": kind or "other"}
        if description:
            entry["description"] = description
        doc["splits"] = {**(doc.get("splits") or {}), split: entry}
        check(VersionDoc, doc, f"models/{model}/versions/{version}/version.json")
    path = _write_table(frame, folder / "evaluation" / split, table_format)
    if doc is not None:
        _write_json(folder / "version.json", doc)
    return path


def log_folds(registry_dir: str | os.PathLike, model: str, version: int,
              folds: Sequence[Mapping], table_format: str = "parquet") -> list[Path]:
    """Add cross-validation folds ``fold-1`` … ``fold-k`` to a version: each entry of
    ``folds`` holds the keyword arguments of ``log_evaluation`` for the rows held out in
    that fold (``y_true`` and ``y_score``/``y_pred``/``proba``, as for the test split)."""
    if len(folds) < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, got {len(folds)}")
    return [log_evaluation(registry_dir, model, version, f"fold-{k}", kind="fold",
                           table_format=table_format, **dict(fold))
            for k, fold in enumerate(folds, start=1)]


def log_stress(registry_dir: str | os.PathLike, model: str, version: int, split: str,
               description: str, **rows) -> Path:
    """Add a stress set: the version's predictions on rows made harder on purpose (noise,
    missing values). ``description`` completes "<description>, recall falls from …", e.g.
    "with 10% of values missing"; ``rows`` are ``log_evaluation``'s keyword arguments."""
    if not description.strip():
        raise ValueError("a stress split needs a description of what was done to the rows")
    return log_evaluation(registry_dir, model, version, split, kind="stress",
                          description=description, **rows)


def set_alias(registry_dir: str | os.PathLike, model: str, alias: str, version: int) -> None:
    """Point ``alias`` (e.g. ``champion``) at ``version``, taking it from any other version."""
    root = Path(registry_dir)
    model_dir = _model_dir(root, model)
    folder = _version_folder(root, model, version)
    _drop_alias(model_dir, alias)
    doc = json.loads((folder / "version.json").read_text())
    doc["aliases"] = sorted(set(doc.get("aliases") or []) | {alias})
    _write_json(folder / "version.json", doc)


def log_monitoring(registry_dir: str | os.PathLike, model: str, *, timestamp, version,
                   y_true=None, y_score=None, y_pred=None, proba=None, classes=None,
                   segments=None, features=None, table_format: str = "parquet") -> Path:
    """Append production rows (``y_true`` may be missing, NaN, until labels arrive)."""
    model_dir = _model_dir(Path(registry_dir), model)
    n = len(np.asarray(timestamp))
    frame = prediction_frame(y_true=y_true if y_true is not None else np.full(n, np.nan),
                             y_score=y_score, y_pred=y_pred, proba=proba, classes=classes,
                             timestamp=timestamp, segments=segments, features=features)
    frame.insert(1, COL_VERSION, np.broadcast_to(np.asarray(version), (n,)).astype(int))
    for suffix in (".parquet", ".csv"):
        old = (model_dir / "monitoring").with_suffix(suffix)
        if old.exists():
            previous = pd.read_parquet(old) if suffix == ".parquet" else pd.read_csv(old)
            previous[COL_TIME] = pd.to_datetime(previous[COL_TIME], utc=True, format="ISO8601")
            frame = pd.concat([previous, frame], ignore_index=True)
            table_format = suffix[1:]
    return _write_table(frame, model_dir / "monitoring", table_format)


def log_experiment(registry_dir: str | os.PathLike, name: str, description: str = "") -> Path:
    if not is_valid_name(name):
        raise ValueError(f"experiment name {name!r}: use letters, digits, '.', '_' and '-'")
    root = _init_root(registry_dir)
    path = root / "experiments" / name / "experiment.json"
    doc = {"name": name, "description": description}
    check(ExperimentDoc, doc, f"experiments/{name}/experiment.json")
    _write_json(path, doc)
    return path


def log_run(registry_dir: str | os.PathLike, experiment: str, *, run_id: str | None = None,
            name: str = "", params: Mapping | None = None, metrics: Mapping | None = None,
            tags: Mapping | None = None, status: str = "FINISHED",
            start_time: datetime | None = None, end_time: datetime | None = None,
            history: pd.DataFrame | Iterable[Mapping] | None = None) -> str:
    """Append one run (and its per-step metric history) to an experiment.

    ``history`` rows have ``key``, ``step``, ``value`` and optionally ``timestamp``.
    """
    d = Path(registry_dir) / "experiments" / experiment
    if not (d / "experiment.json").exists():
        log_experiment(registry_dir, experiment)
    run_id = run_id or uuid.uuid4().hex
    doc = {"run_id": run_id, "name": name, "status": status,
           "start_time": start_time.isoformat() if start_time else None,
           "end_time": end_time.isoformat() if end_time else None,
           "params": {str(k): _plain(v) for k, v in (params or {}).items()},
           "metrics": {str(k): float(v) for k, v in (metrics or {}).items()
                       if v is not None and math.isfinite(float(v))},
           "tags": {str(k): str(v) for k, v in (tags or {}).items()}}
    check(RunDoc, doc, f"experiments/{experiment}/runs.jsonl")
    with open(d / "runs.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(doc, allow_nan=False) + "\n")
    if history is not None:
        h = pd.DataFrame(list(history) if not isinstance(history, pd.DataFrame) else history)
        if not h.empty:
            h = h.assign(run_id=run_id)
            if "timestamp" not in h.columns:
                h["timestamp"] = pd.NaT
            h = h[["run_id", "key", "step", "timestamp", "value"]]
            path = d / "history.csv"
            h.to_csv(path, mode="a", header=not path.exists(), index=False)
    return run_id


# ------------------------------------------------------------------ building tables
def prediction_frame(*, y_true, y_score=None, y_pred=None, proba=None,
                     classes: Sequence | None = None, timestamp=None, segments=None,
                     features=None) -> pd.DataFrame:
    """Put prediction rows into the documented column layout."""
    y_true = np.asarray(y_true)
    n = len(y_true)
    cols: dict[str, object] = {}
    if timestamp is not None:
        cols[COL_TIME] = pd.to_datetime(np.asarray(timestamp), utc=True)
    cols[COL_TRUE] = y_true
    if y_score is not None:
        cols[COL_SCORE] = np.asarray(y_score, dtype=float)
    if proba is not None:
        p = np.asarray(proba, dtype=float)
        if classes is None:
            raise ValueError("proba needs classes (the class of each column)")
        if p.shape != (n, len(classes)):
            raise ValueError(f"proba has shape {p.shape}, expected ({n}, {len(classes)})")
        for j, c in enumerate(classes):
            cols[f"{PROBA_PREFIX}{c}"] = p[:, j]
    if y_pred is not None:
        cols[COL_PRED] = np.asarray(y_pred)
    for prefix, group in ((SEGMENT_PREFIX, segments), (FEATURE_PREFIX, features)):
        if group is None:
            continue
        items = group.items() if isinstance(group, (Mapping, pd.DataFrame)) else group
        for k, v in items:
            cols[f"{prefix}{k}"] = np.asarray(v)
    for k, v in cols.items():
        if len(v) != n:
            raise ValueError(f"column {k!r} has {len(v)} rows, y_true has {n}")
    return pd.DataFrame(cols)


# ------------------------------------------------------------------ file helpers
def _init_root(registry_dir) -> Path:
    root = Path(registry_dir)
    (root / "models").mkdir(parents=True, exist_ok=True)
    marker = root / "modeldeck.json"
    if not marker.exists():
        _write_json(marker, {"format": "modeldeck-registry", "format_version": FORMAT_VERSION})
    return root


def _model_dir(root: Path, model: str) -> Path:
    d = root / "models" / model
    if not is_valid_name(model) or not (d / "model.json").exists():
        raise ValueError(f"no model {model!r} in {root}: call log_model first")
    return d


def _existing_versions(model_dir: Path) -> dict[int, Path]:
    out = {}
    for p in (model_dir / "versions").glob("*/version.json"):
        try:
            out[int(json.loads(p.read_text())["version"])] = p.parent
        except (ValueError, KeyError, TypeError):
            continue
    return out


def _version_folder(root: Path, model: str, version: int) -> Path:
    folder = _existing_versions(_model_dir(root, model)).get(int(version))
    if folder is None:
        raise ValueError(f"{model} has no version {version}")
    return folder


def _drop_alias(model_dir: Path, alias: str) -> None:
    for folder in _existing_versions(model_dir).values():
        path = folder / "version.json"
        doc = json.loads(path.read_text())
        if alias in (doc.get("aliases") or []):
            doc["aliases"] = [a for a in doc["aliases"] if a != alias]
            _write_json(path, doc)


def _write_json(path: Path, doc: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic(path, lambda tmp: tmp.write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n",
                                            encoding="utf-8"))


def _write_table(frame: pd.DataFrame, stem: Path, table_format: str) -> Path:
    if table_format not in ("parquet", "csv"):
        raise ValueError("table_format must be 'parquet' or 'csv'")
    path = stem.with_suffix("." + table_format)
    path.parent.mkdir(parents=True, exist_ok=True)
    if table_format == "parquet":
        _atomic(path, lambda tmp: frame.to_parquet(tmp, index=False, compression="zstd"))
    else:
        _atomic(path, lambda tmp: frame.to_csv(tmp, index=False))
    return path


def _atomic(path: Path, write) -> None:
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _plain(v):
    """JSON-friendly scalar for params (numpy numbers become Python numbers)."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return str(v)


def _plain_tree(v):
    """``_plain`` through objects and lists (a card section, a training-data object)."""
    if isinstance(v, Mapping):
        return {str(k): _plain_tree(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain_tree(x) for x in v]
    return _plain(v)
