"""Everything the model page shows about one version's evaluation rows.

Curves come from scikit-learn (``roc_curve``, ``precision_recall_curve``,
``calibration_curve``, ``confusion_matrix``); the numbers they report are computed on all
rows: the ROC AUC by ``analysis.metrics.roc_auc`` (the one implementation), average precision
on the full curve. For drawing, curves are then thinned to at most
``max_points`` points spread evenly along the curve's length (``downsample_curve``): every point
drawn is a true point of the curve with its true threshold, so the figure stays small at a
million rows without changing any number it reports. Scatter plots of many rows are binned.

Threshold-dependent numbers (confusion matrix, precision, recall, accuracy, F1) depend only on
the four counts at the threshold, so ``at_threshold`` computes them from counts and their
bootstrap intervals from a multinomial draw of the four cells, which is the row bootstrap.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from registry.model import COL_PRED, COL_SCORE, COL_TRUE, PROBA_PREFIX, SEGMENT_PREFIX, Model

from .metrics import (
    METRICS, binary_truth, class_probabilities, compute_metric, headline_metric,
    multiclass_labels, roc_auc, why_undefined,
)
from .reads import evaluation_frame, evaluation_table
from .uncertainty import (
    MIN_JUDGE_ROWS, SECONDARY, BootstrapSettings, Interval, bootstrap_intervals, too_few_rows,
)

MAX_CURVE_POINTS = 400
MAX_SCATTER_POINTS = 2_000
SCORE_BINS = 40
CALIBRATION_BINS = 10


# ------------------------------------------------------------------ results
@dataclass(frozen=True)
class Curve:
    """Points of a curve (already thinned for drawing) and what it reports."""

    x: np.ndarray
    y: np.ndarray
    thresholds: np.ndarray  # the score threshold of each point (NaN where none)
    area: float = float("nan")  # AUC / average precision, from the full curve
    points_full: int = 0  # points before thinning


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
class BinaryCurves:
    roc: Curve  # x: false positive rate, y: true positive rate
    pr: Curve  # x: recall, y: precision
    gain: Curve  # x: share of rows flagged, y: share of positives found (lift = y / x)
    calibration: pd.DataFrame  # mean_predicted, observed_rate, rows
    scores: pd.DataFrame  # bin_left, bin_right, negatives, positives
    positives: int
    negatives: int


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
class ClassCurve:
    """One class against all the others: its ROC curve (``roc.area`` is the one-vs-rest
    ROC AUC) from the class's own probability column."""

    label: str
    roc: Curve
    positives: int  # rows truly of this class
    negatives: int


@dataclass(frozen=True)
class ConfidenceCalibration:
    """How sure the model is against how often it is right. ``table`` has, per bin of the
    top probability (equal widths over 0–1, empty bins left out): bin_left, bin_right,
    mean_confidence, share_correct, rows."""

    table: pd.DataFrame
    mean_confidence: float  # mean top probability over all rows
    share_correct: float  # share of rows whose most probable class is the true one
    rows: int


@dataclass(frozen=True)
class ConfusedPair:
    """Rows truly ``actual`` that the model predicted as ``predicted``."""

    actual: str
    predicted: str
    count: int
    of: int  # rows truly ``actual``

    @property
    def share(self) -> float:
        return self.count / self.of if self.of else float("nan")


@dataclass(frozen=True)
class MulticlassDetails:
    labels: tuple[str, ...]
    confusion: np.ndarray  # rows: truth, columns: prediction
    #: label, precision, recall, f1, support, predicted (rows predicted as the class);
    #: precision is NaN for a class never predicted, recall for a class with no true rows
    #: (scikit-learn's zero_division=np.nan): undefined, not 0 (``per_class_notes`` says why)
    per_class: pd.DataFrame
    #: one-vs-rest ROC of each class that has rows of its own and of others (needs proba.*)
    roc: tuple[ClassCurve, ...] = ()
    #: classes with a probability column whose one-vs-rest curve cannot be drawn, and why
    roc_missing: tuple[tuple[str, str], ...] = ()
    confidence: ConfidenceCalibration | None = None  # needs proba.* columns
    confused: tuple[ConfusedPair, ...] = ()  # most often confused pairs, most first


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


# ------------------------------------------------------------------ downsampling
def downsample_curve(x: np.ndarray, y: np.ndarray, max_points: int = MAX_CURVE_POINTS
                     ) -> np.ndarray:
    """Indices of at most ``max_points`` points spread evenly along the curve's length
    (both axes scaled to 0–1), always keeping the first and the last point."""
    n = len(x)
    if n <= max_points:
        return np.arange(n)
    xs = np.asarray(x, float)
    ys = np.asarray(y, float)
    span = lambda a: (np.nanmax(a) - np.nanmin(a)) or 1.0  # noqa: E731
    step = np.hypot(np.diff(xs) / span(xs), np.diff(ys) / span(ys))
    length = np.r_[0.0, np.cumsum(np.nan_to_num(step))]
    targets = np.linspace(0, length[-1], max_points - 1)
    idx = np.searchsorted(length, targets, side="left")
    return np.unique(np.r_[0, np.clip(idx, 0, n - 1), n - 1])


def _curve(x, y, thresholds, area) -> Curve:
    keep = downsample_curve(x, y)
    return Curve(np.asarray(x, float)[keep], np.asarray(y, float)[keep],
                 np.asarray(thresholds, float)[keep], float(area), len(x))


# ------------------------------------------------------------------ binary
def roc_and_pr_curves(y: np.ndarray, score: np.ndarray):
    """``sklearn.metrics.roc_curve`` (with its default ``drop_intermediate``) and
    ``precision_recall_curve`` from one sort instead of two: the same arrays (tested), which
    matters at a million rows. Returns fpr, tpr, thresholds, precision, recall, pr_thresholds.
    """
    y = np.asarray(y, dtype=float)
    score = np.asarray(score, dtype=float)
    order = np.argsort(score)[::-1]  # ties' order is irrelevant: counts are read at group ends
    s, yy = score[order], y[order]
    ends = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last row of each distinct score
    tps = np.cumsum(yy)[ends]
    fps = 1 + ends - tps
    thresholds = s[ends]
    # precision-recall, as scikit-learn builds it
    ps = tps + fps
    precision = np.zeros_like(tps)
    np.divide(tps, ps, out=precision, where=(ps != 0))
    recall = np.ones_like(tps) if tps[-1] == 0 else tps / tps[-1]
    precision, recall = np.r_[precision[::-1], 1.0], np.r_[recall[::-1], 0.0]
    pr_thresholds = thresholds[::-1]
    # ROC: drop points on straight segments, then start at (0, 0)
    if len(fps) > 2:
        keep = np.flatnonzero(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)),
                                    True])
        fps, tps, thresholds = fps[keep], tps[keep], thresholds[keep]
    tps, fps = np.r_[0, tps], np.r_[0, fps]
    thresholds = np.r_[np.inf, thresholds]
    fpr = fps / fps[-1] if fps[-1] > 0 else np.full(fps.shape, np.nan)
    tpr = tps / tps[-1] if tps[-1] > 0 else np.full(tps.shape, np.nan)
    return fpr, tpr, thresholds, precision, recall, pr_thresholds


def binary_curves(y: np.ndarray, score: np.ndarray) -> BinaryCurves:
    """ROC, precision–recall, cumulative gain, calibration and score distributions."""
    fpr, tpr, thr, precision, recall, pr_thr = roc_and_pr_curves(y, score)
    auc = roc_auc(y, score)  # the one ROC AUC (analysis.metrics), not the curve's trapezoids
    ap = -np.sum(np.diff(recall) * np.asarray(precision)[:-1])
    pos, neg = int(y.sum()), int(len(y) - y.sum())
    # Gain: flagging every row scoring >= t finds tpr of the positives and flags
    # (tpr·P + fpr·N) / n of the rows; a linear map of the ROC points.
    flagged = (tpr * pos + fpr * neg) / len(y)
    pr_thresholds = np.r_[pr_thr, np.nan]  # the last PR point (recall 0) has no threshold
    return BinaryCurves(
        roc=_curve(fpr, tpr, thr, auc),
        pr=_curve(recall, precision, pr_thresholds, ap),
        gain=_curve(flagged, tpr, thr, np.nan),
        calibration=calibration_table(y, score),
        scores=score_histogram(y, score),
        positives=pos, negatives=neg)


def calibration_table(y: np.ndarray, score: np.ndarray, n_bins: int = CALIBRATION_BINS
                      ) -> pd.DataFrame:
    """Reliability: per score bin (equal widths over 0–1), the mean score and the observed
    rate of positives, with its row count; empty bins are left out (as scikit-learn does)."""
    observed, predicted = calibration_curve(y, score, n_bins=n_bins, strategy="uniform")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    counts = np.bincount(np.searchsorted(edges[1:-1], score), minlength=n_bins)
    nonzero = counts > 0
    return pd.DataFrame({"bin_left": edges[:-1][nonzero], "bin_right": edges[1:][nonzero],
                         "mean_predicted": predicted, "observed_rate": observed,
                         "rows": counts[nonzero]})


def score_histogram(y: np.ndarray, score: np.ndarray, bins: int = SCORE_BINS) -> pd.DataFrame:
    lo, hi = min(0.0, float(np.min(score))), max(1.0, float(np.max(score)))
    edges = np.linspace(lo, hi, bins + 1)
    neg, _ = np.histogram(score[y == 0], edges)
    pos, _ = np.histogram(score[y == 1], edges)
    return pd.DataFrame({"bin_left": edges[:-1], "bin_right": edges[1:], "negatives": neg,
                         "positives": pos})


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


# ------------------------------------------------------------------ multiclass
def multiclass_details(frame: pd.DataFrame) -> MulticlassDetails:
    y_true, y_pred = multiclass_labels(frame)
    labels = _natural_sort(np.union1d(y_true, y_pred))
    cm = skm.confusion_matrix(y_true, y_pred, labels=labels)
    p, r, f, s = skm.precision_recall_fscore_support(y_true, y_pred, labels=labels,
                                                     zero_division=0)
    predicted = cm.sum(axis=0)
    per_class = pd.DataFrame({"label": labels,
                              "precision": np.where(predicted > 0, p, np.nan),
                              "recall": np.where(s > 0, r, np.nan), "f1": f,
                              "support": s, "predicted": predicted})
    parts: dict = {"confused": most_confused(cm, labels)}
    if any(c.startswith(PROBA_PREFIX) for c in frame.columns):
        proba, classes = class_probabilities(frame)
        keep = np.isfinite(proba).all(axis=1)
        order = _natural_sort(classes)
        cols = [classes.index(c) for c in order]
        parts["roc"], parts["roc_missing"] = one_vs_rest_curves(y_true[keep],
                                                                proba[keep][:, cols], order)
        parts["confidence"] = confidence_calibration(y_true[keep], proba[keep], classes)
    return MulticlassDetails(tuple(labels), cm, per_class, **parts)


def one_vs_rest_curves(y_true: np.ndarray, proba: np.ndarray, classes: list[str]
                       ) -> tuple[tuple[ClassCurve, ...], tuple[tuple[str, str], ...]]:
    """Each class against the rest: ``sklearn.metrics.roc_curve`` of (truth == class,
    probability of the class) and its area, which is ``roc_auc_score`` of the same (tested).
    A class with no rows of its own, or no rows of any other class, has no curve; it is
    returned with the reason in words."""
    curves, missing = [], []
    y_true = np.asarray(y_true).astype(str)
    for j, label in enumerate(classes):
        y = (y_true == label).astype(float)
        pos = int(y.sum())
        if pos == 0:
            missing.append((label, f"no evaluation row is truly {label}"))
            continue
        if pos == len(y):
            missing.append((label, f"every evaluation row is truly {label}"))
            continue
        fpr, tpr, thr, *_ = roc_and_pr_curves(y, proba[:, j])
        curves.append(ClassCurve(label, _curve(fpr, tpr, thr, roc_auc(y, proba[:, j])), pos,
                                 len(y) - pos))
    return tuple(curves), tuple(missing)


def confidence_calibration(y_true: np.ndarray, proba: np.ndarray, classes: list[str],
                           n_bins: int = CALIBRATION_BINS) -> ConfidenceCalibration:
    """The top probability of each row (the confidence of its most probable class) against
    whether that class is the true one, binned as ``calibration_table`` bins scores."""
    classes_arr = np.asarray(classes)
    top = proba.max(axis=1) if len(proba) else np.zeros(0)
    correct = (classes_arr[proba.argmax(axis=1)] == np.asarray(y_true).astype(str)
               ).astype(int) if len(proba) else np.zeros(0, int)
    if len(top) == 0:
        empty = pd.DataFrame(columns=["bin_left", "bin_right", "mean_confidence",
                                      "share_correct", "rows"])
        return ConfidenceCalibration(empty, float("nan"), float("nan"), 0)
    table = calibration_table(correct, np.clip(top, 0.0, 1.0), n_bins).rename(
        columns={"mean_predicted": "mean_confidence", "observed_rate": "share_correct"})
    return ConfidenceCalibration(table, float(top.mean()), float(correct.mean()), len(top))


def most_confused(confusion: np.ndarray, labels, top: int = 5) -> tuple[ConfusedPair, ...]:
    """The off-diagonal cells of the confusion matrix with the most rows (at most ``top``),
    most first; ties by the larger share of the true class, then by label order."""
    cm = np.asarray(confusion)
    totals = cm.sum(axis=1)
    pairs = [ConfusedPair(str(labels[i]), str(labels[j]), int(cm[i, j]), int(totals[i]))
             for i in range(cm.shape[0]) for j in range(cm.shape[1])
             if i != j and cm[i, j] > 0]
    pairs.sort(key=lambda p: (-p.count, -p.share))  # stable: label order breaks ties
    return tuple(pairs[:top])


def per_class_notes(per_class: pd.DataFrame) -> list[str]:
    """Why a class's precision or recall has no value, in words ('Class 7 is never
    predicted, so its precision is undefined: there is no prediction of it to be right or
    wrong.')."""
    out = []
    for r in per_class.itertuples():
        if r.predicted == 0:
            out.append(f"Class {r.label} is never predicted, so its precision is undefined "
                       "(not 0%): there is no prediction of it to be right or wrong.")
        if r.support == 0:
            out.append(f"Class {r.label} never occurs in these rows, so its recall is "
                       "undefined: there is no true case of it to find.")
    return out


def _natural_sort(labels) -> list[str]:
    """'2' before '10'; text labels alphabetically."""
    def key(v):
        try:
            return (0, float(v), "")
        except ValueError:
            return (1, 0.0, v)
    return sorted((str(v) for v in labels), key=key)


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
