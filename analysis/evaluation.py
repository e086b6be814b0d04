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

from dataclasses import replace

import numpy as np
import pandas as pd

from registry.model import COL_PRED, COL_SCORE, COL_TRUE, SEGMENT_PREFIX, Model

from . import evaluation_rows as er
from . import task_rows as tr
from .curves import binary_curves
from .evaluation_types import (  # the result types and a number model's charts, re-exported
    SEGMENT_COLUMNS, TASK_METRICS, Binned, ThresholdResult, VersionEvaluation, binned_scatter,
    mark_weakest, regression_diagnostics, threshold_from_counts,
)
from .metrics import METRICS, binary_truth, compute_metric, headline_metric, why_undefined
from .multiclass import multiclass_details
from .reads import evaluation_frame, evaluation_table
from .uncertainty import (
    MIN_JUDGE_ROWS, SECONDARY, BootstrapSettings, bootstrap_intervals, too_few_rows,
)

__all__ = ["Binned", "SEGMENT_COLUMNS", "TASK_METRICS", "ThresholdResult", "VersionEvaluation",
           "at_threshold", "binary_rows", "binned_scatter", "evaluate", "parse_threshold",
           "regression_diagnostics", "segment_metrics", "threshold_result",
           "unavailable_metrics", "version_evaluation", "version_outline"]


# ------------------------------------------------------------------ at a threshold
def at_threshold(y: np.ndarray, score: np.ndarray, threshold: float,
                 settings: BootstrapSettings = BootstrapSettings()) -> ThresholdResult:
    """Confusion counts and threshold-dependent metrics (rows with score >= threshold are
    flagged), each with a 95% bootstrap interval (``threshold_from_counts``)."""
    pred = score >= threshold
    yb = y.astype(bool)
    tp = int(np.count_nonzero(pred & yb))
    fp = int(np.count_nonzero(pred & ~yb))
    fn = int(np.count_nonzero(~pred & yb))
    return threshold_from_counts(tp, fp, fn, len(y) - tp - fp - fn, threshold, settings)


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
    return mark_weakest(pd.DataFrame(out, columns=SEGMENT_COLUMNS))


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
    """``evaluate`` of one version, cached until the model's files change; from the engine's
    summaries when an engine keeps the rows (``analysis.evaluation_rows`` for a yes/no
    model, ``analysis.task_rows`` for a number or class model)."""
    def compute():
        model = deck.model(name)
        summary = er.evaluation_summary(deck, name, version)
        if summary is not None:
            return er.evaluate_summary(model, version, summary,
                                       tr.version_segments(deck, name, version))
        kept = tr.task_summary(deck, name, version)
        if kept is not None:  # a number or class model's rows an engine keeps
            return tr.evaluate_task(model, version, kept,
                                    tr.version_segments(deck, name, version))
        table = evaluation_table(deck, name, version)
        return replace(evaluate(model, version, table.frame), notes=tuple(table.notes))
    return deck.memo(("evaluation", name, version), name, compute)


def version_outline(deck, name: str, version: int) -> VersionEvaluation:
    """What a page shows first of ``version_evaluation``: the whole when it is cached or the
    rows are read into memory; for rows an engine keeps, everything but the segments (the
    costliest summaries), with ``segments_pending`` set, so that the page can ask for the
    whole in a callback of its own."""
    whole = deck.peek(("evaluation", name, version), name)
    if whole is not None:
        return whole
    summary = er.evaluation_summary(deck, name, version)
    if summary is None:
        kept = tr.task_summary(deck, name, version)
        if kept is None:
            return version_evaluation(deck, name, version)
        return deck.memo(("evaluation-outline", name, version), name,
                         lambda: tr.evaluate_task(deck.model(name), version, kept, None))
    return deck.memo(("evaluation-outline", name, version), name,
                     lambda: er.evaluate_summary(deck.model(name), version, summary, None))


def threshold_result(deck, name: str, version: int, threshold: float) -> ThresholdResult:
    """``at_threshold`` for one version, cached per threshold rounded to 0.01."""
    t = round(float(threshold), 2)

    def compute():
        summary = er.evaluation_summary(deck, name, version)
        if summary is not None:
            return er.threshold_counts(summary, t)
        y, s = binary_rows(deck.model(name), evaluation_frame(deck, name, version))
        return at_threshold(y, s, t)
    return deck.memo(("threshold", name, version, t), name, compute)
