"""Production monitoring: performance per time window against evaluation, and data drift.

Windows are calendar months, or ISO weeks (starting Monday) when the data spans under four
months. Performance uses the same metric functions as evaluation (scikit-learn), on the
labelled rows of each window; windows without labels show drift only and say so.

Confidence intervals are 95% percentile bootstraps. In very large windows they are computed
on a random subsample of ``ci_max_rows`` rows, which makes them wider than they need to be
(never narrower); KS tests likewise use at most ``ks_max_rows`` rows per window.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from registry.model import (
    COL_PRED, COL_SCORE, COL_TIME, COL_TRUE, COL_VERSION, FEATURE_PREFIX, SEGMENT_PREFIX, Model,
)

from .drift import PSI_LARGE, Bins, psi_from_counts, psi_word
from .metrics import METRICS, binary_truth, compute_metric, multiclass_labels


@dataclass(frozen=True)
class MonitoringSettings:
    weekly_below_days: int = 120  # use weeks when the data spans fewer days than this
    n_boot: int = 200
    ci_max_rows: int = 5_000
    ks_max_rows: int = 20_000
    psi_bins: int = 10
    seed: int = 0


@dataclass(frozen=True)
class MonitoringReport:
    model: str
    version: int | None
    metric: str
    window_kind: str  # "month" | "week"
    performance: pd.DataFrame  # window, label, rows, labelled, value, low, high
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


# ------------------------------------------------------------------ confidence intervals
def bootstrap_ci(model: Model, frame: pd.DataFrame, metric: str, settings: MonitoringSettings,
                 rng: np.random.Generator) -> tuple[float, float]:
    """95% percentile bootstrap interval of ``metric`` on ``frame`` (labelled rows)."""
    if len(frame) > settings.ci_max_rows:
        frame = frame.iloc[rng.choice(len(frame), settings.ci_max_rows, replace=False)]
    n = len(frame)
    if n < 2:
        return np.nan, np.nan
    idx = rng.integers(0, n, size=(settings.n_boot, n))
    if metric == "roc_auc":
        y = binary_truth(frame[COL_TRUE], model.positive_label)
        values = auc_bootstrap(y, frame[COL_SCORE].to_numpy(dtype=float), idx)
    else:
        if metric == "accuracy":
            if model.task == "binary":
                y = binary_truth(frame[COL_TRUE], model.positive_label)
                per_row = (frame[COL_SCORE].to_numpy(dtype=float) >= 0.5).astype(int) == y
            else:
                yt, yp = multiclass_labels(frame)
                per_row = yt == yp
        elif metric in ("mae", "rmse"):
            err = frame[COL_TRUE].to_numpy(dtype=float) - frame[COL_PRED].to_numpy(dtype=float)
            per_row = np.abs(err) if metric == "mae" else err ** 2
        else:
            return np.nan, np.nan
        values = np.asarray(per_row, dtype=float)[idx].mean(axis=1)
        if metric == "rmse":
            values = np.sqrt(values)
    if len(values) == 0:
        return np.nan, np.nan
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def auc_bootstrap(y: np.ndarray, score: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """ROC AUC of every bootstrap resample (rows ``idx[b]``), exactly as roc_auc_score would
    compute it on that resample (ties count one half), without sorting each resample:
    the rows are sorted once and each resample is a vector of row weights."""
    n = len(y)
    order = np.argsort(score, kind="stable")
    s, yy = score[order], y[order]
    rank_of = np.empty(n, dtype=np.int64)
    rank_of[order] = np.arange(n)
    n_boot = idx.shape[0]
    # weights[b, i]: how often sorted row i appears in resample b
    flat = (np.arange(n_boot)[:, None] * n + rank_of[idx]).ravel()
    weights = np.bincount(flat, minlength=n_boot * n).reshape(n_boot, n).astype(float)
    neg = weights * (yy == 0)
    pos = weights * (yy == 1)
    cum_neg = np.cumsum(neg, axis=1)
    # first and last sorted position of each row's score (ties share them)
    first = np.searchsorted(s, s, side="left")
    last = np.searchsorted(s, s, side="right") - 1
    below = np.where(first > 0, cum_neg[:, np.maximum(first - 1, 0)], 0.0)
    tied = cum_neg[:, last] - below
    n_pos, n_neg = pos.sum(axis=1), neg.sum(axis=1)
    ok = (n_pos > 0) & (n_neg > 0)
    auc = (pos * (below + 0.5 * tied)).sum(axis=1)[ok] / (n_pos * n_neg)[ok]
    return auc


# ------------------------------------------------------------------ the report
def monitoring_report(model: Model, reference: pd.DataFrame | None, production: pd.DataFrame,
                      version: int | None, metric: str,
                      settings: MonitoringSettings = MonitoringSettings()) -> MonitoringReport:
    """Performance per window with CIs, against the reference (evaluation rows), and the
    drift of every feature, segment and the model's score in every window."""
    rng = np.random.default_rng(settings.seed)
    notes: list[str] = []
    if version is not None and COL_VERSION in production.columns:
        mine = (production[COL_VERSION] == version).to_numpy()
        if not mine.all():  # avoid copying a large table that holds one version only
            production = production.loc[mine]
    if production.empty:
        empty = pd.DataFrame(columns=["window", "label", "rows", "labelled", "value", "low",
                                      "high"])
        return MonitoringReport(model.name, version, metric, "month", empty, None, None, None,
                                pd.DataFrame(), pd.DataFrame(), ("No production rows.",))
    span_days = (production[COL_TIME].max() - production[COL_TIME].min()).days
    weekly = span_days < settings.weekly_below_days
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
        if len(labelled):
            value = compute_metric(model, labelled, metric)
            if np.isfinite(value):
                lo, hi = bootstrap_ci(model, labelled, metric, settings, rng)
        perf.append({"window": start, "label": labels[w], "rows": len(rows),
                     "labelled": len(labelled), "value": value, "low": lo, "high": hi})
    performance = pd.DataFrame(perf)

    ref_value = ref_lo = ref_hi = None
    if reference is not None and len(reference):
        ref_value = compute_metric(model, reference, metric)
        ref_value = None if not np.isfinite(ref_value) else ref_value
        if ref_value is not None:
            ref_lo, ref_hi = bootstrap_ci(model, reference, metric, settings, rng)
    else:
        notes.append("No evaluation rows to compare production with.")

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


def _drift(reference, production, codes, bounds, starts, labels, columns, settings, rng,
           with_ks=True) -> pd.DataFrame:
    n_w = len(starts)
    out = []
    for col in columns:
        if col not in reference.columns:
            continue
        bins = Bins.from_reference(reference[col], settings.psi_bins)
        ref_counts = bins.counts(reference[col])
        values = production[col]
        valid = values.notna().to_numpy()
        nb = bins.size
        # bin of every production row, then one bincount for all windows at once
        counts = np.bincount(codes[valid] * nb + bins.index(values), minlength=n_w * nb)
        counts = counts.reshape(n_w, nb)
        numeric = bins.edges is not None
        ref_values = reference[col].dropna().to_numpy(dtype=float) if numeric else None
        name = col.split(".", 1)[1] if "." in col else col
        kind = "segment" if col.startswith(SEGMENT_PREFIX) else (
            "feature" if col.startswith(FEATURE_PREFIX) else "output")
        raw = values.to_numpy() if numeric else None
        for w in range(n_w):
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


def model_monitoring(deck, name: str, version: int | None = None):
    """(model, version, report) for ``version`` of a model (default: the champion), the
    report cached until the model's files change; report is None without production data."""
    from .metrics import headline_metric
    from .portfolio import champion_of

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
        return monitoring_report(model, reference, mon.frame, version,
                                 headline_metric(model.task))
    return model, version, deck.memo(("monitoring", name, version), name, compute)


# ------------------------------------------------------------------ words
def monitoring_sentences(report: MonitoringReport, unit: str = "") -> list[str]:
    """The report in a few short sentences."""
    from .language import format_value

    out = []
    name = METRICS[report.metric].name
    p = report.performance
    judged = p.loc[p["labelled"] > 0]
    if not judged.empty and report.reference is not None:
        last = judged.iloc[-1]
        out.append(f"{name} in {last['label']}: {format_value(report.metric, last['value'], unit)}"
                   f" on {int(last['labelled']):,} labelled rows, against "
                   f"{format_value(report.metric, report.reference, unit)} at evaluation.")
    missing = report.unlabelled_windows
    if missing:
        out.append(f"No labels yet for {', '.join(missing)}: only drift can be checked there.")
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
