"""Metrics, curves and drift from summaries of rows, equal to scikit-learn / scipy on the rows.

An engine (``analysis.queries``) reduces any number of prediction rows to small tables:

* binary: one row per distinct score with how many positives and negatives have it
  (``score``, ``n``, ``pos``) — from which ROC AUC (the Mann–Whitney statistic, ties one half),
  average precision, the ROC and PR curves, the counts at any threshold, Brier score and
  log loss are exact;
* multiclass: confusion counts (``y_true``, ``y_pred``, ``n``) as text labels;
* regression: sums (``n``, ``abs``, ``sq``, ``y``, ``y2``, ``ape``, ``zeros``);
* drift: counts per bin (PSI) and the values of both sides as distinct values with counts
  (the empirical distributions of the KS test).

Tests hold every number here to scikit-learn / scipy computed on the rows themselves (1e-9).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .drift import psi_from_counts

EPS_BINARY = 1e-15  # the clip analysis.metrics applies before log loss


# ------------------------------------------------------------------ binary
def score_counts(summary: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distinct scores ascending, positives, negatives) of a (score, n, pos) summary (a
    frame, or arrays by name) whose scores may repeat (e.g. summed over parts)."""
    s = np.asarray(summary["score"], dtype=float)
    if len(s) == 0:
        return np.array([]), np.array([]), np.array([])
    n = np.asarray(summary["n"], dtype=float)
    pos = np.asarray(summary["pos"], dtype=float)
    if not (s[1:] >= s[:-1]).all():  # an engine returns them in order: no sort then
        order = np.argsort(s, kind="stable")
        s, n, pos = s[order], n[order], pos[order]
    if len(s) > 1 and not (np.diff(s) > 0).all():  # repeated scores: add them up
        starts = np.r_[0, np.flatnonzero(np.diff(s)) + 1]
        s, n, pos = s[starts], np.add.reduceat(n, starts), np.add.reduceat(pos, starts)
    return s, pos, n - pos


def auc_from_counts(pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC AUC from positives and negatives per distinct score (ascending): the share of
    (positive, negative) pairs where the positive scores higher, ties one half."""
    P, N = pos.sum(), neg.sum()
    if P == 0 or N == 0:
        return float("nan")
    below = np.cumsum(neg) - neg  # negatives strictly below each score
    return float((pos * (below + 0.5 * neg)).sum() / (P * N))


def roc_from_counts(scores, pos, neg) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds) as ``sklearn.metrics.roc_curve(drop_intermediate=False)``."""
    s, p, n = scores[::-1], pos[::-1], neg[::-1]
    tps, fps = np.cumsum(p), np.cumsum(n)
    tps, fps = np.r_[0, tps], np.r_[0, fps]
    thresholds = np.r_[np.inf, s]
    with np.errstate(invalid="ignore", divide="ignore"):
        fpr = fps / fps[-1] if fps[-1] > 0 else np.full(len(fps), np.nan)
        tpr = tps / tps[-1] if tps[-1] > 0 else np.full(len(tps), np.nan)
    return fpr, tpr, thresholds


def pr_from_counts(scores, pos, neg) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, thresholds) as ``sklearn.metrics.precision_recall_curve``."""
    s, p, n = scores[::-1], pos[::-1], neg[::-1]
    tps, fps = np.cumsum(p), np.cumsum(n)
    ps = tps + fps
    precision = np.divide(tps, ps, out=np.zeros_like(tps), where=(ps != 0))
    recall = np.ones_like(tps) if tps[-1] == 0 else tps / tps[-1]
    # reversed so that recall decreases, and ending at (recall 0, precision 1)
    return np.r_[precision[::-1], 1.0], np.r_[recall[::-1], 0.0], s[::-1]


def ap_from_counts(scores, pos, neg) -> float:
    """Average precision as ``sklearn.metrics.average_precision_score``."""
    if pos.sum() == 0:
        return float("nan")
    precision, recall, _ = pr_from_counts(scores, pos, neg)
    return float(-np.sum(np.diff(recall) * np.asarray(precision)[:-1]))


def confusion_at(scores, pos, neg, threshold: float) -> dict[str, float]:
    """tp, fp, fn, tn with rows of score >= threshold flagged."""
    flag = scores >= threshold
    return {"tp": float(pos[flag].sum()), "fp": float(neg[flag].sum()),
            "fn": float(pos[~flag].sum()), "tn": float(neg[~flag].sum())}


def binary_from_counts(scores, pos, neg, threshold: float = 0.5,
                       wanted: tuple[str, ...] | None = None,
                       known: dict[str, float] | None = None) -> dict[str, float]:
    """Every metric of ``analysis.metrics.binary_metrics`` from per-score counts; ``known``:
    ROC AUC and average precision when the caller has them from the same counts (the areas
    of ``analysis.curves.binary_curves_from_counts``)."""
    known = known or {}
    c = confusion_at(scores, pos, neg, threshold)
    tp, fp, fn, tn = c["tp"], c["fp"], c["fn"], c["tn"]
    n = tp + fp + fn + tn
    prec = tp / (tp + fp) if tp + fp > 0 else 0.0
    rec = tp / (tp + fn) if tp + fn > 0 else 0.0
    out = {"accuracy": (tp + tn) / n if n else float("nan"), "precision": prec, "recall": rec,
           "f1": 2 * tp / (2 * tp + fp + fn) if tp > 0 else 0.0,
           "brier": float((pos * (scores - 1) ** 2 + neg * scores ** 2).sum() / n)
           if n else float("nan")}
    if pos.sum() > 0 and neg.sum() > 0:
        want = lambda k: wanted is None or k in wanted  # noqa: E731
        if want("roc_auc"):
            out["roc_auc"] = known["roc_auc"] if "roc_auc" in known else \
                auc_from_counts(pos, neg)
        if want("average_precision"):
            out["average_precision"] = known["average_precision"] \
                if "average_precision" in known else ap_from_counts(scores, pos, neg)
        p = np.clip(scores, EPS_BINARY, 1 - EPS_BINARY)
        out["log_loss"] = float(-(pos * np.log(p) + neg * np.log(1 - p)).sum() / n)
    return {k: float(v) for k, v in out.items()}


# ------------------------------------------------------------------ multiclass
def multiclass_from_counts(confusion: pd.DataFrame) -> dict[str, float]:
    """accuracy, macro and weighted F1 from (y_true, y_pred, n) counts of text labels, as
    scikit-learn computes them on the rows (labels: those in either column)."""
    if confusion.empty:
        return {}
    c = confusion.groupby(["y_true", "y_pred"])["n"].sum()
    n = c.sum()
    labels = sorted(set(c.index.get_level_values(0)) | set(c.index.get_level_values(1)))
    true_n = c.groupby(level=0).sum().reindex(labels, fill_value=0).to_numpy(float)
    pred_n = c.groupby(level=1).sum().reindex(labels, fill_value=0).to_numpy(float)
    diag = np.array([c.get((k, k), 0) for k in labels], dtype=float)
    denom = true_n + pred_n
    f1 = np.divide(2 * diag, denom, out=np.zeros_like(diag), where=denom > 0)
    return {"accuracy": float(diag.sum() / n), "f1_macro": float(f1.mean()),
            "f1_weighted": float((f1 * true_n).sum() / true_n.sum())}


# ------------------------------------------------------------------ regression
def regression_from_sums(s: dict) -> dict[str, float]:
    """rmse, mae, r2 and (without a true value of 0) mape from the sums of a summary."""
    n = float(s["n"])
    if n == 0:
        return {}
    out = {"rmse": float(np.sqrt(s["sq"] / n)), "mae": float(s["abs"] / n)}
    sst = float(s["y2"]) - float(s["y"]) ** 2 / n
    out["r2"] = float(1 - s["sq"] / sst) if n > 1 and sst > 0 else float("nan")
    if s["zeros"] == 0:
        out["mape"] = float(s["ape"] / n)
    return out


# ------------------------------------------------------------------ drift
def expand(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The rows back from distinct values and their counts (ascending)."""
    return np.repeat(np.asarray(values, dtype=float), np.asarray(counts, dtype=np.int64))


def quantile_edges(values: np.ndarray, counts: np.ndarray, n_bins: int) -> np.ndarray:
    """The PSI edges of ``analysis.drift.Bins.from_reference`` (deciles, duplicates removed)
    from distinct values and counts: ``np.quantile`` on the rows, without the rows."""
    order = np.argsort(values)
    v, c = np.asarray(values, float)[order], np.asarray(counts, float)[order]
    cum = np.cumsum(c)  # rows at or below each distinct value
    total = cum[-1]
    qs = np.linspace(0, 1, n_bins + 1)[1:-1]
    h = (total - 1) * qs
    lo = np.floor(h)
    i_lo = np.searchsorted(cum, lo, side="right")  # value at sorted position lo
    i_hi = np.searchsorted(cum, np.minimum(lo + 1, total - 1), side="right")
    a, b, t = v[i_lo], v[i_hi], h - lo
    # numpy's linear interpolation, written as numpy writes it (lerp)
    diff = b - a
    edges = np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)
    return np.unique(edges)


def ks_from_values(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """scipy's two-sample KS test (statistic, p-value) of two sets of rows."""
    if len(ref) == 0 or len(cur) == 0:
        return float("nan"), float("nan")
    r = stats.ks_2samp(ref, cur)
    return float(r.statistic), float(r.pvalue)


def psi(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    return psi_from_counts(np.asarray(ref_counts), np.asarray(cur_counts))
