"""The monitoring report's shape, its settings and its windows: what ``analysis.monitoring``
(the cached report and its sentences) and ``analysis.monitoring_rows`` (the report worked out
from an engine's summaries) share, so that neither imports the other round a circle."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .uncertainty import BootstrapSettings


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
