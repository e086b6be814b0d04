"""The monitoring report from summaries an engine computes (``analysis.queries``).

The same report as before for any number of rows: the engine counts rows per window, per
distinct score (or per true/predicted class, or sums errors), per drift bin, and draws a
bounded random sample per window for the bootstrap intervals and the KS tests; nothing else
leaves the engine. Point values are exact (``analysis.summaries``); intervals and KS use
samples of at most ``bootstrap.max_rows`` labelled rows and ``ks_max_rows`` rows per window,
as before.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from registry.model import (
    COL_PRED, COL_SCORE, COL_TRUE, FEATURE_PREFIX, SEGMENT_PREFIX, Model,
)
from registry.rows import COL_POS, COL_WINDOW, Rows

from . import queries as q
from . import summaries as sm
from .drift import Bins, bin_index
from .metrics import METRICS, one_outcome_reason, why_undefined
from .monitoring_types import PERFORMANCE_COLUMNS, MonitoringReport, window_label
from .uncertainty import bootstrap_intervals, too_few_rows

DRIFT_COLUMNS = ["column", "name", "kind", "window", "label", "psi", "ks_stat", "ks_pvalue",
                 "rows"]


def metric_from_summary(model: Model, summary: pd.DataFrame, metric: str,
                        threshold: float = 0.5) -> float:
    """One metric from a ``queries.metric_summary`` (one group), NaN when undefined."""
    if summary.empty:
        return float("nan")
    if model.task == "binary":
        s, pos, neg = sm.score_counts(summary)
        return sm.binary_from_counts(s, pos, neg, threshold, (metric,)).get(metric, np.nan)
    if model.task == "multiclass":
        return sm.multiclass_from_counts(summary).get(metric, np.nan)
    return sm.regression_from_sums(summary.iloc[0]).get(metric, np.nan)


def _undefined(model: Model, summary: pd.DataFrame, labelled: int, sample: pd.DataFrame,
               metric: str) -> str:
    if model.task == "binary" and metric in ("roc_auc", "average_precision", "log_loss"):
        return one_outcome_reason(labelled, int(summary["pos"].sum()))
    return why_undefined(model, sample, metric)


def report_from_rows(model: Model, reference: Rows | None, production: Rows,
                     version: int | None, metric: str, settings, intervals: bool = True,
                     points=None):
    """``analysis.monitoring.monitoring_report`` on rows held by an engine. ``points``: the
    report of the same rows with ``intervals=False`` (the page's outline), whose windows and
    values are taken as they are, so that only the intervals and the drift are worked out
    here (unless the rows changed since: then everything is)."""
    rng = np.random.default_rng(settings.seed)
    notes: list[str] = []
    if points is None or not intervals or points.performance.empty:
        points = None
    # drift: the reference's bins first, so that one pass counts days, the span and bins
    out_col = COL_SCORE if model.task == "binary" else COL_PRED
    with_out = reference is not None and production.has(out_col) and reference.has(out_col)
    inputs = [c for c in production.columns if c.startswith((FEATURE_PREFIX, SEGMENT_PREFIX))
              and reference is not None and reference.has(c)] + ([out_col] if with_out else [])
    ref_bins = _reference_bins(reference, production, inputs, settings) \
        if intervals and reference is not None else {}
    days = q.day_counts(
        production, version,
        {c: b[0].edges for c, b in ref_bins.items() if b[0].edges is not None},
        {c: b[0].categories for c, b in ref_bins.items() if b[0].edges is None})
    span = days.span
    if span.rows == 0:
        empty = pd.DataFrame(columns=PERFORMANCE_COLUMNS)
        return MonitoringReport(model.name, version, metric, "month", empty, None, None,
                                None, pd.DataFrame(), pd.DataFrame(), ("No production rows.",))
    weekly = (span.last.to_pydatetime() - span.first.to_pydatetime()).days \
        < settings.weekly_below_days
    cutoff = _cutoff(span.last, weekly, settings.max_windows)
    since = cutoff if cutoff > span.first else None
    t = q.windowed(production, version, weekly, span, since)
    if weekly and days.monthly:  # the check counted per month: weeks need the days
        days = q.day_counts(production, version, per_day=True)
    counts, bin_counts = days.windows(t.starts)
    dropped = span.rows - int(counts["rows"].sum())
    if points is not None and not counts[["rows", "labelled"]].reset_index(drop=True).equals(
            points.performance[["rows", "labelled"]].reset_index(drop=True).astype(np.int64)):
        points = None  # the rows changed since the outline: every value is worked out here
    if points is not None:  # the outline's windows and values: the same rows
        notes = [n for n in points.notes if n not in production.notes]
    elif dropped:
        notes.append(f"{dropped:,} older production rows are left out: at most "
                     f"{settings.max_windows} {'week' if weekly else 'month'}s are analysed, "
                     "the most recent ones.")
    starts = [pd.Timestamp(w) for w in counts[COL_WINDOW]]
    labels = [window_label(s, weekly) for s in starts]
    kind = "week" if weekly else "month"

    perf_sum = q.metric_summary(model, t, production, [COL_WINDOW]) if points is None \
        else None
    outputs = q.output_columns(model, production)
    numeric_cols = [c for c in production.columns if c in production.numeric]
    # the sample feeds the intervals and KS tests (and, beyond yes/no models, the words
    # saying why a metric is undefined)
    need_sample = intervals or model.task != "binary"
    samples = q.sample(t, production, [COL_TRUE, *outputs, *numeric_cols], counts,
                       settings.ks_max_rows, settings.bootstrap.max_rows, settings.seed) \
        if need_sample else pd.DataFrame(columns=[COL_WINDOW, "any", "lab"])
    by_window = dict(tuple(samples.groupby(COL_WINDOW))) if len(samples) else {}
    perf_by = dict(tuple(perf_sum.groupby(COL_WINDOW))) \
        if perf_sum is not None and len(perf_sum) else {}

    perf = []
    for w, (start, label) in enumerate(zip(starts, labels)):
        n_rows, n_lab = int(counts["rows"].iloc[w]), int(counts["labelled"].iloc[w])
        value = lo = hi = np.nan
        note = "no labels yet" if n_lab == 0 else too_few_rows(n_lab)
        if points is not None:  # the outline's value and words; its interval is added
            known = points.performance.iloc[w]
            value, note = float(known["value"]), known["note"]
            if not note and np.isfinite(value) and intervals:
                smp = by_window.get(start, samples.iloc[:0])
                lo, hi = _ci(model, smp.loc[smp["lab"].astype(bool)], metric, value, n_lab,
                             settings)
        elif not note:
            summary = perf_by.get(start, perf_sum.iloc[:0])
            value = metric_from_summary(model, summary, metric)
            smp = by_window.get(start, samples.iloc[:0])
            lab = smp.loc[smp["lab"].astype(bool)]
            if np.isfinite(value) and intervals:
                lo, hi = _ci(model, lab, metric, value, n_lab, settings)
            elif not np.isfinite(value):
                note = f"{METRICS[metric].name} is undefined: " \
                       f"{_undefined(model, summary, n_lab, lab, metric)}"
        perf.append({"window": start, "label": label, "rows": n_rows, "labelled": n_lab,
                     "value": value, "low": lo, "high": hi, "note": note})
    performance = pd.DataFrame(perf, columns=PERFORMANCE_COLUMNS)

    ref_value = ref_lo = ref_hi = None
    if reference is not None:
        if points is not None:
            ref_value = points.reference
        else:
            ref_sum = q.metric_summary(model, reference.table, reference, [])
            v = metric_from_summary(model, ref_sum, metric)
            ref_value = float(v) if np.isfinite(v) else None
        if ref_value is not None and intervals:
            smp, n = q.rows_sample(reference, [COL_TRUE, *q.output_columns(model, reference)],
                                   settings.bootstrap.max_rows, seed=settings.seed)
            ref_lo, ref_hi = _ci(model, smp, metric, ref_value, n, settings)
    elif points is None:
        notes.append("No evaluation rows to compare production with.")
    if not intervals:
        return MonitoringReport(model.name, version, metric, kind, performance, ref_value,
                                None, None, pd.DataFrame(), pd.DataFrame(), tuple(notes))

    drift = pd.DataFrame()
    score_drift = pd.DataFrame()
    if reference is not None:
        table = _drift(production, ref_bins, bin_counts, starts, labels, by_window, settings,
                       rng)
        drift = table.loc[table["kind"] != "output"].reset_index(drop=True)
        if with_out:
            score_drift = table.loc[table["kind"] == "output",
                                    ["window", "label", "psi"]].reset_index(drop=True)
    return MonitoringReport(model.name, version, metric, kind, performance, ref_value,
                            ref_lo, ref_hi, drift, score_drift, tuple(notes))


def _cutoff(last: pd.Timestamp, weekly: bool, max_windows: int) -> pd.Timestamp:
    if weekly:
        return (last - pd.Timedelta(days=last.day_of_week)).normalize() \
            - pd.Timedelta(weeks=max_windows - 1)
    return (last.tz_convert(None).to_period("M") - (max_windows - 1)).to_timestamp() \
        .tz_localize("UTC")


def _ci(model, rows: pd.DataFrame, metric, value, population, settings):
    if len(rows) < 2:
        return np.nan, np.nan
    ci = bootstrap_intervals(q.sample_model(model), _as_frame(model, rows),
                             settings=settings.bootstrap,
                             metrics=(metric,), point={metric: value}, population=population)
    got = ci.get(metric)
    return (got.low, got.high) if got is not None else (np.nan, np.nan)


def _as_frame(model: Model, rows: pd.DataFrame) -> pd.DataFrame:
    """A sample in the shape analysis.uncertainty reads (binary: 0/1 truth, positive 1)."""
    if model.task == "binary":
        return rows.assign(**{COL_TRUE: rows[COL_POS].astype(float)})
    return rows


def _reference_bins(reference: Rows, production: Rows, columns, settings) -> dict:
    """column -> (Bins, reference counts per bin, distinct reference values, their counts —
    numeric inputs only, for KS), as ``analysis.drift.Bins.from_reference`` cuts them."""
    out = {}
    numeric = {c for c in columns if _is_numeric(reference, c) and _is_numeric(production, c)}
    per_column = q.values_of(reference, columns, numeric)
    for col in columns:
        ref = per_column[col]
        if col in numeric:
            values = ref["value"].to_numpy(dtype=float)
            counts = ref["n"].to_numpy(dtype=np.int64)
            ok = ~np.isnan(values)
            values, counts = values[ok], counts[ok]
            if counts.sum() == 0:
                continue
            edges = sm.quantile_edges(values, counts, settings.psi_bins)
            bins = Bins(edges=edges)
            ref_counts = np.bincount(bin_index(values, edges), weights=counts,
                                     minlength=bins.size)
            order = np.argsort(values)
            out[col] = (bins, ref_counts, values[order], counts[order])
        else:  # numbers on one side and text on the other are compared as text
            keys = ref["value"].map(str).to_numpy()
            cats = tuple(sorted(set(keys)))
            if not cats:
                continue
            index = {c: i for i, c in enumerate(cats)}
            ref_counts = np.zeros(len(cats) + 1)
            for k, n in zip(keys, ref["n"].to_numpy()):
                ref_counts[index[k]] += n
            out[col] = (Bins(categories=cats), ref_counts, None, None)
    return out


def _drift(production: Rows, ref_bins: dict, bin_counts: dict, starts, labels, by_window,
           settings, rng) -> pd.DataFrame:
    out = []
    for col, (bins, ref_counts, ref_values, ref_n) in ref_bins.items():
        counts = bin_counts[col]
        name = col.split(".", 1)[1] if "." in col else col
        kind = "segment" if col.startswith(SEGMENT_PREFIX) else (
            "feature" if col.startswith(FEATURE_PREFIX) else "output")
        ks = ref_values is not None and kind != "output" and col in production.numeric
        ref_rows = sm.expand(ref_values, ref_n) if ks else None
        for w in range(len(starts)):
            if counts[w].sum() == 0:  # no values of this input in the window
                continue
            ks_stat = ks_p = np.nan
            if ks:
                smp = by_window.get(starts[w])
                cur = smp.loc[smp["any"].astype(bool), col].to_numpy(dtype=float) \
                    if smp is not None else np.array([])
                cur = cur[~np.isnan(cur)]
                if len(cur) > settings.ks_max_rows:
                    cur = rng.choice(cur, settings.ks_max_rows, replace=False)
                ks_stat, ks_p = sm.ks_from_values(ref_rows, cur)
            out.append({"column": col, "name": name, "kind": kind, "window": starts[w],
                        "label": labels[w], "psi": sm.psi(ref_counts, counts[w]),
                        "ks_stat": ks_stat, "ks_pvalue": ks_p, "rows": int(counts[w].sum())})
    return pd.DataFrame(out, columns=DRIFT_COLUMNS)


def _is_numeric(rows: Rows, col: str) -> bool:
    if col.startswith(FEATURE_PREFIX):
        return col in rows.numeric
    if col.startswith(SEGMENT_PREFIX):
        return False
    return col in (COL_SCORE,) or (col == COL_PRED and rows.table.schema()[col].is_numeric())

