"""One version's evaluation from rows an engine keeps where they lie (``analysis.queries``).

A yes/no model's evaluation table of millions of rows (a large Parquet file, an external
table) is never read into the web process. The engine returns small tables instead: how many
positives and negatives have each distinct score (over all labelled rows, and per value of
each segment column). From the counts,
``summarise`` works out every number the model page shows, exactly as on the rows
(``analysis.summaries``, ``analysis.curves``: equal to scikit-learn on the same rows, tested):
the metrics at any threshold, the ROC, precision–recall, gain and calibration curves, the
score histogram, the confusion counts at every threshold of the page's slider, each segment's
headline metric. The 95% intervals come from the bootstrap the in-memory path uses above
``BootstrapSettings.max_rows`` rows (a subsample, its spread scaled to all rows), on a random
sample of the labelled rows: drawn here from the counts themselves, per class so that a rare
class is well represented (a yes/no metric reads only a row's score and class, so positions
drawn among the counted rows are rows drawn; ``sample_from_counts``, seeded), and for the
segments' intervals drawn by the engine with the segment columns.

What is kept (``EvaluationSummary``) is small whatever the rows: the drawn curves, counts at
101 thresholds, a bounded sample. ``analysis.evaluation.version_evaluation`` and the other
per-version numbers (the versions table, the trend, the portfolio's headline, the value
curve) take it when ``evaluation_summary`` returns one, and the rows otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from registry.model import COL_SCORE, COL_TRUE, SEGMENT_PREFIX, Model
from registry.rows import COL_POS

from . import queries as q
from . import summaries as sm
from .curves import BinaryCurves, binary_curves_from_counts
from .evaluation_types import (
    SEGMENT_COLUMNS, TASK_METRICS, THRESHOLDS, ThresholdResult, VersionEvaluation,
    count_metrics, mark_weakest, threshold_from_counts,
)
from .metrics import METRICS, headline_metric, one_outcome_reason, undefined_reason
from .uncertainty import (
    SECONDARY, BootstrapSettings, Interval, bootstrap_intervals, too_few_rows,
)

#: labelled rows drawn for the intervals: every bootstrap takes at most
#: ``BootstrapSettings.max_rows`` of them, and a segment's value its share
SAMPLE_ROWS = 50_000
#: rows of each class the sample holds at least (or all of that class's): a rare class's
#: spread is then measured on enough of its rows (``uncertainty.CLASS_ROWS`` and after)
CLASS_SAMPLE_ROWS = 2_500
#: segment values numbered in the engine (more are grouped by their text)
MAX_SEGMENT_VALUES = 256


@dataclass(frozen=True)
class EvaluationSummary:
    """What the engine returned about one version's labelled evaluation rows, reduced."""

    rows: int  # labelled rows
    positives: int
    points: dict[str, float]  # every metric of a yes/no model at threshold 0.5
    tp: np.ndarray  # positives scoring >= each of THRESHOLDS
    fp: np.ndarray  # negatives scoring >= each of THRESHOLDS
    curves: BinaryCurves | None  # None when one outcome only
    #: random labelled rows drawn per class (``sample_from_counts``): y_true 1.0 (positive) /
    #: 0.0 and y_score; all of them when there are at most SAMPLE_ROWS (``uniform_sample``:
    #: the classes in their proportions)
    sample: pd.DataFrame
    notes: tuple[str, ...] = ()

    @property
    def negatives(self) -> int:
        return self.rows - self.positives

    def counts_at(self, threshold: float) -> tuple[int, int, int, int]:
        """(tp, fp, fn, tn) flagging rows scoring >= ``threshold`` (rounded to 0.01)."""
        i = int(np.searchsorted(THRESHOLDS, round(float(threshold), 2)))
        tp, fp = int(self.tp[i]), int(self.fp[i])
        return tp, fp, self.positives - tp, self.negatives - fp


# ------------------------------------------------------------------ from the engine
def summarise(model: Model, rows) -> EvaluationSummary:
    """The engine's summaries of a yes/no model's evaluation ``rows`` (``registry.rows.Rows``
    with the positive column), reduced to ``EvaluationSummary``."""
    scores, pos, neg = sm.score_counts(q.score_counts(rows))
    n, positives = int(round(pos.sum() + neg.sum())), int(round(pos.sum()))
    curves = binary_curves_from_counts(scores, pos, neg) if 0 < positives < n else None
    # ROC AUC and average precision are the areas the curves report (the same sums of the
    # same arrays), so the counts are not walked for them twice
    points = sm.binary_from_counts(scores, pos, neg, 0.5, known=None if curves is None else {
        "roc_auc": curves.roc.area, "average_precision": curves.pr.area}) if n else {}
    # counts at every threshold of the slider, from the top: rows scoring >= t
    below = np.searchsorted(scores, THRESHOLDS, side="left")
    cpos, cneg = np.r_[0.0, np.cumsum(pos)], np.r_[0.0, np.cumsum(neg)]
    tp = np.round(cpos[-1] - cpos[below]).astype(np.int64)
    fp = np.round(cneg[-1] - cneg[below]).astype(np.int64)
    return EvaluationSummary(rows=n, positives=positives, points=points, tp=tp, fp=fp,
                             curves=curves, sample=sample_from_counts(
                                 scores, pos, neg, SAMPLE_ROWS, per_class=True),
                             notes=tuple(rows.notes))


def sample_from_counts(scores: np.ndarray, pos: np.ndarray, neg: np.ndarray, size: int,
                       seed: int = 0, per_class: bool = False) -> pd.DataFrame:
    """A random sample, without replacement, of ``size`` of the rows that ``pos`` and ``neg``
    count at each distinct score (all of them when there are fewer), as y_true (1.0
    positive, 0.0 negative) and y_score, in score order (positives first at a tied score
    only with ``per_class``). A yes/no metric reads nothing of a row but its score and its
    class, so drawing positions among the counted rows (cell by cell: each score's
    negatives, then its positives) draws rows; no query is needed.

    Uniform by default. ``per_class``: uniform among the positives and, apart, among the
    negatives, each class holding at least ``CLASS_SAMPLE_ROWS`` rows (or all of its own)
    and otherwise its share: a rare class is then well represented, and the bootstrap
    scales each class to its own rows (``uncertainty.bootstrap_intervals``'s
    ``population_positives``)."""
    cells = np.rint(np.column_stack([neg, pos])).astype(np.int64)
    n_neg, n_pos = (int(x) for x in cells.sum(axis=0)) if len(cells) else (0, 0)
    n = n_neg + n_pos
    rng = np.random.default_rng(seed)
    if n <= size or not per_class:
        flat = cells.ravel()
        ends = np.cumsum(flat)
        at = np.arange(n) if n <= size else np.sort(rng.choice(n, size, replace=False))
        cell = np.searchsorted(ends, at, side="right")
        return pd.DataFrame({COL_TRUE: (cell % 2).astype(float),
                             COL_SCORE: np.asarray(scores, float)[cell // 2]})
    floor = min(CLASS_SAMPLE_ROWS, size // 2)
    k_pos = min(n_pos, max(int(round(size * n_pos / n)), min(n_pos, floor)))
    k_pos = min(k_pos, size - min(n_neg, floor))
    parts = []
    for y, k, total in ((0.0, size - k_pos, n_neg), (1.0, k_pos, n_pos)):
        ends = np.cumsum(cells[:, int(y)])
        at = np.sort(rng.choice(total, k, replace=False))
        parts.append(pd.DataFrame({COL_TRUE: np.full(k, y), COL_SCORE: np.asarray(
            scores, float)[np.searchsorted(ends, at, side="right")]}))
    return pd.concat(parts, ignore_index=True).sort_values(
        COL_SCORE, kind="stable").reset_index(drop=True)


def uniform_sample(ev: "EvaluationSummary", seed: int = 0) -> pd.DataFrame:
    """A uniform random sample of the summarised rows, from ``ev.sample`` (drawn per class):
    the over-represented class thinned to its share (what a check that reads rows as they
    come, such as the scores' calibration, needs)."""
    s = ev.sample
    if len(s) >= ev.rows or ev.positives in (0, ev.rows):
        return s
    is_pos = s[COL_TRUE].to_numpy() == 1.0
    k_pos, k_neg = int(is_pos.sum()), int((~is_pos).sum())
    rate_pos, rate_neg = k_pos / ev.positives, k_neg / ev.negatives
    keep_pos, keep_neg = (k_pos, int(round(ev.negatives * rate_pos))) if rate_pos < rate_neg \
        else (int(round(ev.positives * rate_neg)), k_neg)
    rng = np.random.default_rng(seed)
    rows = np.r_[rng.choice(np.flatnonzero(is_pos), min(keep_pos, k_pos), replace=False),
                 rng.choice(np.flatnonzero(~is_pos), min(keep_neg, k_neg), replace=False)]
    return s.iloc[np.sort(rows)].reset_index(drop=True)


@dataclass(frozen=True)
class SegmentCounts:
    """What the engine returned about each segment value of one version's labelled rows."""

    #: segment (column), value (as text), rows, positives, estimate (the headline metric on
    #: all the value's rows, NaN when undefined)
    table: pd.DataFrame
    #: uniform random labelled rows: y_true 1.0 / 0.0, y_score and every segment column as
    #: text (each value's interval comes from its rows here)
    sample: pd.DataFrame


def segment_counts(model: Model, rows, n: int | None = None) -> SegmentCounts:
    """Every value of every segment column: the engine's counts per value and distinct score,
    one query per column (the costliest summaries, so a page asks for them last), and a
    random sample of the labelled rows with their segment columns (``n``: how many labelled
    rows there are, when the caller knows)."""
    seg_cols = [c for c in rows.columns if c.startswith(SEGMENT_PREFIX)]
    parts = [_segment_values(model, rows, c) for c in seg_cols]
    table = pd.concat(parts, ignore_index=True) if parts else \
        pd.DataFrame(columns=["segment", "value", "rows", "positives", "estimate"])
    sample = q.rows_sample(rows, [COL_POS, COL_SCORE, *seg_cols], SAMPLE_ROWS, n=n,
                           text=tuple(seg_cols))[0].rename(columns={COL_POS: COL_TRUE}) \
        if seg_cols else pd.DataFrame(columns=[COL_TRUE, COL_SCORE])
    return SegmentCounts(table, sample)


def _segment_values(model: Model, rows, col: str) -> pd.DataFrame:
    """Rows, positives and the headline metric of each value of segment column ``col``
    (values as text, as ``analysis.evaluation.segment_metrics`` groups them). The engine
    counts positives and negatives per (value, distinct score); values are numbered first
    (a query of its own, cheap) so that the counts travel as numbers, in order."""
    import ibis
    t = rows.table
    t = t.filter(t[COL_TRUE].notnull())
    text = t[col].cast("string").fill_null("nan")
    values = sorted(str(v) for v in rows.execute(
        t.select(text.name("value")).distinct().limit(MAX_SEGMENT_VALUES + 1))["value"])
    columns = ["segment", "value", "rows", "positives", "estimate"]
    if not values:
        return pd.DataFrame(columns=columns)
    if len(values) > MAX_SEGMENT_VALUES:  # too many to number: group by the text itself
        code = text
    else:
        code = ibis.cases(*[(text == v, i) for i, v in enumerate(values)], else_=-1)
    counts = rows.execute(t.group_by([code.name("code"), t[COL_SCORE].name("score")])
                          .aggregate(n=t.count(), pos=t[COL_POS].sum())
                          .order_by(["code", "score"]))
    if len(values) > MAX_SEGMENT_VALUES:
        values = sorted(counts["code"].astype(str).unique())
        counts["code"] = counts["code"].astype(str).map({v: i for i, v in enumerate(values)})
        counts = counts.sort_values(["code", "score"], kind="stable")
    c = counts["code"].to_numpy(dtype=np.int64)
    s, n = counts["score"].to_numpy(dtype=float), counts["n"].to_numpy(dtype=float)
    pos = counts["pos"].to_numpy(dtype=float)
    metric = headline_metric(model.task)
    bounds = np.r_[0, np.flatnonzero(np.diff(c)) + 1, len(c)]
    out = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        p, ng = pos[lo:hi], n[lo:hi] - pos[lo:hi]
        out.append({"segment": col, "value": values[c[lo]],
                    "rows": int(round(n[lo:hi].sum())), "positives": int(round(p.sum())),
                    "estimate": sm.binary_from_counts(s[lo:hi], p, ng, 0.5, (metric,)).get(
                        metric, np.nan)})
    return pd.DataFrame(out, columns=columns)


# ------------------------------------------------------------------ what the pages show
def evaluate_summary(model: Model, version: int, ev: EvaluationSummary,
                     segments: SegmentCounts | None,
                     settings: BootstrapSettings = BootstrapSettings()) -> VersionEvaluation:
    """``analysis.evaluation.evaluate`` (threshold 0.5) from an ``EvaluationSummary`` and the
    ``segment_counts``; without them (None) the segments are marked as still being worked
    out (``VersionEvaluation.segments_pending``), for a page's first view."""
    metrics = metric_intervals(model, ev, tuple(ev.points), 0.5, settings)
    seg = segment_table(model, segments, replace(SECONDARY, seed=settings.seed)) \
        if segments is not None else pd.DataFrame(columns=SEGMENT_COLUMNS)
    return VersionEvaluation(
        model=model.name, version=version, task=model.task, rows=ev.rows, metrics=metrics,
        binary=ev.curves, unavailable=unavailable(ev, metrics), segments=seg,
        notes=ev.notes, segments_pending=segments is None)


def metric_intervals(model: Model, ev: EvaluationSummary, metrics: tuple[str, ...],
                     threshold: float = 0.5, settings: BootstrapSettings = BootstrapSettings()
                     ) -> dict[str, Interval]:
    """Each of ``metrics`` on all rows (exact, from the counts) with its 95% interval from
    the sample."""
    points = {k: v for k, v in points_at(ev, threshold).items() if k in metrics}
    if not points:
        return {}
    return bootstrap_intervals(q.sample_model(model), ev.sample, threshold, settings,
                               tuple(points), point=points, population=ev.rows,
                               population_positives=ev.positives
                               if _boosted(ev) else None)


def _boosted(ev: EvaluationSummary) -> bool:
    """Whether the sample holds a class beyond its share (``sample_from_counts`` per class,
    a rare class): its bootstrap then scales each class to its own rows. A sample in the
    classes' own proportions is bootstrapped as a uniform one (the same spread, quicker)."""
    m = len(ev.sample)
    if m >= ev.rows or ev.rows == 0:
        return False
    held = int((ev.sample[COL_TRUE].to_numpy() == 1.0).sum())
    return abs(held - m * ev.positives / ev.rows) > 1


def points_at(ev: EvaluationSummary, threshold: float) -> dict[str, float]:
    """Every metric on all the summarised rows, the threshold-dependent ones at
    ``threshold`` (rounded to 0.01)."""
    if round(float(threshold), 2) == 0.5:
        return dict(ev.points)
    at_t = count_metrics(np.array([ev.counts_at(threshold)], float))
    return {k: (float(at_t[k][0]) if k in at_t else v) for k, v in ev.points.items()}


def threshold_counts(ev: EvaluationSummary, threshold: float,
                     settings: BootstrapSettings = BootstrapSettings()) -> ThresholdResult:
    """``analysis.evaluation.at_threshold`` from the counts at ``threshold``."""
    return threshold_from_counts(*ev.counts_at(threshold), threshold, settings)


def segment_table(model: Model, segments: SegmentCounts,
                  settings: BootstrapSettings = SECONDARY) -> pd.DataFrame:
    """``analysis.evaluation.segment_metrics`` from ``segment_counts`` (this module's for a
    yes/no model, ``task_rows``' for the others): each value's headline metric on all its
    rows, its interval from the sample's rows of that value."""
    metric = headline_metric(model.task)
    sample = segments.sample
    out = []
    for r in segments.table.itertuples():
        note, ci = too_few_rows(r.rows), None
        if not note:
            if not np.isfinite(r.estimate):
                why = one_outcome_reason(r.rows, r.positives) if model.task == "binary" \
                    else undefined_reason(model.task, metric, r.rows)
                note = f"{METRICS[metric].name} is undefined here: {why}"
            else:
                part = sample.loc[sample[r.segment] == r.value]
                ci = bootstrap_intervals(q.sample_model(model), part, 0.5, settings, (metric,),
                                         point={metric: r.estimate},
                                         population=r.rows).get(metric) \
                    if len(part) >= 2 else Interval(r.estimate, np.nan, np.nan)
        out.append({"segment": r.segment[len(SEGMENT_PREFIX):], "value": r.value,
                    "rows": r.rows, "metric": metric,
                    "estimate": ci.value if ci else np.nan,
                    "low": ci.low if ci else np.nan, "high": ci.high if ci else np.nan,
                    "weakest": False, "note": note})
    return mark_weakest(pd.DataFrame(out, columns=SEGMENT_COLUMNS))


def unavailable(ev: EvaluationSummary, metrics: dict) -> dict[str, str]:
    """``analysis.evaluation.unavailable_metrics`` from the counts."""
    out = {}
    for key in TASK_METRICS["binary"]:
        ci = metrics.get(key)
        if ci is not None and np.isfinite(ci.value):
            continue
        out[key] = "there are no labelled rows" if ev.rows == 0 else \
            one_outcome_reason(ev.rows, ev.positives)
    return out


# ------------------------------------------------------------------ cached, per version
def evaluation_summary(deck, name: str, version: int, split: str | None = None
                       ) -> EvaluationSummary | None:
    """The summary of a yes/no model's evaluation rows of ``version`` (on ``split``; None:
    the default split) when an engine keeps them, cached per split until the model's files
    change; None when the rows are read into memory (or the model is not a yes/no model).
    KeyError when the version (or split) has no rows; RegistryError when the table cannot
    be read."""
    def compute():
        model = deck.model(name)
        if model.task != "binary":
            return None
        rows = q.kept_rows_of(deck, name, version, split)
        return None if rows is None else summarise(model, rows)
    return deck.memo(("evaluation-summary", name, version) + split_key(split), name, compute)


def split_key(split: str | None) -> tuple:
    """What a per-version cache key adds for ``split``: nothing for the default split (the
    key the pages have always used), else the split's name."""
    return () if split is None else (split,)




def summary_metric(model: Model, ev: EvaluationSummary, metric: str, threshold: float = 0.5,
                   settings: BootstrapSettings | None = None) -> Interval:
    """``metric`` on all the summarised rows; with ``settings``, its 95% interval from the
    sample (else NaN bounds)."""
    if settings is not None:
        got = metric_intervals(model, ev, (metric,), threshold, settings).get(metric)
        return got if got is not None else Interval(np.nan, np.nan, np.nan)
    if threshold == 0.5 or metric not in ("accuracy", "precision", "recall", "f1"):
        return Interval(ev.points.get(metric, np.nan), np.nan, np.nan)
    return Interval(threshold_counts(ev, threshold).metrics[metric].value, np.nan, np.nan)
