"""Plain domain objects every registry source returns.

The shapes follow MLflow's entities closely enough that an MLflow source maps onto them
without changes: a registered model has versions with aliases (and an optional legacy stage),
each version points at the run that produced it, and runs carry params, metrics, tags and
per-step metric histories.

Nothing here reads files; sources build these objects at their edge.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Mapping

import pandas as pd

Task = Literal["binary", "multiclass", "regression", "unknown"]
TASKS: tuple[str, ...] = ("binary", "multiclass", "regression")
#: a model whose registry says nothing about what it predicts: listed with its versions,
#: params and logged metrics; its page says how to set the task
UNKNOWN_TASK = "unknown"

# Column conventions of evaluation and monitoring tables (see docs/registry-format.md).
COL_TRUE = "y_true"
COL_PRED = "y_pred"
COL_SCORE = "y_score"
COL_TIME = "timestamp"
COL_VERSION = "version"
PROBA_PREFIX = "proba."
SEGMENT_PREFIX = "segment."
FEATURE_PREFIX = "feature."


@dataclass(frozen=True)
class BusinessSettings:
    """What a prediction is worth to the business. All money in ``currency`` per event."""

    positive_means: str = ""  # e.g. "the customer leaves within 90 days"
    value_true_positive: float | None = None  # value of a positive caught
    cost_false_positive: float | None = None  # cost of a false alarm
    cost_false_negative: float | None = None  # cost of a missed positive
    volume_per_month: float | None = None  # predictions made per month
    currency: str = "EUR"
    cost_per_unit_error: float | None = None  # regression: cost of one unit of absolute error


@dataclass(frozen=True)
class DataInfo:
    """Where rows came from, as the registry documents it (any field may be empty)."""

    source: str = ""
    rows: int | None = None
    period: str = ""


#: what an evaluation split is for (docs/registry-format.md, "Evaluation splits")
SPLIT_KINDS = ("test", "validation", "fold", "time", "stress", "other")
_FOLD_NAME = re.compile(r"fold-\d+")


@dataclass(frozen=True)
class SplitInfo:
    """What one evaluation split is: its kind and, for a stress set, what was done to the
    rows in words ("with 10% of values missing")."""

    kind: str = "other"
    description: str = ""


def split_info(version: "ModelVersion", split: str) -> SplitInfo:
    """A split's documented kind and description; without metadata the kind follows from
    the name: ``test``, ``validation``, ``fold-<n>``, ``stress-…``, else ``other``."""
    documented = version.split_info.get(split)
    if documented is not None:
        return documented
    if split in ("test", "validation"):
        return SplitInfo(split)
    if _FOLD_NAME.fullmatch(split):
        return SplitInfo("fold")
    if split.startswith("stress-"):
        return SplitInfo("stress", split.removeprefix("stress-").replace("-", " "))
    return SplitInfo()


@dataclass(frozen=True)
class CardInfo:
    """What a model card needs beyond the rest of the registry: model.json's ``card`` section
    or, in MLflow, the registered model's ``modeldeck.card.*`` tags (docs/registry-format.md).
    Empty fields are shown as "not documented yet"."""

    purpose: str = ""
    intended_use: str = ""
    out_of_scope: str = ""
    limitations: tuple[str, ...] = ()
    caveats: tuple[str, ...] = ()
    training_data: DataInfo | None = None
    evaluation_data: DataInfo | None = None


@dataclass(frozen=True)
class Model:
    name: str
    task: str
    description: str = ""
    owner: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    business: BusinessSettings | None = None
    entity: str = ""  # what one row is, in plain words: "customer", "patient", "wine"
    target_unit: str = ""  # regression: unit of the target ("points", "EUR")
    positive_label: str | None = None  # binary: the class value that counts as positive
    updated_at: datetime | None = None
    #: where ``task`` came from, in words: "set in the model's settings", "inferred from the
    #: metrics mlflow.evaluate logged on v2", or why it is unknown and how to set it
    task_source: str = "set in the model's settings"
    card: CardInfo | None = None  # the model card's own fields, when documented
    #: production rows in an external engine: (connection, table) (registry/rows.py)
    production_table: tuple[str, str] | None = None

    @property
    def task_known(self) -> bool:
        return self.task in TASKS


@dataclass(frozen=True)
class LoggedDataset:
    """A dataset a version's run logged as an input (MLflow's ``log_input``)."""

    name: str
    digest: str = ""
    context: str = ""  # "training", "eval", … (MLflow's mlflow.data.context tag)
    source: str = ""  # where the data came from, as MLflow describes it


@dataclass(frozen=True)
class LoggedImage:
    """A chart image stored with a version (e.g. what mlflow.evaluate drew)."""

    path: str  # relative to the run's artifacts
    size: int = 0


@dataclass(frozen=True)
class ModelVersion:
    model: str
    version: int
    aliases: tuple[str, ...] = ()
    stage: str | None = None  # legacy MLflow stage: Staging / Production / Archived
    created_at: datetime | None = None
    run_id: str | None = None
    algorithm: str = ""
    params: Mapping[str, object] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    description: str = ""
    splits: tuple[str, ...] = ()  # evaluation splits stored for this version
    tags: Mapping[str, str] = field(default_factory=dict)  # of its run (not mlflow.*)
    datasets: tuple[LoggedDataset, ...] = ()
    images: tuple[LoggedImage, ...] = ()
    model_id: str | None = None  # MLflow 3 logged model (models:/m-…) it was registered from
    training_data: DataInfo | None = None  # the rows it was trained on, when documented
    #: documented kind/description of some splits (version.json ``splits``); see split_info
    split_info: Mapping[str, SplitInfo] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"v{self.version}"


@dataclass(frozen=True)
class Experiment:
    name: str
    description: str = ""
    run_count: int = 0


@dataclass(frozen=True)
class Run:
    id: str
    experiment: str
    name: str = ""
    status: str = "FINISHED"
    start_time: datetime | None = None
    end_time: datetime | None = None
    params: Mapping[str, object] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)


# A metric history is a DataFrame with these columns, one row per logged point.
HISTORY_COLUMNS = ("run_id", "key", "step", "timestamp", "value")


@dataclass(frozen=True)
class Evaluation:
    """Prediction rows of one model version on one split.

    ``frame`` holds ``y_true`` and, by task, ``y_score`` (binary: probability of the positive
    class), ``proba.<class>`` columns (multiclass) and/or ``y_pred``; optional ``timestamp``,
    ``segment.<name>`` and ``feature.<name>`` columns.
    """

    model: str
    version: int
    split: str
    frame: pd.DataFrame
    notes: tuple[str, ...] = ()  # what was normalised or left out when the table was read

    @property
    def segment_columns(self) -> list[str]:
        return [c for c in self.frame.columns if c.startswith(SEGMENT_PREFIX)]

    @property
    def feature_columns(self) -> list[str]:
        return [c for c in self.frame.columns if c.startswith(FEATURE_PREFIX)]

    @property
    def proba_columns(self) -> list[str]:
        return [c for c in self.frame.columns if c.startswith(PROBA_PREFIX)]


@dataclass(frozen=True)
class Monitoring:
    """Production rows of one model: ``timestamp``, ``version`` and the evaluation columns;
    ``y_true`` is missing (NaN) where labels have not arrived yet."""

    model: str
    frame: pd.DataFrame
    notes: tuple[str, ...] = ()  # what was normalised or left out when the table was read


@dataclass(frozen=True)
class Problem:
    """Something in the registry that could not be read as documented.

    ``severity`` is ``error`` when the thing it names is unusable (a model, a version, a table)
    and ``warning`` when only a part of it was ignored (one metric, one line).
    """

    path: str  # file, relative to the registry root where possible
    field: str  # the field, column or line at fault ("" when the whole file is)
    message: str
    model: str | None = None
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = f"{self.path}, field '{self.field}'" if self.field else self.path
        return f"{where}: {self.message}"


class RegistryError(Exception):
    """A registry file or table that breaks the documented format; carries a Problem."""

    def __init__(self, problem: Problem):
        super().__init__(str(problem))
        self.problem = problem


# ------------------------------------------------------------------ roles of versions
def champion_of(versions: tuple[ModelVersion, ...]) -> tuple[ModelVersion | None, str]:
    """The version in production: alias ``champion``, else legacy stage Production, else newest."""
    for v in versions:
        if "champion" in v.aliases:
            return v, "alias 'champion'"
    for v in versions:
        if (v.stage or "").lower() == "production":
            return v, "stage Production"
    if versions:
        return max(versions, key=lambda v: v.version), "newest version"
    return None, ""


def challenger_of(versions: tuple[ModelVersion, ...]) -> ModelVersion | None:
    """The version carrying the alias ``challenger``, if any."""
    for v in versions:
        if "challenger" in v.aliases:
            return v
    return None
