"""One version's evaluation of a number model or a class model from rows an engine keeps.

``analysis.evaluation_rows`` does this for yes/no models; this module does it for the two
other tasks, so that the model page, the comparison page, the reports, the model card, the
portfolio's advice and the retraining story of a regression or multiclass model of millions
of rows never read them into the web process (the numbers across versions take
``task_points``: the metrics' sums and sample, without the charts' counts). The engine
(``analysis.queries``) returns small tables, and from them every number is worked out exactly
as ``analysis.evaluation.evaluate`` works it out on the rows (tested equal to it and to
scikit-learn on the same rows, tests/test_task_rows.py):

* a number model: the metrics from the sums of the errors (``summaries.regression_from_sums``);
  the charts of actual against predicted, of the errors at every level and of the errors'
  sizes from the engine's counts per bin, numpy's bins (``queries.regression_bins``), or from
  the rows themselves when they are few enough to be drawn as points;
* a class model: accuracy and F1 from the confusion counts
  (``summaries.multiclass_from_counts``), the confusion matrix, each class's precision, recall
  and F1 and the most confused pairs from the same counts; log loss from the engine's sum of
  −log of the true class's probability; each class's ROC curve against the rest and the
  confidence chart from counts per distinct probability (``queries.class_probability_counts``),
  left out, with a note saying so, when there are too many distinct probabilities to count;
* each segment value's headline metric from the engine's per-value sums.

The 95% intervals come from a random sample of the labelled rows (``queries.rows_sample``;
the same rows every time for one Parquet file), bootstrapped with the spread scaled to all
rows, as for yes/no models.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from registry.model import COL_PRED, COL_TRUE, PROBA_PREFIX, SEGMENT_PREFIX, Model

from . import evaluation_rows as er
from . import queries as q
from . import summaries as sm
from .curves import calibration_from_counts, drawn_curve, roc_and_pr_from_counts
from .evaluation_types import (
    ERROR_BINS, MAX_SCATTER_POINTS, SCATTER_BINS, SEGMENT_COLUMNS, TASK_METRICS, Binned,
    RegressionDiagnostics, VersionEvaluation, regression_diagnostics,
)
from .metrics import undefined_reason
from .multiclass import (
    ClassCurve, ConfidenceCalibration, MulticlassDetails, most_confused, natural_sort,
)
from .uncertainty import SECONDARY, BootstrapSettings, Interval, bootstrap_intervals

#: distinct (class, probability) cells counted at most for a class model's ROC curves and
#: confidence chart; beyond, they are left out (said in the page's notes)
MAX_PROBABILITY_CELLS = 2_000_000


@dataclass(frozen=True)
class TaskSummary:
    """What the engine returned about one version's labelled evaluation rows of a number
    model or a class model, reduced to what the pages show."""

    task: str
    rows: int  # labelled rows
    points: dict[str, float]  # every metric of the task on all the rows
    #: random labelled rows (all of them when few): y_true, y_pred, and a class model's
    #: proba.* columns when it has them
    sample: pd.DataFrame
    regression: RegressionDiagnostics | None = None
    multiclass: MulticlassDetails | None = None
    zeros: int = 0  # a number model's true values equal to 0 (MAPE is then undefined)
    #: about how many distinct probabilities a class model's columns hold together (the
    #: engine's approximate count: the cells the curves would need at least)
    probability_values: int = 0
    notes: tuple[str, ...] = ()


# ------------------------------------------------------------------ from the engine
def summarise_task(model: Model, rows, charts: bool = True) -> TaskSummary:
    """The engine's summaries of a number or class model's evaluation ``rows``
    (``registry.rows.Rows``), reduced to ``TaskSummary``; without ``charts``, only what the
    metrics need (the numbers across versions: no pass for the charts' counts)."""
    if model.task == "regression":
        ev = _regression(model, rows)
    else:
        ev = _multiclass(model, rows)
    return with_charts(model, rows, ev) if charts else ev


def with_charts(model: Model, rows, ev: TaskSummary) -> TaskSummary:
    """``ev`` with the charts' data: a number model's three charts, a class model's
    one-vs-rest ROC curves and confidence chart (from the engine's counts)."""
    if ev.rows == 0:
        return ev
    if model.task == "regression":
        if len(ev.sample) >= ev.rows or ev.rows <= MAX_SCATTER_POINTS:  # few: from the rows
            every = ev.sample if len(ev.sample) >= ev.rows else \
                q.rows_sample(rows, [COL_TRUE, COL_PRED], ev.rows, n=ev.rows)[0]
            diagnostics = regression_diagnostics(every[COL_TRUE].to_numpy(dtype=float),
                                                 every[COL_PRED].to_numpy(dtype=float))
        else:
            diagnostics = regression_diagnostics_of(rows, ev.rows)
        return replace(ev, regression=diagnostics)
    proba = [c for c in rows.columns if c.startswith(PROBA_PREFIX)]
    if not proba:
        return ev
    cells = q.class_probability_counts(rows, proba, MAX_PROBABILITY_CELLS) \
        if ev.probability_values <= MAX_PROBABILITY_CELLS else None
    if cells is None:
        return replace(ev, notes=ev.notes + (
            "The one-vs-rest ROC curves and the confidence chart are left out: the "
            f"{ev.rows:,} rows hold more than {MAX_PROBABILITY_CELLS:,} distinct "
            "probabilities, too many to count exactly here.",))
    return replace(ev, multiclass=replace(ev.multiclass, **curves_from_counts(cells, proba)))


def _regression(model: Model, rows) -> TaskSummary:
    sums = q.metric_summary(model, rows.table, rows, [])
    s = sums.iloc[0] if len(sums) else {"n": 0}
    n = int(s["n"]) if len(sums) else 0
    notes = tuple(rows.notes)
    if n == 0:
        return TaskSummary(model.task, 0, {}, pd.DataFrame(columns=[COL_TRUE, COL_PRED]),
                           notes=notes)
    sample, _ = q.rows_sample(rows, [COL_TRUE, COL_PRED], er.SAMPLE_ROWS, n=n)
    return TaskSummary(model.task, n, sm.regression_from_sums(s), sample,
                       zeros=int(s["zeros"]), notes=notes)


def _outer_edges(lo: float, hi: float) -> tuple[float, float]:
    """numpy's range of a histogram of values from ``lo`` to ``hi`` (one value: ±0.5)."""
    return (lo - 0.5, hi + 0.5) if lo == hi else (lo, hi)


def regression_diagnostics_of(rows, n: int) -> RegressionDiagnostics:
    """``analysis.evaluation.regression_diagnostics`` of more than ``MAX_SCATTER_POINTS``
    labelled rows, from the engine's counts per bin: numpy's ``histogram2d`` of (predicted,
    actual) and of (predicted, residual), ``histogram`` of the residuals."""
    ranges = {k: _outer_edges(*v) for k, v in q.regression_ranges(rows).items()}
    bins = {"px": ("predicted", *ranges["predicted"], SCATTER_BINS),
            "ay": ("actual", *ranges["actual"], SCATTER_BINS),
            "ry": ("residual", *ranges["residual"], SCATTER_BINS),
            "re": ("residual", *ranges["residual"], ERROR_BINS)}
    # one pass for all three charts: the cells of the four bins that hold rows are few (the
    # error follows from the two values), fewer than one pass per chart costs
    (cells,) = q.regression_bins(rows, bins, [("px", "ay", "ry", "re")])
    pairs = residuals = cells

    def grid(frame, a, b) -> np.ndarray:
        counts = np.zeros((bins[a][3], bins[b][3]))
        part = frame.groupby([a, b], as_index=False)["n"].sum()
        counts[part[a].to_numpy(dtype=np.int64), part[b].to_numpy(dtype=np.int64)] = \
            part["n"].to_numpy(dtype=float)
        return counts

    def binned(a, b, frame) -> Binned:
        xe, ye = (np.linspace(bins[k][1], bins[k][2], bins[k][3] + 1) for k in (a, b))
        return Binned("bins", (xe[:-1] + xe[1:]) / 2, (ye[:-1] + ye[1:]) / 2,
                      grid(frame, a, b).T, n)

    errors = np.zeros(ERROR_BINS, dtype=np.int64)
    per = residuals.groupby("re")["n"].sum()
    errors[per.index.to_numpy(dtype=np.int64)] = per.to_numpy(dtype=np.int64)
    edges = np.linspace(*ranges["residual"], ERROR_BINS + 1)
    return RegressionDiagnostics(
        actual_vs_predicted=binned("px", "ay", pairs),
        residuals=binned("px", "ry", residuals),
        errors=pd.DataFrame({"bin_left": edges[:-1], "bin_right": edges[1:], "rows": errors}))


def _multiclass(model: Model, rows) -> TaskSummary:
    counts = q.metric_summary(model, rows.table, rows, [])
    n = int(counts["n"].sum()) if len(counts) else 0
    proba = [c for c in rows.columns if c.startswith(PROBA_PREFIX)]
    if n == 0:
        return TaskSummary(model.task, 0, {}, pd.DataFrame(columns=[COL_TRUE, COL_PRED]),
                           notes=tuple(rows.notes))
    counts = counts.assign(y_true=counts["y_true"].astype(str),
                           y_pred=counts["y_pred"].astype(str))
    points, distinct = sm.multiclass_from_counts(counts), 0
    if proba:
        log_loss, distinct = q.class_probability_sums(rows, proba)
        points["log_loss"] = log_loss / n
    sample, _ = q.rows_sample(rows, [COL_TRUE, COL_PRED, *proba], er.SAMPLE_ROWS, n=n)
    return TaskSummary(model.task, n, points, sample, multiclass=details_from_counts(counts),
                       probability_values=distinct, notes=tuple(rows.notes))


def details_from_counts(counts: pd.DataFrame) -> MulticlassDetails:
    """``analysis.multiclass.multiclass_details``' confusion matrix, per-class table and most
    confused pairs from (y_true, y_pred, n) counts of text labels (the probability parts
    are ``curves_from_counts``')."""
    labels = natural_sort(set(counts["y_true"]) | set(counts["y_pred"]))
    at = {label: i for i, label in enumerate(labels)}
    cm = np.zeros((len(labels), len(labels)), dtype=np.int64)
    np.add.at(cm, (counts["y_true"].map(at).to_numpy(), counts["y_pred"].map(at).to_numpy()),
              counts["n"].to_numpy(dtype=np.int64))
    diag = np.diag(cm).astype(float)
    support, predicted = cm.sum(axis=1), cm.sum(axis=0)
    safe = lambda a, b: np.divide(a, b, out=np.zeros_like(a), where=b > 0)  # noqa: E731
    precision, recall = safe(diag, predicted.astype(float)), safe(diag, support.astype(float))
    f1 = safe(2 * diag, (support + predicted).astype(float))
    per_class = pd.DataFrame({"label": labels,
                              "precision": np.where(predicted > 0, precision, np.nan),
                              "recall": np.where(support > 0, recall, np.nan), "f1": f1,
                              "support": support, "predicted": predicted})
    return MulticlassDetails(tuple(labels), cm, per_class, confused=most_confused(cm, labels))


def curves_from_counts(cells: pd.DataFrame, columns: list[str]) -> dict:
    """``multiclass_details``' one-vs-rest ROC curves (``roc``, ``roc_missing``) and
    ``confidence`` from ``queries.class_probability_counts``."""
    classes = [c[len(PROBA_PREFIX):] for c in columns]
    curves, missing = [], []
    for label in natural_sort(classes):
        part = cells.loc[cells["i"] == classes.index(label)]
        s = part["v"].to_numpy(dtype=float)
        n, pos = part["n"].to_numpy(dtype=float), part["pos"].to_numpy(dtype=float)
        p, total = int(round(pos.sum())), int(round(n.sum()))
        if p == 0:
            missing.append((label, f"no evaluation row is truly {label}"))
            continue
        if p == total:
            missing.append((label, f"every evaluation row is truly {label}"))
            continue
        fpr, tpr, thr, *_ = roc_and_pr_from_counts(s, pos, n - pos)
        curves.append(ClassCurve(label, drawn_curve(fpr, tpr, thr,
                                                    sm.auc_from_counts(pos, n - pos)),
                                 p, total - p))
    top = cells.loc[cells["i"] == -1]
    s = top["v"].to_numpy(dtype=float)
    n, right = top["n"].to_numpy(dtype=float), top["pos"].to_numpy(dtype=float)
    if n.sum() == 0:
        confidence = ConfidenceCalibration(pd.DataFrame(columns=[
            "bin_left", "bin_right", "mean_confidence", "share_correct", "rows"]),
            float("nan"), float("nan"), 0)
    else:
        table = calibration_from_counts(np.clip(s, 0.0, 1.0), right, n - right).rename(
            columns={"mean_predicted": "mean_confidence", "observed_rate": "share_correct"})
        confidence = ConfidenceCalibration(table, float((s * n).sum() / n.sum()),
                                           float(right.sum() / n.sum()),
                                           int(round(n.sum())))
    return {"roc": tuple(curves), "roc_missing": tuple(missing), "confidence": confidence}


# ------------------------------------------------------------------ segments
def segment_counts(model: Model, rows, n: int | None = None) -> er.SegmentCounts:
    """Every value of every segment column with its labelled rows and headline metric on
    all of them (``queries.segment_sums``), and a random sample of the labelled rows with
    their segment columns as text (each value's interval comes from its rows there)."""
    seg_cols = [c for c in rows.columns if c.startswith(SEGMENT_PREFIX)]
    parts = []
    for col in seg_cols:
        got = q.segment_sums(model, rows, col)
        got = got.assign(value=got["value"].astype(str)).sort_values("value", kind="stable")
        n_rows = got["n"].to_numpy(dtype=np.int64)
        parts.append(pd.DataFrame({"segment": col, "value": got["value"],
                                   "rows": n_rows, "positives": 0,
                                   "estimate": got["total"].to_numpy(dtype=float)
                                   / np.maximum(n_rows, 1)}))
    table = pd.concat(parts, ignore_index=True) if parts else \
        pd.DataFrame(columns=["segment", "value", "rows", "positives", "estimate"])
    sample = q.rows_sample(rows, [COL_TRUE, COL_PRED, *seg_cols], er.SAMPLE_ROWS, n=n,
                           text=tuple(seg_cols))[0] if seg_cols else \
        pd.DataFrame(columns=[COL_TRUE, COL_PRED])
    return er.SegmentCounts(table, sample)


# ------------------------------------------------------------------ what the pages show
def evaluate_task(model: Model, version: int, ev: TaskSummary,
                  segments: er.SegmentCounts | None,
                  settings: BootstrapSettings = BootstrapSettings()) -> VersionEvaluation:
    """``analysis.evaluation.evaluate`` from a ``TaskSummary`` and the ``segment_counts``;
    without them (None) the segments are marked as still being worked out
    (``VersionEvaluation.segments_pending``), for a page's first view."""
    metrics = metric_intervals(model, ev, settings)
    seg = er.segment_table(model, segments, replace(SECONDARY, seed=settings.seed)) \
        if segments is not None else pd.DataFrame(columns=SEGMENT_COLUMNS)
    return VersionEvaluation(
        model=model.name, version=version, task=model.task, rows=ev.rows, metrics=metrics,
        multiclass=ev.multiclass, regression=ev.regression,
        unavailable=unavailable(model, ev, metrics), segments=seg, notes=ev.notes,
        segments_pending=segments is None)


def metric_intervals(model: Model, ev: TaskSummary,
                     settings: BootstrapSettings = BootstrapSettings(),
                     metrics: tuple[str, ...] | None = None) -> dict[str, Interval]:
    """Every metric of the task (only ``metrics`` when given) on all rows, exact, with its
    95% interval from the sample, the spread scaled to all rows."""
    points = {k: v for k, v in ev.points.items() if metrics is None or k in metrics}
    if not points:
        return {}
    if ev.rows < 2 or len(ev.sample) < 2:
        return {k: Interval(v, np.nan, np.nan) for k, v in points.items()}
    return bootstrap_intervals(model, ev.sample, 0.5, settings, tuple(points), point=points,
                               population=ev.rows)


def unavailable(model: Model, ev: TaskSummary, metrics: dict) -> dict[str, str]:
    """``analysis.evaluation.unavailable_metrics`` from the summary's counts."""
    out = {}
    for key in TASK_METRICS[model.task]:
        ci = metrics.get(key)
        if ci is not None and np.isfinite(ci.value):
            continue
        out[key] = undefined_reason(model.task, key, ev.rows, ev.zeros)
    return out


def summary_metric(model: Model, ev: TaskSummary, metric: str,
                   settings: BootstrapSettings | None = None) -> Interval:
    """``metric`` on all the summarised rows; with ``settings``, its 95% interval from the
    sample (else NaN bounds)."""
    if settings is not None:
        got = metric_intervals(model, ev, settings, (metric,)).get(metric)
        return got if got is not None else Interval(np.nan, np.nan, np.nan)
    return Interval(ev.points.get(metric, np.nan), np.nan, np.nan)


# ------------------------------------------------------------------ cached, per version
def task_summary(deck, name: str, version: int) -> TaskSummary | None:
    """The summary of a number or class model's evaluation rows of ``version`` when an
    engine keeps them, with the charts' data, cached until the model's files change; None
    when the rows are read into memory (or the model is a yes/no model:
    ``evaluation_rows.evaluation_summary``). KeyError when the version has no rows;
    RegistryError when the table cannot be read."""
    def compute():
        points = task_points(deck, name, version)
        return None if points is None else \
            with_charts(deck.model(name), q.kept_rows_of(deck, name, version), points)
    return deck.memo(("task-summary", name, version), name, compute)


def task_points(deck, name: str, version: int, split: str | None = None
                ) -> TaskSummary | None:
    """``task_summary`` without the charts' data: what the numbers across versions (the
    versions table, the trend, the headline, the cost of the errors) and the validation
    section (each ``split``; None: the default split) need, cached per split."""
    def compute():
        model = deck.model(name)
        if model.task not in ("regression", "multiclass"):
            return None
        rows = q.kept_rows_of(deck, name, version, split)
        return None if rows is None else summarise_task(model, rows, charts=False)
    return deck.memo(("task-points", name, version) + er.split_key(split), name, compute)


def version_segments(deck, name: str, version: int) -> er.SegmentCounts:
    """The segment counts of a version (of any task) whose rows an engine keeps
    (``evaluation_rows.segment_counts`` of a yes/no model, ``segment_counts`` here of the
    others), cached until the model's files change."""
    binary = deck.model(name).task == "binary"

    def compute():
        summary = (er.evaluation_summary if binary else task_points)(deck, name, version)
        return (er.segment_counts if binary else segment_counts)(
            deck.model(name), q.kept_rows_of(deck, name, version),
            n=summary.rows if summary is not None else None)
    return deck.memo(("evaluation-segments" if binary else "task-segments", name, version),
                     name, compute)

