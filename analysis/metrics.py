"""Metrics of prediction rows, computed with scikit-learn.

Every number ModelDeck shows about model quality comes from here, so that each one can be
tested against scikit-learn on the same rows.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from registry.model import COL_PRED, COL_SCORE, COL_TRUE, PROBA_PREFIX, Model
from registry.tables import positive_mask


@dataclass(frozen=True)
class MetricInfo:
    key: str
    name: str  # short name shown on screen
    higher_is_better: bool
    kind: str  # "ratio" (0..1, shown as a percentage or 0.xx), "money", "unit" (target unit)


METRICS: dict[str, MetricInfo] = {m.key: m for m in [
    MetricInfo("roc_auc", "ROC AUC", True, "ratio"),
    MetricInfo("average_precision", "Average precision", True, "ratio"),
    MetricInfo("accuracy", "Accuracy", True, "ratio"),
    MetricInfo("precision", "Precision", True, "ratio"),
    MetricInfo("recall", "Recall", True, "ratio"),
    MetricInfo("f1", "F1 score", True, "ratio"),
    MetricInfo("log_loss", "Log loss", False, "score"),
    MetricInfo("brier", "Brier score", False, "score"),
    MetricInfo("f1_macro", "Macro F1", True, "ratio"),
    MetricInfo("f1_weighted", "Weighted F1", True, "ratio"),
    MetricInfo("rmse", "RMSE", False, "unit"),
    MetricInfo("mae", "Mean absolute error", False, "unit"),
    MetricInfo("r2", "R²", True, "ratio"),
    MetricInfo("mape", "MAPE", False, "ratio"),
]}

HEADLINE = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "mae"}


def headline_metric(task: str) -> str:
    return HEADLINE[task]


def binary_truth(y_true: pd.Series | np.ndarray, positive_label: str | None) -> np.ndarray:
    """y_true as 0/1, where 1 is the model's positive class.

    The positive class is ``positive_label`` when the model names one, otherwise 1 / true;
    labels are compared as the registry's edge normalises them (``registry.tables.label_key``:
    ``"1"`` matches 1, 1.0 and true, ``"yes"`` matches "Yes").
    """
    return positive_mask(y_true, positive_label)


def proba_matrix(frame: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Per-class probabilities and the class labels (as text) of a multiclass table."""
    cols = [c for c in frame.columns if c.startswith(PROBA_PREFIX)]
    return frame[cols].to_numpy(dtype=float), [c[len(PROBA_PREFIX):] for c in cols]


def class_probabilities(frame: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """``proba_matrix`` with each row divided by its sum, so that a row's probabilities add
    up to 1 (as ``log_loss`` needs them); a row that sums to 0 becomes NaN."""
    p, classes = proba_matrix(frame)
    with np.errstate(invalid="ignore", divide="ignore"):
        return p / p.sum(axis=1, keepdims=True), classes


def multiclass_labels(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(y_true, y_pred) as text labels; y_pred from the table or the most probable class."""
    y_true = frame[COL_TRUE].astype(str).to_numpy()
    if COL_PRED in frame.columns:
        y_pred = frame[COL_PRED].astype(str).to_numpy()
    else:
        p, classes = proba_matrix(frame)
        y_pred = np.asarray(classes)[p.argmax(axis=1)]
    return y_true, y_pred


def binary_metrics(y: np.ndarray, score: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Binary metrics; threshold-dependent ones flag rows with score >= threshold."""
    pred = (score >= threshold).astype(int)
    out = {
        "accuracy": skm.accuracy_score(y, pred),
        "precision": skm.precision_score(y, pred, zero_division=0),
        "recall": skm.recall_score(y, pred, zero_division=0),
        "f1": skm.f1_score(y, pred, zero_division=0),
        "brier": skm.brier_score_loss(y, score),
    }
    if len(np.unique(y)) == 2:
        out["roc_auc"] = roc_auc(y, score)  # equal to skm.roc_auc_score (tested)
        out["average_precision"] = skm.average_precision_score(y, score)
        out["log_loss"] = skm.log_loss(y, np.clip(score, 1e-15, 1 - 1e-15), labels=[0, 1])
    return {k: float(v) for k, v in out.items()}


def multiclass_metrics(frame: pd.DataFrame) -> dict[str, float]:
    y_true, y_pred = multiclass_labels(frame)
    out = {
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "f1_macro": skm.f1_score(y_true, y_pred, average="macro", zero_division=0),
        "f1_weighted": skm.f1_score(y_true, y_pred, average="weighted", zero_division=0),
    }
    if any(c.startswith(PROBA_PREFIX) for c in frame.columns):
        p, classes = class_probabilities(frame)
        order = np.argsort(classes)  # scikit-learn reads the columns in the labels' sorted order
        out["log_loss"] = skm.log_loss(y_true, p[:, order], labels=[classes[i] for i in order])
    return {k: float(v) for k, v in out.items()}


def regression_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    out = {
        "rmse": skm.root_mean_squared_error(y, pred),
        "mae": skm.mean_absolute_error(y, pred),
        "r2": skm.r2_score(y, pred) if len(y) > 1 else float("nan"),
    }
    if len(y) and np.all(y != 0):
        out["mape"] = skm.mean_absolute_percentage_error(y, pred)
    return {k: float(v) for k, v in out.items()}


def compute_metrics(model: Model, frame: pd.DataFrame, threshold: float = 0.5) -> dict[str, float]:
    """All metrics of the model's task on these rows (rows without a true value are left out)."""
    frame = frame.loc[frame[COL_TRUE].notna()]
    if frame.empty:
        return {}
    if model.task == "binary":
        y = binary_truth(frame[COL_TRUE], model.positive_label)
        return binary_metrics(y, frame[COL_SCORE].to_numpy(dtype=float), threshold)
    if model.task == "multiclass":
        return multiclass_metrics(frame)
    return regression_metrics(frame[COL_TRUE].to_numpy(dtype=float),
                              frame[COL_PRED].to_numpy(dtype=float))


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC as the Mann–Whitney statistic: the share of (positive, negative) pairs in which
    the positive scores higher, ties counting one half. The same number as
    ``sklearn.metrics.roc_auc_score`` (tested), from two sorts and a search, for millions of
    production rows. NaN when only one class is present."""
    y = np.asarray(y, dtype=bool)
    score = np.asarray(score)
    pos, neg = np.sort(score[y]), np.sort(score[~y])
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    below = np.searchsorted(neg, pos, side="left")
    not_above = np.searchsorted(neg, pos, side="right")
    pairs = below.sum(dtype=np.float64) + 0.5 * (not_above - below).sum(dtype=np.float64)
    return float(pairs / (len(pos) * len(neg)))


def is_better(metric: str, new: float, old: float) -> bool:
    return new > old if METRICS[metric].higher_is_better else new < old


def relative_drop(metric: str, current: float, reference: float) -> float:
    """How much worse ``current`` is than ``reference``, as a fraction of the reference
    (positive = worse, negative = better), whatever the metric's direction."""
    if reference == 0:
        return 0.0
    change = (current - reference) / abs(reference)
    return -change if METRICS[metric].higher_is_better else change


def compute_metric(model: Model, frame: pd.DataFrame, metric: str,
                   threshold: float = 0.5) -> float:
    """One metric of ``compute_metrics`` alone, for callers that need only one — on large
    tables computing all of them costs seconds. NaN when ``compute_metrics`` would not report
    it (e.g. ROC AUC with one class only). ROC AUC uses ``roc_auc`` (one sort, tested equal to
    scikit-learn's); the others make the same scikit-learn call as ``compute_metrics``."""
    frame = frame.loc[frame[COL_TRUE].notna()]
    if frame.empty:
        return float("nan")
    if model.task == "binary":
        y = binary_truth(frame[COL_TRUE], model.positive_label)
        if metric in ("roc_auc", "average_precision", "log_loss") and len(np.unique(y)) < 2:
            return float("nan")
        raw = frame[COL_SCORE].to_numpy()
        if metric == "roc_auc":  # float32 scores sort faster and order exactly as in float64
            return roc_auc(y, raw if raw.dtype in (np.float32, np.float64) else raw.astype(float))
        score = raw.astype(float)
        pred = (score >= threshold).astype(int)
        one = {
            "average_precision": lambda: skm.average_precision_score(y, score),
            "log_loss": lambda: skm.log_loss(y, np.clip(score, 1e-15, 1 - 1e-15), labels=[0, 1]),
            "brier": lambda: skm.brier_score_loss(y, score),
            "accuracy": lambda: skm.accuracy_score(y, pred),
            "precision": lambda: skm.precision_score(y, pred, zero_division=0),
            "recall": lambda: skm.recall_score(y, pred, zero_division=0),
            "f1": lambda: skm.f1_score(y, pred, zero_division=0),
        }.get(metric)
        return float(one()) if one else float("nan")
    if model.task == "regression" and metric in ("mae", "rmse"):
        y = frame[COL_TRUE].to_numpy(dtype=float)
        p = frame[COL_PRED].to_numpy(dtype=float)
        fn = skm.mean_absolute_error if metric == "mae" else skm.root_mean_squared_error
        return float(fn(y, p))
    return float(compute_metrics(model, frame, threshold).get(metric, np.nan))


def why_undefined(model: Model, frame: pd.DataFrame, metric: str) -> str:
    """Why ``metric`` has no value on these rows (``compute_metric`` gave NaN), in plain
    words."""
    frame = frame.loc[frame[COL_TRUE].notna()]
    n = len(frame)
    if n and model.task == "binary" and metric in ("roc_auc", "average_precision", "log_loss"):
        y = binary_truth(frame[COL_TRUE], model.positive_label)
        return one_outcome_reason(n, int(y.sum()))
    zeros = int((frame[COL_TRUE].to_numpy(dtype=float) == 0).sum()) \
        if n and model.task == "regression" and metric == "mape" else 0
    return undefined_reason(model.task, metric, n, zeros)


def undefined_reason(task: str, metric: str, n: int, zeros: int = 0) -> str:
    """``why_undefined`` from counts: ``n`` labelled rows, of which ``zeros`` have a true
    value of 0 (a number model's MAPE); for what an engine counts
    (``analysis.task_rows``)."""
    if n == 0:
        return "there are no labelled rows"
    if task == "multiclass" and metric == "log_loss":
        return "it needs the probability of each class (proba.<class> columns)"
    if task == "regression" and metric == "r2":
        return ("it needs at least two rows" if n < 2 else
                "every true value is the same, so there is no variation to explain")
    if task == "regression" and metric == "mape":
        return (f"{zeros:,} of the {n:,} true values {'is' if zeros == 1 else 'are'} 0, and an "
                "error as a percentage of 0 is undefined")
    return "these rows do not allow it"


def one_outcome_reason(n: int, positives: int) -> str:
    """Why ROC AUC, average precision and log loss are undefined on ``n`` labelled rows of
    which ``positives`` are positive (all or none)."""
    which = "positive" if positives == n else "negative"
    rows = "the one row is" if n == 1 else f"all {n:,} rows are"
    return f"it needs both outcomes, and {rows} {which}"


def cannot_compute(metric: str, why: str) -> str:
    """'MAPE cannot be computed: 3 of the 442 true values are 0, …' — a metric a table or
    list would otherwise leave out without a word."""
    return f"{METRICS[metric].name} cannot be computed: {why}."
