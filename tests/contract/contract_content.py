"""The content every source is built from in the contract suite, and one writer per source.

``CONTENT`` describes a small registry in plain values: three models (one per task), versions
with aliases, a legacy stage and one version without evaluation rows, production rows, and an
experiment with runs and per-step histories. ``write_folder`` writes it with ``registry.writer``;
``write_mlflow`` writes the same content with MLflow's own client (and ``registry.mlflow_log``
for what MLflow has no place for), so the same expectations can be checked against both.
"""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from registry.model import BusinessSettings
from registry.writer import (
    log_experiment, log_model, log_model_version, log_monitoring, log_run, prediction_frame,
)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
TRAINING_EXPERIMENT = "contract-training"  # MLflow only: where the versions' runs live


@dataclass(frozen=True)
class VersionSpec:
    version: int
    rows: dict | None  # keyword arguments of prediction_frame; None: no evaluation rows
    aliases: tuple[str, ...] = ()
    stage: str | None = None
    params: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    algorithm: str = ""
    description: str = ""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    task: str
    versions: tuple[VersionSpec, ...]
    description: str = ""
    owner: str = ""
    entity: str = ""
    target_unit: str = ""
    positive_label: str | None = None
    tags: dict = field(default_factory=dict)
    business: BusinessSettings | None = None
    monitoring: dict | None = None  # keyword arguments of log_monitoring (timestamp, version…)


@dataclass(frozen=True)
class RunSpec:
    name: str
    params: dict
    metrics: dict  # final values; a metric with a history ends on its last value
    tags: dict
    start: datetime
    end: datetime
    history: pd.DataFrame  # key, step, timestamp, value


@dataclass(frozen=True)
class ExperimentSpec:
    name: str
    description: str
    runs: tuple[RunSpec, ...]


@dataclass(frozen=True)
class Content:
    models: tuple[ModelSpec, ...]
    experiments: tuple[ExperimentSpec, ...]

    def model(self, name: str) -> ModelSpec:
        return next(m for m in self.models if m.name == name)

    def version(self, model: str, version: int) -> VersionSpec:
        return next(v for v in self.model(model).versions if v.version == version)

    def evaluation_frame(self, model: str, version: int) -> pd.DataFrame:
        return prediction_frame(**self.version(model, version).rows)

    def monitoring_frame(self, model: str) -> pd.DataFrame:
        spec = dict(self.model(model).monitoring)
        version = spec.pop("version")
        frame = prediction_frame(**spec)
        frame.insert(1, "version", np.broadcast_to(np.asarray(version),
                                                   (len(frame),)).astype(int))
        return frame


def build_content(n: int = 120, seed: int = 7) -> Content:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    region = rng.choice(["north", "south"], n)
    churn_versions = []
    for v, noise in ((1, 1.2), (2, 0.8), (3, 0.6)):
        score = 1 / (1 + np.exp(-(2 * y - 1) * 1.5 + rng.normal(0, noise, n)))
        churn_versions.append(VersionSpec(
            version=v, rows=dict(y_true=y, y_score=score, segments={"region": region},
                                 features={"tenure": rng.normal(12, 4, n).round(2)}),
            aliases=("champion",) if v == 2 else (("challenger",) if v == 3 else ()),
            stage="Archived" if v == 1 else None,
            params={"C": 0.5 * v, "penalty": "l2", "max_iter": 100 * v},
            metrics={"cv_auc": 0.7 + v / 100, "train_seconds": 3.5 * v},
            algorithm="LogisticRegression", description=f"churn version {v}"))
    # A fourth version was registered without prediction rows: metrics only.
    churn_versions.append(VersionSpec(version=4, rows=None, params={"C": 4.0},
                                      metrics={"cv_auc": 0.75}, algorithm="LogisticRegression",
                                      description="metrics only, no predictions logged"))
    months = pd.date_range("2026-01-01", periods=3, freq="MS", tz="UTC")
    ts = np.repeat(months, 50) + pd.to_timedelta(np.tile(np.arange(50), 3), unit="h")
    ym = rng.integers(0, 2, len(ts)).astype(float)
    sm = 1 / (1 + np.exp(-(2 * ym - 1) * 1.5 + rng.normal(0, 0.8, len(ts))))
    ym[-50:] = np.nan
    churn = ModelSpec(
        name="churn", task="binary", versions=tuple(churn_versions),
        description="Who will cancel within 90 days", owner="retention-team",
        entity="customer", positive_label="1", tags={"domain": "crm"},
        business=BusinessSettings(positive_means="the customer cancels",
                                  value_true_positive=100.0, cost_false_positive=10.0,
                                  cost_false_negative=20.0, volume_per_month=1000.0),
        monitoring=dict(timestamp=ts, version=2, y_true=ym, y_score=sm))

    yc = rng.integers(0, 3, n)
    iris_versions = []
    for v in (1, 2):
        p = rng.dirichlet(np.ones(3), n)
        p[np.arange(n), yc] += v * 0.5
        p = p / p.sum(axis=1, keepdims=True)
        iris_versions.append(VersionSpec(
            version=v, rows=dict(y_true=yc, proba=p, classes=[0, 1, 2], y_pred=p.argmax(axis=1)),
            aliases=("champion",) if v == 2 else (), params={"trees": 50 * v},
            metrics={"accuracy": 0.8 + v / 50}, algorithm="RandomForestClassifier"))
    iris = ModelSpec(name="iris", task="multiclass", versions=tuple(iris_versions),
                     description="Which flower", entity="flower")

    yr = rng.normal(300, 50, n).round(3)
    price_versions = tuple(
        VersionSpec(version=v, rows=dict(y_true=yr, y_pred=(yr + rng.normal(0, 40 / v, n))),
                    stage="Production" if v == 2 else None, metrics={"rmse": 40.0 / v})
        for v in (1, 2))
    price = ModelSpec(name="price", task="regression", versions=price_versions,
                      description="House prices", entity="house", target_unit="kEUR")

    runs = []
    for i in range(5):
        start = T0 + timedelta(hours=i)
        steps = np.arange(8)
        loss = np.round(np.linspace(1.0, 0.2 + 0.05 * i, len(steps)), 6)
        history = pd.DataFrame({"key": "val_loss", "step": steps,
                                "timestamp": [start + timedelta(seconds=10 * int(s))
                                              for s in steps],
                                "value": loss})
        runs.append(RunSpec(
            name=f"trial-{i}", params={"lr": round(0.05 * (i + 1), 2), "depth": 2 + i % 3,
                                       "booster": "hist"},
            metrics={"val_auc": 0.8 + i / 100, "val_loss": float(loss[-1])},
            tags={"sweep": "grid", "seed": str(i)}, start=start,
            end=start + timedelta(minutes=5), history=history))
    sweep = ExperimentSpec(name="sweep", description="A small grid of learning rates",
                           runs=tuple(runs))
    return Content(models=(churn, iris, price), experiments=(sweep,))


CONTENT = build_content()


# ------------------------------------------------------------------ folder
def write_folder(content: Content, root: Path) -> Path:
    """The content as a ModelDeck registry folder, written with registry.writer."""
    for m in content.models:
        log_model(root, m.name, m.task, description=m.description, owner=m.owner,
                  tags=m.tags, business=m.business, entity=m.entity,
                  target_unit=m.target_unit, positive_label=m.positive_label)
        for v in m.versions:
            if v.rows is None:
                # The writer always stores rows; a version without them is written by hand,
                # exactly as docs/registry-format.md describes version.json.
                folder = root / "models" / m.name / "versions" / str(v.version)
                folder.mkdir(parents=True)
                (folder / "version.json").write_text(json.dumps({
                    "version": v.version, "aliases": list(v.aliases), "stage": v.stage,
                    "algorithm": v.algorithm, "params": v.params, "metrics": v.metrics,
                    "description": v.description, "created_at": T0.isoformat()}))
                continue
            log_model_version(root, m.name, **v.rows, version=v.version,
                              params=v.params, metrics=v.metrics, algorithm=v.algorithm,
                              aliases=v.aliases, stage=v.stage, description=v.description,
                              created_at=T0 + timedelta(days=v.version))
        if m.monitoring is not None:
            log_monitoring(root, m.name, **m.monitoring)
    for e in content.experiments:
        log_experiment(root, e.name, e.description)
        for r in e.runs:
            log_run(root, e.name, name=r.name, params=r.params, metrics=r.metrics,
                    tags=r.tags, start_time=r.start, end_time=r.end, history=r.history)
    return root


# ------------------------------------------------------------------ MLflow
def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def write_mlflow(content: Content, client, artifact_location: str | None = None) -> None:
    """The same content in an MLflow store, written with MLflow's client: registered models
    and versions, runs with params and metrics, aliases and stages, experiments, histories;
    prediction rows and settings through registry.mlflow_log (docs/mlflow.md)."""
    from mlflow.entities import Metric, Param, RunTag

    from registry.mlflow_log import log_evaluation, log_monitoring, set_model_settings

    training = client.create_experiment(TRAINING_EXPERIMENT,
                                        artifact_location=artifact_location)
    for m in content.models:
        set_model_settings(m.name, task=m.task, description=m.description, owner=m.owner,
                           entity=m.entity, target_unit=m.target_unit,
                           positive_label=m.positive_label, business=m.business, tags=m.tags,
                           client=client)
        for v in sorted(m.versions, key=lambda v: v.version):
            run = client.create_run(training, run_name=f"{m.name}-v{v.version}")
            rid = run.info.run_id
            client.log_batch(rid, params=[Param(k, str(x)) for k, x in v.params.items()],
                             metrics=[Metric(k, float(x), _ms(T0), 0)
                                      for k, x in v.metrics.items()])
            if v.rows is not None:
                log_evaluation(rid, **v.rows, client=client)
            client.set_terminated(rid)
            mv = client.create_model_version(m.name, source=f"{run.info.artifact_uri}/model",
                                             run_id=rid, description=v.description or None,
                                             tags={"modeldeck.algorithm": v.algorithm}
                                             if v.algorithm else None)
            assert int(mv.version) == v.version, (m.name, mv.version, v.version)
            for alias in v.aliases:
                client.set_registered_model_alias(m.name, alias, str(v.version))
            if v.stage:
                with warnings.catch_warnings():  # legacy stages are deprecated, still read
                    warnings.simplefilter("ignore", FutureWarning)
                    client.transition_model_version_stage(m.name, str(v.version), v.stage)
        if m.monitoring is not None:
            log_monitoring(m.name, **m.monitoring, client=client,
                           artifact_location=artifact_location)
    for e in content.experiments:
        exp = client.create_experiment(e.name, artifact_location=artifact_location,
                                       tags={"mlflow.note.content": e.description})
        for r in e.runs:
            run = client.create_run(exp, start_time=_ms(r.start), run_name=r.name,
                                    tags=r.tags)
            rid = run.info.run_id
            history = [Metric(row.key, float(row.value), _ms(row.timestamp), int(row.step))
                       for row in r.history.itertuples()]
            finals = [Metric(k, float(x), _ms(r.end), 0) for k, x in r.metrics.items()
                      if k not in set(r.history["key"])]
            client.log_batch(rid, metrics=history + finals,
                             params=[Param(k, str(x)) for k, x in r.params.items()],
                             tags=[RunTag(k, v) for k, v in r.tags.items()])
            client.set_terminated(rid, end_time=_ms(r.end))


def write_sqlite_store(root, content: Content = CONTENT) -> str:
    """``content`` written with the real MLflow client into a new sqlite store under ``root``;
    returns its URI."""
    from mlflow import MlflowClient
    uri = f"sqlite:///{root / 'mlflow.db'}"
    write_mlflow(content, MlflowClient(tracking_uri=uri, registry_uri=uri),
                 artifact_location=(root / "artifacts").as_uri())
    return uri
