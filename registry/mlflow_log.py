"""Log what ModelDeck reads to MLflow, following docs/mlflow.md.

An ML engineer calls it next to MLflow's own logging::

    import mlflow
    from registry.mlflow_log import log_evaluation, set_model_settings

    set_model_settings("churn", task="binary", entity="customer", owner="retention",
                       business={"value_true_positive": 150, "cost_false_positive": 20})
    with mlflow.start_run() as run:
        ...  # train, mlflow.log_params(...), mlflow.log_metric(...)
        log_evaluation(run.info.run_id, y_true=y_test, y_score=clf.predict_proba(X_test)[:, 1],
                       segments={"region": X_test["region"]})
        mlflow.register_model(f"runs:/{run.info.run_id}/model", "churn")

The prediction rows are the same columns as the folder format (``registry.writer``'s
``prediction_frame``), stored as ``modeldeck/evaluation/<split>.parquet`` in the run.
ModelDeck's app never imports this module; it only reads.
"""
from __future__ import annotations

import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from .folder import is_valid_name
from .mlflow_client import (
    BUSINESS_PREFIX, EVALUATION_DIR, HIDDEN_TAG, MONITORING_PATH,
    MONITORING_RUN_TAG, PREFIX, import_mlflow,
)
from .model import COL_TIME, COL_VERSION, TASKS, BusinessSettings, RegistryError
from .schema import BusinessDoc, ModelDoc, SplitDoc, check, parse
from .writer import prediction_frame

MONITORING_EXPERIMENT = "modeldeck-monitoring"


def _client(client=None, tracking_uri: str | None = None):
    if client is not None:
        return client
    return import_mlflow()(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def set_model_settings(name: str, *, task: str, description: str | None = None,
                       owner: str = "", entity: str = "", target_unit: str = "",
                       positive_label: object = None,
                       business: BusinessSettings | Mapping | None = None,
                       tags: Mapping[str, str] | None = None, client=None,
                       tracking_uri: str | None = None) -> None:
    """Create the registered model ``name`` if needed and set ModelDeck's tags on it."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    b = None
    if business is not None:
        b = asdict(business) if isinstance(business, BusinessSettings) else dict(business)
        unknown = set(b) - set(BusinessDoc.model_fields)
        if unknown:
            raise ValueError(f"unknown business settings: {sorted(unknown)}")
        b = {k: v for k, v in b.items() if v is not None}
    # the schema model.json is read with, which the reader applies to these tags too
    check(ModelDoc, {"task": task, "description": description or "", "owner": owner,
                     "entity": entity, "target_unit": target_unit,
                     "positive_label": positive_label, "tags": dict(tags or {}),
                     **({"business": b} if b is not None else {})},
          f"registered model '{name}'")
    c = _client(client, tracking_uri)
    try:
        c.get_registered_model(name)
    except Exception as e:
        if getattr(e, "error_code", "") != "RESOURCE_DOES_NOT_EXIST":
            raise
        c.create_registered_model(name)
    if description is not None:
        c.update_registered_model(name, description=description)
    values: dict[str, object] = {PREFIX + "task": task, PREFIX + "owner": owner,
                                 PREFIX + "entity": entity, PREFIX + "target_unit": target_unit}
    if positive_label is not None:
        values[PREFIX + "positive_label"] = _text(positive_label)
    if b is not None:
        values.update({BUSINESS_PREFIX + k: _text(v) for k, v in b.items()})
    for key, value in {**(tags or {}), **values}.items():
        if value == "" and key.startswith(PREFIX) and key != PREFIX + "task":
            continue
        c.set_registered_model_tag(name, key, _text(value))


def log_evaluation(run_id: str, *, y_true, y_score=None, y_pred=None, proba=None,
                   classes=None, split: str = "test", timestamp=None, segments=None,
                   features=None, client=None, tracking_uri: str | None = None,
                   kind: str | None = None, description: str | None = None) -> str:
    """Store prediction rows as ``modeldeck/evaluation/<split>.parquet`` in run ``run_id``.

    ``kind`` (test, validation, fold, time, stress, other) and ``description`` (a stress
    set's change in words: "with 10% of values missing") say what the split is, as the run
    tags ``modeldeck.split.<split>.kind`` and ``.description``; without them the page reads
    the kind from the name. Returns the artifact path. A version registered from this run
    shows these rows.
    """
    if not is_valid_name(split):
        raise ValueError(f"split name {split!r}: use letters, digits, '.', '_' and '-'")
    if kind is not None or description:
        try:  # refuse what ModelDeck could not read back
            parse(SplitDoc, {k: v for k, v in (("kind", kind), ("description", description))
                             if v is not None}, f"split {split}")
        except RegistryError as e:
            raise ValueError(str(e.problem)) from None
        c = _client(client, tracking_uri)
        for field, value in (("kind", kind), ("description", description)):
            if value is not None:
                c.set_tag(run_id, f"{PREFIX}split.{split}.{field}", _text(value))
    frame = prediction_frame(y_true=y_true, y_score=y_score, y_pred=y_pred, proba=proba,
                             classes=classes, timestamp=timestamp, segments=segments,
                             features=features)
    return log_table(run_id, frame, f"{EVALUATION_DIR}/{split}.parquet", client=client,
                     tracking_uri=tracking_uri)


def log_monitoring(model: str, *, timestamp, version, y_true=None, y_score=None, y_pred=None,
                   proba=None, classes=None, segments=None, features=None, client=None,
                   tracking_uri: str | None = None,
                   artifact_location: str | None = None) -> str:
    """Add production rows of registered model ``model`` (``y_true`` may be NaN until labels
    arrive). The rows so far and the new ones are stored together in a new run of the hidden
    experiment ``modeldeck-monitoring``, and the model's tag ``modeldeck.monitoring_run`` moves
    to that run. ``artifact_location`` is used only when that experiment is created (default:
    the store's own). Returns the run id."""
    c = _client(client, tracking_uri)
    n = len(np.asarray(timestamp))
    frame = prediction_frame(y_true=y_true if y_true is not None else np.full(n, np.nan),
                             y_score=y_score, y_pred=y_pred, proba=proba, classes=classes,
                             timestamp=timestamp, segments=segments, features=features)
    frame.insert(1, COL_VERSION, np.broadcast_to(np.asarray(version), (n,)).astype(int))
    previous = c.get_registered_model(model).tags.get(MONITORING_RUN_TAG)
    if previous:
        with tempfile.TemporaryDirectory(prefix="modeldeck-") as tmp:
            old = pd.read_parquet(c.download_artifacts(previous, MONITORING_PATH, tmp))
        old[COL_TIME] = pd.to_datetime(old[COL_TIME], utc=True)
        frame = pd.concat([old, frame], ignore_index=True)
    exp = c.get_experiment_by_name(MONITORING_EXPERIMENT)
    exp_id = exp.experiment_id if exp is not None else c.create_experiment(
        MONITORING_EXPERIMENT, artifact_location=artifact_location,
        tags={HIDDEN_TAG: "true", "mlflow.note.content": "Production rows logged for ModelDeck"})
    run = c.create_run(exp_id, run_name=f"{model} monitoring",
                       tags={PREFIX + "monitoring_of": model})
    log_table(run.info.run_id, frame, MONITORING_PATH, client=c)
    c.set_terminated(run.info.run_id)
    c.set_registered_model_tag(model, MONITORING_RUN_TAG, run.info.run_id)
    return run.info.run_id


def log_table(run_id: str, frame: pd.DataFrame, artifact_path: str, *, client=None,
              tracking_uri: str | None = None) -> str:
    """Write ``frame`` as Parquet to ``artifact_path`` inside the run."""
    c = _client(client, tracking_uri)
    target = Path(artifact_path)
    with tempfile.TemporaryDirectory(prefix="modeldeck-") as tmp:
        local = Path(tmp) / target.name
        frame.to_parquet(local, index=False, compression="zstd")
        parent = str(target.parent)
        c.log_artifact(run_id, str(local), artifact_path=None if parent == "." else parent)
    return artifact_path


def _text(v) -> str:
    if isinstance(v, np.generic):
        v = v.item()
    return "" if v is None else str(v)
