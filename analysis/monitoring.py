"""Production monitoring: performance per time window against evaluation, and data drift.

Windows are calendar months, or ISO weeks (starting Monday) when the data spans under four
months. Performance uses the same metric functions as evaluation (scikit-learn), on the
labelled rows of each window; windows without labels show drift only and say so.

Confidence intervals are 95% bootstraps from ``analysis.uncertainty`` (in very large windows
resampled on a subsample, their spread scaled to the window's size); KS tests use at most
``ks_max_rows`` rows per window.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy import stats

from registry.model import (
    COL_PRED, COL_SCORE, COL_TIME, COL_TRUE, COL_VERSION, FEATURE_PREFIX, SEGMENT_PREFIX, Model,
    champion_of,
)

from .drift import PSI_LARGE, Bins, is_numeric, psi_from_counts, psi_word
from .metrics import METRICS, compute_metric, why_undefined
from .uncertainty import BootstrapSettings, bootstrap_intervals, too_few_rows


@dataclass(frozen=True)
class MonitoringSettings:
    weekly_below_days: int = 120  # use weeks when the data spans fewer days than this
    #: intervals per window: resampling at most max_rows rows, the spread scaled to the
    #: window's size (analysis.uncertainty)
    bootstrap: BootstrapSettings = BootstrapSettings(n_boot=200, max_rows=5_000)
    ks_max_rows: int = 20_000
    psi_bins: int = 10
    seed: int = 0
    max_windows: int = 120  # the most recent windows analysed; older rows are left out


PERFORMANCE_COLUMNS = ["window", "label", "rows", "labelled", "value", "low", "high", "note"]


@dataclass(frozen=True)
class MonitoringReport:
    model: str
    version: int | None
    metric: str
    window_kind: str  # "month" | "week"
    #: window, label, rows, labelled, value, low, high, note ('' when judged, else why not:
    #: no labels, too few labelled rows, or the metric undefined on them)
    performance: pd.DataFrame
    reference: float | None  # metric on the version's evaluation rows
    reference_low: float | None
    reference_high: float | None
    drift: pd.DataFrame  # column, name, kind, window, label, psi, ks_stat, ks_pvalue, rows
    score_drift: pd.DataFrame  # window, label, psi
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def unlabelled_windows(self) -> list[str]:
        p = self.performance
        return list(p.loc[p["labelled"] == 0, "label"])

    def top_drift(self, n: int = 3, window: str | None = None) -> pd.DataFrame:
        """Features with the largest PSI in ``window`` (default: the latest window)."""
        if self.drift.empty:
            return self.drift
        w = window or self.drift["label"].iloc[-1]
        d = self.drift.loc[self.drift["label"] == w]
        return d.sort_values("psi", ascending=False).head(n)


# ------------------------------------------------------------------ windows
def window_codes(times: pd.Series, weekly: bool) -> tuple[np.ndarray, list[pd.Timestamp]]:
    """An integer window index per row and the start of each window (only windows that have
    rows), oldest first."""
    ns = np.asarray(times.array.tz_convert(None)) if times.dt.tz is not None else \
        times.to_numpy()  # UTC wall times, without going through Python objects
    ns = ns.astype("datetime64[ns]").view(np.int64)
    lo, hi = pd.Timestamp(ns.min()), pd.Timestamp(ns.max())
    if weekly:
        first = (lo - pd.Timedelta(days=lo.day_of_week)).normalize()
        starts = pd.date_range(first, hi, freq="7D")
    else:
        starts = pd.date_range(lo.to_period("M").to_timestamp(), hi, freq="MS")
    edges = starts.asi8[1:]
    if len(ns) > 1 and np.all(ns[1:] >= ns[:-1]):  # time-sorted: cut at the window starts
        bounds = np.r_[0, np.searchsorted(ns, edges, side="left"), len(ns)]
        codes = np.repeat(np.arange(len(starts)), np.diff(bounds))
    else:
        codes = np.zeros(len(ns), dtype=np.int64)
        for e in edges:
            codes += ns >= e
    present = np.flatnonzero(np.bincount(codes, minlength=len(starts)))
    remap = np.full(len(starts), -1)
    remap[present] = np.arange(len(present))
    return remap[codes], [starts[i] for i in present]


def window_label(start: pd.Timestamp, weekly: bool) -> str:
    return f"week of {start:%d %b %Y}" if weekly else f"{start:%b %Y}"


# ------------------------------------------------------------------ the report
def monitoring_report(model: Model, reference: pd.DataFrame | None, production: pd.DataFrame,
                      version: int | None, metric: str,
                      settings: MonitoringSettings = MonitoringSettings(),
                      intervals: bool = True) -> MonitoringReport:
    """Performance per window with CIs, against the reference (evaluation rows), and the
    drift of every feature, segment and the model's score in every window.

    ``intervals=False``: the performance's point values only — no intervals (``low`` and
    ``high`` are NaN) and no drift. The portfolio's health needs no more, and skipping the
    bootstrap and the drift tests makes it several times quicker."""
    rng = np.random.default_rng(settings.seed)
    notes: list[str] = []
    if version is not None and COL_VERSION in production.columns:
        mine = (production[COL_VERSION] == version).to_numpy()
        if not mine.all():  # avoid copying a large table that holds one version only
            production = production.loc[mine]
    if production.empty:
        empty = pd.DataFrame(columns=PERFORMANCE_COLUMNS)
        return MonitoringReport(model.name, version, metric, "month", empty, None, None, None,
                                pd.DataFrame(), pd.DataFrame(), ("No production rows.",))
    # through Python's datetime: a span of centuries does not fit a Timedelta
    span_days = (production[COL_TIME].max().to_pydatetime()
                 - production[COL_TIME].min().to_pydatetime()).days
    weekly = span_days < settings.weekly_below_days
    production, dropped = _recent_windows(production, weekly, settings.max_windows)
    if dropped:
        notes.append(f"{dropped:,} older production rows are left out: at most "
                     f"{settings.max_windows} {'week' if weekly else 'month'}s are analysed, "
                     "the most recent ones.")
    codes, starts = window_codes(production[COL_TIME], weekly)
    if np.any(np.diff(codes) < 0):  # put each window's rows together (usually already so)
        order = np.argsort(codes, kind="stable")
        production, codes = production.take(order), codes[order]
    bounds = np.searchsorted(codes, np.arange(len(starts) + 1))
    labels = [window_label(s, weekly) for s in starts]

    # Performance per window
    perf = []
    for w, start in enumerate(starts):
        rows = production.iloc[bounds[w]:bounds[w + 1]]
        labelled = rows.loc[rows[COL_TRUE].notna()]
        value = lo = hi = np.nan
        note = "no labels yet" if labelled.empty else too_few_rows(len(labelled))
        if not note:
            value = compute_metric(model, labelled, metric)
            if np.isfinite(value) and intervals:
                lo, hi = _ci(model, labelled, metric, value, settings)
            else:
                note = f"{METRICS[metric].name} is undefined: " \
                       f"{why_undefined(model, labelled, metric)}"
        perf.append({"window": start, "label": labels[w], "rows": len(rows),
                     "labelled": len(labelled), "value": value, "low": lo, "high": hi,
                     "note": note})
    performance = pd.DataFrame(perf, columns=PERFORMANCE_COLUMNS)

    ref_value = ref_lo = ref_hi = None
    if reference is not None and len(reference):
        ref_value = compute_metric(model, reference, metric)
        ref_value = None if not np.isfinite(ref_value) else ref_value
        if ref_value is not None and intervals:
            ref_lo, ref_hi = _ci(model, reference, metric, ref_value, settings)
    else:
        notes.append("No evaluation rows to compare production with.")
    if not intervals:
        return MonitoringReport(model.name, version, metric, "week" if weekly else "month",
                                performance, ref_value, None, None, pd.DataFrame(),
                                pd.DataFrame(), tuple(notes))

    # Drift of features and segments, and of the model's output
    columns = [c for c in production.columns if c.startswith((FEATURE_PREFIX, SEGMENT_PREFIX))]
    drift = _drift(reference, production, codes, bounds, starts, labels, columns, settings,
                   rng) if reference is not None else pd.DataFrame()
    out_col = COL_SCORE if model.task == "binary" else COL_PRED
    score_drift = pd.DataFrame()
    if reference is not None and out_col in production.columns and out_col in reference.columns:
        sd = _drift(reference, production, codes, bounds, starts, labels, [out_col],
                    settings, rng, with_ks=False)
        score_drift = sd[["window", "label", "psi"]]
    return MonitoringReport(model.name, version, metric, "week" if weekly else "month",
                            performance, ref_value, ref_lo, ref_hi, drift, score_drift,
                            tuple(notes))


def _recent_windows(production: pd.DataFrame, weekly: bool, max_windows: int
                    ) -> tuple[pd.DataFrame, int]:
    """Only the rows of the ``max_windows`` most recent windows (rows spanning centuries
    would otherwise make thousands of windows), and how many rows were left out."""
    last = production[COL_TIME].max()
    if weekly:
        cutoff = (last - pd.Timedelta(days=last.day_of_week)).normalize() \
            - pd.Timedelta(weeks=max_windows - 1)
    else:
        cutoff = (last.tz_convert(None).to_period("M") - (max_windows - 1)).to_timestamp()
        cutoff = cutoff.tz_localize(last.tz) if last.tz is not None else cutoff
    keep = (production[COL_TIME] >= cutoff).to_numpy()
    if keep.all():
        return production, 0
    return production.loc[keep], int((~keep).sum())


def _ci(model: Model, rows: pd.DataFrame, metric: str, value: float,
        settings: MonitoringSettings) -> tuple[float, float]:
    """95% bootstrap interval of ``metric`` (whose value on ``rows`` is ``value``), from
    analysis.uncertainty."""
    ci = bootstrap_intervals(model, rows, settings=settings.bootstrap, metrics=(metric,),
                             point={metric: value})
    got = ci.get(metric)
    return (got.low, got.high) if got is not None else (np.nan, np.nan)


def _drift(reference, production, codes, bounds, starts, labels, columns, settings, rng,
           with_ks=True) -> pd.DataFrame:
    n_w = len(starts)
    out = []
    for col in columns:
        if col not in reference.columns:
            continue
        ref_col, values = reference[col], production[col]
        if is_numeric(ref_col.dropna()) != is_numeric(values.dropna()):
            # numbers on one side and text on the other: compare both as text categories
            ref_col, values = _as_text(ref_col), _as_text(values)
        bins = Bins.from_reference(ref_col, settings.psi_bins)
        ref_counts = bins.counts(ref_col)
        valid = values.notna().to_numpy()
        nb = bins.size
        # bin of every production row, then one bincount for all windows at once
        counts = np.bincount(codes[valid] * nb + bins.index(values), minlength=n_w * nb)
        counts = counts.reshape(n_w, nb)
        numeric = bins.edges is not None
        ref_values = ref_col.dropna().to_numpy(dtype=float) if numeric else None
        name = col.split(".", 1)[1] if "." in col else col
        kind = "segment" if col.startswith(SEGMENT_PREFIX) else (
            "feature" if col.startswith(FEATURE_PREFIX) else "output")
        raw = values.to_numpy() if numeric else None
        for w in range(n_w):
            if counts[w].sum() == 0:  # no values of this input in the window
                continue
            ks_stat = ks_p = np.nan
            if with_ks and numeric and counts[w].sum() > 0:
                cur = raw[bounds[w]:bounds[w + 1]]
                if len(cur) > settings.ks_max_rows:
                    cur = rng.choice(cur, settings.ks_max_rows, replace=False)
                cur = cur[~np.isnan(cur)].astype(float)
                r = stats.ks_2samp(ref_values, cur)
                ks_stat, ks_p = float(r.statistic), float(r.pvalue)
            out.append({"column": col, "name": name, "kind": kind, "window": starts[w],
                        "label": labels[w], "psi": psi_from_counts(ref_counts, counts[w]),
                        "ks_stat": ks_stat, "ks_pvalue": ks_p, "rows": int(counts[w].sum())})
    return pd.DataFrame(out, columns=["column", "name", "kind", "window", "label", "psi",
                                      "ks_stat", "ks_pvalue", "rows"])


def _as_text(values: pd.Series) -> pd.Series:
    return values.astype(object).where(values.isna(), values.astype(str))


def model_monitoring(deck, name: str, version: int | None = None, intervals: bool = True):
    """(model, version, report) for ``version`` of a model (default: the champion), the
    report cached until the model's files change; report is None without production data.
    ``intervals=False``: point values only, no drift (see ``monitoring_report``)."""
    from .metrics import headline_metric

    model = deck.model(name)
    if version is None:
        champ, _ = champion_of(deck.versions(name).items)
        version = champ.version if champ else None

    def compute():
        mon = deck.monitoring(name)
        if mon is None:
            return None
        try:
            reference = deck.evaluation(name, version).frame if version is not None else None
        except KeyError:
            reference = None
        report = monitoring_report(model, reference, mon.frame, version,
                                   headline_metric(model.task), intervals=intervals)
        return replace(report, notes=tuple(mon.notes) + report.notes)
    key = ("monitoring", name, version) if intervals else ("monitoring-points", name, version)
    return model, version, deck.memo(key, name, compute)


# ------------------------------------------------------------------ words
def monitoring_sentences(report: MonitoringReport, unit: str = "",
                         estimated: tuple[str, ...] = ()) -> list[str]:
    """The report in a few short sentences; ``estimated``: the windows whose performance is
    estimated without labels (``analysis.estimation``)."""
    from .language import format_value

    out = []
    name = METRICS[report.metric].name
    p = report.performance
    labelled = p.loc[p["labelled"] > 0]
    if not labelled.empty and report.reference is not None:
        last = labelled.iloc[-1]
        if last["note"]:
            out.append(f"{name} in {last['label']} is not judged ({last['note']}).")
        else:
            out.append(f"{name} in {last['label']}: "
                       f"{format_value(report.metric, last['value'], unit)}"
                       f" on {int(last['labelled']):,} labelled rows, against "
                       f"{format_value(report.metric, report.reference, unit)} at evaluation.")
    missing = report.unlabelled_windows
    if missing:
        rest = "only drift can be checked there." if not set(missing) & set(estimated) else \
            "performance there is estimated from the scores, and drift is checked."
        out.append(f"No labels yet for {', '.join(missing)}: {rest}")
    top = report.top_drift(3)
    if not top.empty:
        big = top.loc[top["psi"] >= PSI_LARGE]
        window = top["label"].iloc[0]
        if big.empty:
            out.append(f"No feature shifted much in {window} (largest PSI "
                       f"{top['psi'].iloc[0]:.2f}, {top['name'].iloc[0]}).")
        else:
            parts = [f"{r.name} (PSI {r.psi:.2f})" for r in big.itertuples()]
            out.append(f"Largest shifts in {window}: {', '.join(parts)} — "
                       f"{psi_word(big['psi'].iloc[0])}.")
    return out


def window_text(row, metric: str, unit: str = "") -> str:
    """One window's number in words: 'Nov 2026: 0.812 on 1,234 labelled rows', or why it is
    not judged ('Nov 2026: not judged (12 rows: too few rows to judge)')."""
    from .language import format_value
    if row.note:
        return f"{row.label}: not judged ({row.note})"
    return f"{row.label}: {format_value(metric, row.value, unit)} on {int(row.labelled):,} " \
           "labelled rows"


def performance_caption(metric_name: str, window_kind: str, estimate: bool = False) -> str:
    """The caption of the performance-over-time chart (page and reports); ``estimate``: the
    chart also draws the estimate without labels."""
    from .estimation import estimate_caption
    from .language import not_judged_caption
    return (f"Each point is the {metric_name} of one {window_kind} computed on its labelled "
            "rows, with its 95% bootstrap interval. The dashed line and band are the level "
            f"measured at evaluation. {not_judged_caption()}"
            + (f" {estimate_caption()}" if estimate else ""))
