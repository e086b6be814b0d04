"""Everything the model page shows about one version's evaluation rows, put together.

``evaluate`` gathers the metrics with their bootstrap intervals (``analysis.uncertainty``), the
task's charts — a yes/no model's curves (``analysis.curves``), a several-class model's
details (``analysis.multiclass``), a number model's scatter of actual against predicted — and
the segment table. Scatter plots of many rows are binned.

Threshold-dependent numbers (confusion matrix, precision, recall, accuracy, F1) depend only on
the four counts at the threshold, so ``at_threshold`` computes them from counts and their
bootstrap intervals from a multinomial draw of the four cells, which is the row bootstrap.

``version_evaluation`` and ``threshold_result`` are the cached forms a page and a report
call; they read the rows through ``analysis.reads``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from registry.model import COL_PRED, COL_SCORE, COL_TRUE, SEGMENT_PREFIX, Model

from .curves import BinaryCurves, binary_curves
from .metrics import METRICS, binary_truth, compute_metric, headline_metric, why_undefined
from .multiclass import MulticlassDetails, multiclass_details
from .reads import evaluation_frame, evaluation_table
from .uncertainty import (
    MIN_JUDGE_ROWS, SECONDARY, BootstrapSettings, Interval, bootstrap_intervals, too_few_rows,
)

MAX_SCATTER_POINTS = 2_000


# ------------------------------------------------------------------ results
@dataclass(frozen=True)
class ThresholdResult:
    threshold: float
    tp: int
    fp: int
    fn: int
    tn: int
    metrics: dict  # accuracy, precision, recall, f1 -> Interval

    @property
    def flagged(self) -> int:
        return self.tp + self.fp

    @property
    def undefined(self) -> dict[str, str]:
        """Metrics at this threshold that have no value, with why. ``metrics`` keeps
        scikit-learn's ``zero_division=0`` for them (so F1 and the intervals stay defined);
        a page shows the reason instead of that 0."""
        out = {}
        if self.flagged == 0:
            out["precision"] = ("the model flags no case at this threshold, so no flagged "
                                "case can be right or wrong")
        if self.tp + self.fn == 0:
            out["recall"] = "there is no positive case in these rows to find"
        return out

    @property
    def matrix(self) -> np.ndarray:
        """Rows: truth (negative, positive); columns: prediction (negative, positive)."""
        return np.array([[self.tn, self.fp], [self.fn, self.tp]])


@dataclass(frozen=True)
class Binned:
    """A scatter of many rows: the points themselves when few, else counts on a grid."""

    kind: str  # "points" | "bins"
    x: np.ndarray  # points: x of each row; bins: bin centres along x
    y: np.ndarray
    counts: np.ndarray | None = None  # bins: counts[y_bin, x_bin]
    rows: int = 0


@dataclass(frozen=True)
class RegressionDiagnostics:
    actual_vs_predicted: Binned  # x: predicted, y: actual
    residuals: Binned  # x: predicted, y: actual − predicted
    errors: pd.DataFrame  # bin_left, bin_right, rows (histogram of actual − predicted)


@dataclass(frozen=True)
class VersionEvaluation:
    """What the model page shows for one version (all but the threshold-dependent parts)."""

    model: str
    version: int
    task: str
    rows: int
    metrics: dict[str, Interval]
    binary: BinaryCurves | None = None
    multiclass: MulticlassDetails | None = None
    regression: RegressionDiagnostics | None = None
    segments: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: metrics of the task that these rows cannot give, with the reason in words
    unavailable: dict[str, str] = field(default_factory=dict)
    #: what the registry's edge normalised or left out when the table was read
    notes: tuple[str, ...] = ()


# ------------------------------------------------------------------ at a threshold
def at_threshold(y: np.ndarray, score: np.ndarray, threshold: float,
                 settings: BootstrapSettings = BootstrapSettings()) -> ThresholdResult:
    """Confusion counts and threshold-dependent metrics (rows with score >= threshold are
    flagged), each with a 95% bootstrap interval."""
    pred = score >= threshold
    yb = y.astype(bool)
    tp = int(np.count_nonzero(pred & yb))
    fp = int(np.count_nonzero(pred & ~yb))
    fn = int(np.count_nonzero(~pred & yb))
    tn = len(y) - tp - fp - fn
    point = _count_metrics(np.array([[tp, fp, fn, tn]], float))
    rng = np.random.default_rng(settings.seed)
    n = len(y)
    draws = _count_metrics(rng.multinomial(n, np.array([tp, fp, fn, tn]) / n,
                                           size=settings.n_boot).astype(float)) if n else None
    alpha = (1 - settings.level) / 2
    out = {}
    for k, v in point.items():
        if draws is None:
            out[k] = Interval(float(v[0]), float("nan"), float("nan"))
        else:
            lo, hi = np.quantile(draws[k], [alpha, 1 - alpha])
            out[k] = Interval(float(v[0]), float(lo), float(hi))
    return ThresholdResult(float(threshold), tp, fp, fn, tn, out)


def _count_metrics(c: np.ndarray) -> dict[str, np.ndarray]:
    """accuracy, precision, recall, F1 of each row of counts (tp, fp, fn, tn), with
    scikit-learn's zero_division=0."""
    tp, fp, fn, tn = c.T
    safe = lambda num, den: np.divide(num, den, out=np.zeros_like(num), where=den > 0)  # noqa
    return {"accuracy": (tp + tn) / c.sum(axis=1),
            "precision": safe(tp, tp + fp),
            "recall": safe(tp, tp + fn),
            "f1": safe(2 * tp, 2 * tp + fp + fn)}


# ------------------------------------------------------------------ regression
def binned_scatter(x: np.ndarray, y: np.ndarray, max_points: int = MAX_SCATTER_POINTS,
                   bins: int = 60) -> Binned:
    """The rows themselves when there are at most ``max_points``, else a count grid."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) <= max_points:
        return Binned("points", x, y, None, len(x))
    counts, xe, ye = np.histogram2d(x, y, bins=bins)
    return Binned("bins", (xe[:-1] + xe[1:]) / 2, (ye[:-1] + ye[1:]) / 2, counts.T, len(x))


def regression_diagnostics(y: np.ndarray, pred: np.ndarray, bins: int = 40
                           ) -> RegressionDiagnostics:
    residual = y - pred
    counts, edges = np.histogram(residual, bins=bins)
    return RegressionDiagnostics(
        actual_vs_predicted=binned_scatter(pred, y),
        residuals=binned_scatter(pred, residual),
        errors=pd.DataFrame({"bin_left": edges[:-1], "bin_right": edges[1:], "rows": counts}))


# ------------------------------------------------------------------ segments
def segment_metrics(model: Model, frame: pd.DataFrame, threshold: float = 0.5,
                    settings: BootstrapSettings = BootstrapSettings(),
                    min_rows: int = MIN_JUDGE_ROWS) -> pd.DataFrame:
    """The headline metric of every value of every segment column, with its 95% bootstrap
    interval and row count. A value with fewer than ``min_rows`` rows is not judged: no
    metric, no interval, and ``note`` says so (as it says why a metric is undefined).
    ``weakest`` marks, per segment column, the value with the worst metric among the judged.

    Columns: segment, value, rows, metric, estimate, low, high, weakest, note.
    """
    metric = headline_metric(model.task)
    frame = frame.loc[frame[COL_TRUE].notna()]
    cols = [c for c in frame.columns if c.startswith(SEGMENT_PREFIX)]
    out = []
    for col in cols:
        for value, rows in frame.groupby(frame[col].astype(str), sort=True, observed=True):
            note, ci = too_few_rows(len(rows), min_rows), None
            if not note:
                # the value on all of the segment's rows, computed once and passed in
                point = {metric: compute_metric(model, rows, metric, threshold)}
                ci = bootstrap_intervals(model, rows, threshold, settings, (metric,),
                                         point=point).get(metric)
                if ci is None or not np.isfinite(ci.value):
                    note = f"{METRICS[metric].name} is undefined here: " \
                           f"{why_undefined(model, rows, metric)}"
                    ci = None
            out.append({"segment": col[len(SEGMENT_PREFIX):], "value": value,
                        "rows": len(rows), "metric": metric,
                        "estimate": ci.value if ci else np.nan,
                        "low": ci.low if ci else np.nan, "high": ci.high if ci else np.nan,
                        "weakest": False, "note": note})
    table = pd.DataFrame(out, columns=["segment", "value", "rows", "metric", "estimate", "low",
                                       "high", "weakest", "note"])
    if table.empty:
        return table
    better_high = METRICS[metric].higher_is_better
    for seg, part in table.groupby("segment"):
        judged = part.loc[(part["note"] == "") & part["estimate"].notna()]
        if len(judged) < 2:
            continue
        worst = judged["estimate"].idxmin() if better_high else judged["estimate"].idxmax()
        table.loc[worst, "weakest"] = True
    return table


# ------------------------------------------------------------------ the page's result
def evaluate(model: Model, version: int, frame: pd.DataFrame, threshold: float = 0.5,
             settings: BootstrapSettings = BootstrapSettings()) -> VersionEvaluation:
    """Metrics with intervals, the task's charts' data, and the segment table of one version.
    Threshold-dependent metrics in ``metrics`` are at ``threshold``."""
    frame = frame.loc[frame[COL_TRUE].notna()]
    metrics = bootstrap_intervals(model, frame, threshold, settings)
    parts: dict = {}
    if model.task == "binary" and len(frame):
        y = binary_truth(frame[COL_TRUE], model.positive_label)
        s = frame[COL_SCORE].to_numpy(dtype=float)
        if 0 < y.sum() < len(y):
            parts["binary"] = binary_curves(y, s)
    elif model.task == "multiclass" and len(frame):
        parts["multiclass"] = multiclass_details(frame)
    elif model.task == "regression" and len(frame):
        parts["regression"] = regression_diagnostics(frame[COL_TRUE].to_numpy(dtype=float),
                                                     frame[COL_PRED].to_numpy(dtype=float))
    return VersionEvaluation(model=model.name, version=version, task=model.task, rows=len(frame),
                      metrics=metrics, unavailable=unavailable_metrics(model, frame, metrics),
                      segments=segment_metrics(
                                  model, frame, threshold,
                                  replace(SECONDARY, seed=settings.seed)), **parts)


#: metrics a page may ask for, per task, that some rows cannot give
TASK_METRICS = {"binary": ("roc_auc", "average_precision", "log_loss", "brier"),
                "multiclass": ("accuracy", "f1_macro", "f1_weighted", "log_loss"),
                "regression": ("mae", "rmse", "r2", "mape")}


def unavailable_metrics(model: Model, frame: pd.DataFrame, metrics: dict) -> dict[str, str]:
    """Why each metric of the task that is missing from ``metrics`` (or not a finite number)
    cannot be computed on these labelled rows, in plain words."""
    out = {}
    for key in TASK_METRICS.get(model.task, ()):
        ci = metrics.get(key)
        if ci is not None and np.isfinite(ci.value):
            continue
        out[key] = why_undefined(model, frame, key) or "these rows do not allow it"
    return out


def binary_rows(model: Model, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(y as 0/1, score) of the labelled rows of a binary model."""
    frame = frame.loc[frame[COL_TRUE].notna()]
    return (binary_truth(frame[COL_TRUE], model.positive_label),
            frame[COL_SCORE].to_numpy(dtype=float))


# ------------------------------------------------------------------ cached, for pages
def parse_threshold(value, default: float = 0.5) -> tuple[float, str]:
    """A threshold from the URL, rounded to 0.01, and a message when the value was unusable."""
    if value in (None, ""):
        return default, ""
    try:
        t = float(value)
    except (TypeError, ValueError):
        t = float("nan")
    if not (0 <= t <= 1):
        return default, (f"'{value}' is not a threshold between 0 and 1, so the threshold "
                         f"{default:.2f} is shown.")
    return round(t, 2), ""


def version_evaluation(deck, name: str, version: int) -> VersionEvaluation:
    """``evaluate`` of one version, cached until the model's files change."""
    def compute():
        model = deck.model(name)
        table = evaluation_table(deck, name, version)
        return replace(evaluate(model, version, table.frame), notes=tuple(table.notes))
    return deck.memo(("evaluation", name, version), name, compute)


def threshold_result(deck, name: str, version: int, threshold: float) -> ThresholdResult:
    """``at_threshold`` for one version, cached per threshold rounded to 0.01."""
    t = round(float(threshold), 2)

    def compute():
        model = deck.model(name)
        y, s = binary_rows(model, evaluation_frame(deck, name, version))
        return at_threshold(y, s, t)
    return deck.memo(("threshold", name, version, t), name, compute)
