"""Curves of a score against the truth: ROC, precision–recall, cumulative gain, calibration
and the score histogram of a yes/no model, and the thinning of a curve for drawing. The base
of ``analysis.evaluation`` (one version's page) and ``analysis.multiclass`` (one class against
the rest). The metric-history curves of experiment runs are ``analysis.run_curves``.

Curves come from scikit-learn's definitions (``roc_curve``, ``precision_recall_curve``,
``calibration_curve``); the numbers they report are computed on all rows: the ROC AUC by
``analysis.metrics.roc_auc`` (the one implementation), average precision on the full curve.
For drawing, curves are then thinned to at most ``max_points`` points spread evenly along the
curve's length (``downsample_curve``): every point drawn is a true point of the curve with its
true threshold, so the figure stays small at a million rows without changing any number it
reports.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .metrics import roc_auc

MAX_CURVE_POINTS = 400
SCORE_BINS = 40
CALIBRATION_BINS = 10


@dataclass(frozen=True)
class Curve:
    """Points of a curve (already thinned for drawing) and what it reports."""

    x: np.ndarray
    y: np.ndarray
    thresholds: np.ndarray  # the score threshold of each point (NaN where none)
    area: float = float("nan")  # AUC / average precision, from the full curve
    points_full: int = 0  # points before thinning


@dataclass(frozen=True)
class BinaryCurves:
    roc: Curve  # x: false positive rate, y: true positive rate
    pr: Curve  # x: recall, y: precision
    gain: Curve  # x: share of rows flagged, y: share of positives found (lift = y / x)
    calibration: pd.DataFrame  # mean_predicted, observed_rate, rows
    scores: pd.DataFrame  # bin_left, bin_right, negatives, positives
    positives: int
    negatives: int


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


def drawn_curve(x, y, thresholds, area) -> Curve:
    keep = downsample_curve(x, y)
    return Curve(np.asarray(x, float)[keep], np.asarray(y, float)[keep],
                 np.asarray(thresholds, float)[keep], float(area), len(x))


# ------------------------------------------------------------------ binary
def score_counts_of(y: np.ndarray, score: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distinct scores ascending, positives, negatives at each): what every curve of a
    yes/no model is drawn from, the shape an engine returns (``analysis.queries``)."""
    s, inverse = np.unique(np.asarray(score, dtype=float), return_inverse=True)
    y = np.asarray(y, dtype=float)
    pos = np.bincount(inverse, weights=y, minlength=len(s))
    total = np.bincount(inverse, minlength=len(s)).astype(float)
    return s, pos, total - pos


def roc_and_pr_curves(y: np.ndarray, score: np.ndarray):
    """``roc_and_pr_from_counts`` of the rows themselves."""
    return roc_and_pr_from_counts(*score_counts_of(y, score))


def roc_and_pr_from_counts(scores: np.ndarray, pos: np.ndarray, neg: np.ndarray):
    """``sklearn.metrics.roc_curve`` (with its default ``drop_intermediate``) and
    ``precision_recall_curve`` from positives and negatives per distinct score (ascending):
    the same arrays as scikit-learn on the rows (tested), from counts an engine can return
    for any number of rows. Returns fpr, tpr, thresholds, precision, recall, pr_thresholds.
    """
    thresholds = np.asarray(scores, float)[::-1]  # highest first, as scikit-learn walks
    tps = np.cumsum(np.asarray(pos, float)[::-1])
    fps = np.cumsum(np.asarray(neg, float)[::-1])
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
    """ROC, precision–recall, cumulative gain, calibration and score distributions of rows;
    the ROC AUC is ``analysis.metrics.roc_auc`` (the one implementation), not the curve's
    trapezoids."""
    return binary_curves_from_counts(*score_counts_of(y, score), auc=roc_auc(y, score))


def binary_curves_from_counts(scores: np.ndarray, pos: np.ndarray, neg: np.ndarray,
                              auc: float | None = None) -> BinaryCurves:
    """``binary_curves`` from positives and negatives per distinct score (ascending), as an
    engine counts them; ``auc``: the ROC AUC when the caller has it (else from the counts,
    ``analysis.summaries.auc_from_counts``)."""
    from .summaries import auc_from_counts
    fpr, tpr, thr, precision, recall, pr_thr = roc_and_pr_from_counts(scores, pos, neg)
    ap = -np.sum(np.diff(recall) * np.asarray(precision)[:-1])
    P, N = int(round(pos.sum())), int(round(neg.sum()))
    auc = auc_from_counts(pos, neg) if auc is None else auc
    # Gain: flagging every row scoring >= t finds tpr of the positives and flags
    # (tpr·P + fpr·N) / n of the rows; a linear map of the ROC points.
    flagged = (tpr * P + fpr * N) / (P + N)
    pr_thresholds = np.r_[pr_thr, np.nan]  # the last PR point (recall 0) has no threshold
    return BinaryCurves(
        roc=drawn_curve(fpr, tpr, thr, auc),
        pr=drawn_curve(recall, precision, pr_thresholds, ap),
        gain=drawn_curve(flagged, tpr, thr, np.nan),
        calibration=calibration_from_counts(scores, pos, neg),
        scores=histogram_from_counts(scores, pos, neg),
        positives=P, negatives=N)


def calibration_from_counts(scores, pos, neg, n_bins: int = CALIBRATION_BINS) -> pd.DataFrame:
    """``calibration_table`` from positives and negatives per distinct score: the same bins
    (``sklearn.calibration.calibration_curve``, uniform strategy), each distinct score
    weighted by its rows."""
    scores = np.asarray(scores, float)
    if len(scores) and (scores.min() < 0 or scores.max() > 1):
        raise ValueError("scores must lie between 0 and 1 for a calibration curve")
    rows = np.asarray(pos, float) + np.asarray(neg, float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # each score's bin: a score on an inner edge belongs to the bin below it
    if len(scores) > 1 and (scores[1:] >= scores[:-1]).all():  # in order: the bins' bounds
        bounds = np.r_[0, np.searchsorted(scores, edges[1:-1], side="right"), len(scores)]
        filled = bounds[1:] > bounds[:-1]
        starts = bounds[:-1][filled]
        total, sums, true = np.zeros(n_bins), np.zeros(n_bins), np.zeros(n_bins)
        total[filled] = np.add.reduceat(rows, starts)
        sums[filled] = np.add.reduceat(scores * rows, starts)
        true[filled] = np.add.reduceat(np.asarray(pos, float), starts)
    else:
        ids = np.searchsorted(edges[1:-1], scores)
        total = np.bincount(ids, weights=rows, minlength=n_bins)
        sums = np.bincount(ids, weights=scores * rows, minlength=n_bins)
        true = np.bincount(ids, weights=np.asarray(pos, float), minlength=n_bins)
    nonzero = total > 0
    return pd.DataFrame({"bin_left": edges[:-1][nonzero], "bin_right": edges[1:][nonzero],
                         "mean_predicted": sums[nonzero] / total[nonzero],
                         "observed_rate": true[nonzero] / total[nonzero],
                         "rows": np.round(total[nonzero]).astype(np.int64)})


def histogram_from_counts(scores, pos, neg, bins: int = SCORE_BINS) -> pd.DataFrame:
    """Rows per score bin (equal widths over 0–1, or wider to hold every score), negatives
    and positives apart, from positives and negatives per distinct score."""
    scores = np.asarray(scores, float)
    lo = min(0.0, float(scores.min())) if len(scores) else 0.0
    hi = max(1.0, float(scores.max())) if len(scores) else 1.0
    edges = np.linspace(lo, hi, bins + 1)
    if len(scores) > 1 and (scores[1:] >= scores[:-1]).all():
        # in order: numpy's own method for given edges (``np.histogram`` sorts the scores
        # and differences the running sums of the weights at the edges), without the sort
        at = np.r_[np.searchsorted(scores, edges[:-1], side="left"),
                   np.searchsorted(scores, edges[-1:], side="right")]
        n_neg = np.diff(np.r_[0.0, np.cumsum(np.asarray(neg, float))][at])
        n_pos = np.diff(np.r_[0.0, np.cumsum(np.asarray(pos, float))][at])
    else:
        n_neg, _ = np.histogram(scores, edges, weights=np.asarray(neg, float))
        n_pos, _ = np.histogram(scores, edges, weights=np.asarray(pos, float))
    return pd.DataFrame({"bin_left": edges[:-1], "bin_right": edges[1:],
                         "negatives": np.round(n_neg).astype(np.int64),
                         "positives": np.round(n_pos).astype(np.int64)})


def calibration_table(y: np.ndarray, score: np.ndarray, n_bins: int = CALIBRATION_BINS
                      ) -> pd.DataFrame:
    """Reliability: per score bin (equal widths over 0–1), the mean score and the observed
    rate of positives, with its row count; empty bins are left out (as scikit-learn's
    ``calibration_curve`` does, whose numbers these are: tested)."""
    return calibration_from_counts(*score_counts_of(y, score), n_bins=n_bins)
