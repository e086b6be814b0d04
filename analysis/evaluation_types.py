"""The shapes of one version's evaluation as the model page shows it, the numbers at a
threshold from the four counts and a number model's charts of a few rows: shared by
``analysis.evaluation`` (rows in memory), ``analysis.evaluation_rows`` and
``analysis.task_rows`` (rows an engine keeps), which fill them in the same way.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .curves import BinaryCurves
from .metrics import METRICS
from .multiclass import MulticlassDetails
from .uncertainty import BootstrapSettings, Interval

#: metrics a page may ask for, per task, that some rows cannot give
TASK_METRICS = {"binary": ("roc_auc", "average_precision", "log_loss", "brier"),
                "multiclass": ("accuracy", "f1_macro", "f1_weighted", "log_loss"),
                "regression": ("mae", "rmse", "r2", "mape")}

#: the thresholds a page offers (0.00, 0.01, … 1.00): the slider's, the value curve's
THRESHOLDS = np.round(np.linspace(0.0, 1.0, 101), 2)

#: a number model's scatter charts: the rows themselves up to this many, else counts on a grid
#: of SCATTER_BINS × SCATTER_BINS; its error histogram: ERROR_BINS bins
MAX_SCATTER_POINTS = 2_000
SCATTER_BINS = 60
ERROR_BINS = 40

SEGMENT_COLUMNS = ["segment", "value", "rows", "metric", "estimate", "low", "high", "weakest",
                   "note"]


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
    #: the segments are still being worked out (a first view of rows an engine keeps:
    #: ``analysis.evaluation.version_outline``); ``segments`` is empty until then
    segments_pending: bool = False


# ------------------------------------------------------------------ a number model's charts
def binned_scatter(x: np.ndarray, y: np.ndarray, max_points: int = MAX_SCATTER_POINTS,
                   bins: int = SCATTER_BINS) -> Binned:
    """The rows themselves when there are at most ``max_points``, else a count grid."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) <= max_points:
        return Binned("points", x, y, None, len(x))
    counts, xe, ye = np.histogram2d(x, y, bins=bins)
    return Binned("bins", (xe[:-1] + xe[1:]) / 2, (ye[:-1] + ye[1:]) / 2, counts.T, len(x))


def regression_diagnostics(y: np.ndarray, pred: np.ndarray, bins: int = ERROR_BINS
                           ) -> RegressionDiagnostics:
    residual = y - pred
    counts, edges = np.histogram(residual, bins=bins)
    return RegressionDiagnostics(
        actual_vs_predicted=binned_scatter(pred, y),
        residuals=binned_scatter(pred, residual),
        errors=pd.DataFrame({"bin_left": edges[:-1], "bin_right": edges[1:], "rows": counts}))


# ------------------------------------------------------------------ at a threshold
def threshold_from_counts(tp: int, fp: int, fn: int, tn: int, threshold: float,
                          settings: BootstrapSettings = BootstrapSettings()) -> ThresholdResult:
    """The threshold-dependent metrics from the four counts, each with a 95% bootstrap
    interval from a multinomial draw of the four cells (which is the row bootstrap)."""
    tp, fp, fn, tn = int(tp), int(fp), int(fn), int(tn)
    point = count_metrics(np.array([[tp, fp, fn, tn]], float))
    rng = np.random.default_rng(settings.seed)
    n = tp + fp + fn + tn
    draws = count_metrics(rng.multinomial(n, np.array([tp, fp, fn, tn]) / n,
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


def count_metrics(c: np.ndarray) -> dict[str, np.ndarray]:
    """accuracy, precision, recall, F1 of each row of counts (tp, fp, fn, tn), with
    scikit-learn's zero_division=0."""
    tp, fp, fn, tn = c.T
    safe = lambda num, den: np.divide(num, den, out=np.zeros_like(num), where=den > 0)  # noqa
    return {"accuracy": (tp + tn) / c.sum(axis=1),
            "precision": safe(tp, tp + fp),
            "recall": safe(tp, tp + fn),
            "f1": safe(2 * tp, 2 * tp + fp + fn)}


def mark_weakest(table: pd.DataFrame) -> pd.DataFrame:
    """Mark, per segment column, the judged value with the worst metric (``weakest``), when
    at least two values are judged."""
    if table.empty:
        return table
    better_high = METRICS[table["metric"].iloc[0]].higher_is_better
    for _, part in table.groupby("segment"):
        judged = part.loc[(part["note"] == "") & part["estimate"].notna()]
        if len(judged) < 2:
            continue
        worst = judged["estimate"].idxmin() if better_high else judged["estimate"].idxmax()
        table.loc[worst, "weakest"] = True
    return table
