"""Training curves of many runs: smoothed (``ema``) and thinned on the server
(``downsample_minmax``), per run (``curves``) or per group of a param (``group_curves``), so a
chart of 1,000 runs stays small."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import signal

from .run_selection import run_labels
from .run_table import cell_text, is_missing


# ------------------------------------------------------------------ curves
def ema(values, weight: float) -> np.ndarray:
    """Exponential moving average: s[0] = x[0], s[t] = weight * s[t-1] + (1 - weight) * x[t].
    ``weight`` 0 leaves the values as they are; 0.99 smooths heavily."""
    x = np.asarray(values, dtype=float)
    w = float(weight)
    if not 0 <= w < 1:
        raise ValueError("smoothing must be at least 0 and below 1")
    if w == 0 or x.size == 0:
        return x.copy()
    out, _ = signal.lfilter([1 - w], [1, -w], x, zi=[w * x[0]])
    return out


def downsample_minmax(y, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` points that keep the shape of a curve: the first and
    last point, and the lowest and highest point of each of ``max_points // 2`` equal buckets.
    Every kept point is a real point of the curve."""
    y = np.asarray(y, dtype=float)
    n = y.size
    if n <= max_points:
        return np.arange(n)
    buckets = max(1, (max_points - 2) // 2)
    b = np.arange(n) * buckets // n
    frame = pd.DataFrame({"b": b, "y": np.where(np.isnan(y), np.inf, y)})
    lo = frame.groupby("b")["y"].idxmin().to_numpy()
    frame["y"] = np.where(np.isnan(y), -np.inf, y)
    hi = frame.groupby("b")["y"].idxmax().to_numpy()
    return np.unique(np.r_[0, lo, hi, n - 1])


@dataclass(frozen=True)
class Curves:
    """Per-run curves of one metric: ``frame`` has run_id, label, step, value, smoothed."""

    key: str
    frame: pd.DataFrame
    smoothing: float
    points_logged: int
    runs_without: tuple[str, ...] = ()


def curves(history: pd.DataFrame, sub: pd.DataFrame, key: str, smoothing: float = 0.0,
           max_points: int = 10_000, max_per_run: int = 400) -> Curves:
    """The ``key`` history of each selected run, smoothed on all points, then thinned to at most
    ``max_per_run`` points per run and about ``max_points`` in all (min/max per bucket)."""
    labels = dict(zip(sub["run_id"], run_labels(sub)))
    h = history.loc[(history["key"] == key) & history["run_id"].isin(list(labels)),
                    ["run_id", "step", "value"]]
    h = h.sort_values(["run_id", "step"], kind="stable").reset_index(drop=True)
    n_runs = max(1, h["run_id"].nunique())
    per_run = int(min(max_per_run, max(8, max_points // n_runs)))
    y = h["value"].to_numpy(dtype=float)
    run = h["run_id"].to_numpy()
    starts = np.flatnonzero(np.r_[True, run[1:] != run[:-1]]) if len(h) else np.array([], int)
    bounds = np.r_[starts, len(h)]
    smoothed = np.concatenate([ema(y[a:b], smoothing) for a, b in zip(bounds[:-1], bounds[1:])]) \
        if len(h) else y
    # min/max per bucket for every run at once (the same rule as downsample_minmax)
    size = np.diff(bounds)
    count = np.repeat(size, size)
    pos = np.arange(len(h)) - np.repeat(starts, size)
    buckets = max(1, (per_run - 2) // 2)
    bucket = np.repeat(np.arange(len(starts)), size) * buckets + \
        pos * buckets // np.maximum(count, 1)
    frame = pd.DataFrame({"k": bucket, "lo": np.where(np.isnan(y), np.inf, y),
                          "hi": np.where(np.isnan(y), -np.inf, y)})
    keep = np.zeros(len(h), dtype=bool)
    if len(h):
        keep[frame.groupby("k")["lo"].idxmin().to_numpy()] = True
        keep[frame.groupby("k")["hi"].idxmax().to_numpy()] = True
    keep |= (pos == 0) | (pos == count - 1) | (count <= per_run)
    out = pd.DataFrame({"run_id": run[keep], "label": [labels[r] for r in run[keep]],
                        "step": h["step"].to_numpy()[keep], "value": y[keep],
                        "smoothed": smoothed[keep]})
    order = {r: i for i, r in enumerate(labels)}
    frame = out.iloc[np.argsort(out["run_id"].map(order).to_numpy(), kind="stable")] \
        .reset_index(drop=True)
    logged = set(h["run_id"])
    without = tuple(r for r in labels if r not in logged)
    return Curves(key, frame, float(smoothing), int(len(h)), without)


def group_labels(values: pd.Series, max_groups: int = 6) -> pd.Series:
    """A group label per run for a param: its value, or for a number with many values one of
    ``max_groups`` quantile bins ("0.01 – 0.03")."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        distinct = values.dropna().unique()
        if len(distinct) <= max_groups:
            out = values.map(lambda v: "(none)" if pd.isna(v) else f"{v:g}")
        else:
            bins = pd.qcut(values, q=min(4, max_groups), duplicates="drop")
            out = bins.map(lambda iv: f"{iv.left:.3g} – {iv.right:.3g}").astype(object)
            out = out.where(values.notna(), "(none)")
        return out.astype(str)
    text = values.map(lambda v: "(none)" if is_missing(v) else cell_text(v))
    common = text.value_counts().index[:max_groups - 1]
    if text.nunique() > max_groups:
        text = text.where(text.isin(common), "other")
    return text.astype(str)


@dataclass(frozen=True)
class GroupCurves:
    """Mean curve and band per group: ``frame`` has group, step, mean, low, high, runs."""

    key: str
    by: str
    band: str  # "std" (mean ± one standard deviation) or "minmax"
    frame: pd.DataFrame
    groups: tuple[tuple[str, int], ...]  # (label, number of runs)


def group_curves(history: pd.DataFrame, sub: pd.DataFrame, key: str, by: str,
                 smoothing: float = 0.0, band: str = "std",
                 max_steps: int = 300) -> GroupCurves:
    """Runs grouped by the param ``by``: at each step the mean of the (smoothed) curves of a
    group and a band of ± one standard deviation or min–max. Steps beyond ``max_steps`` are
    bucketed (mean of means, lowest low, highest high)."""
    if band not in ("std", "minmax"):
        raise ValueError("band must be 'std' or 'minmax'")
    groups = pd.Series(group_labels(sub[by]).to_numpy(), index=sub["run_id"].to_numpy())
    h = history.loc[(history["key"] == key) & history["run_id"].isin(groups.index),
                    ["run_id", "step", "value"]].sort_values(["run_id", "step"], kind="stable")
    if smoothing:
        h = h.assign(value=np.concatenate([ema(g.to_numpy(dtype=float), smoothing)
                                           for _, g in h.groupby("run_id", sort=False)["value"]])
                     if len(h) else h["value"])
    h = h.assign(group=groups.reindex(h["run_id"]).to_numpy())
    agg = h.groupby(["group", "step"], sort=True)["value"].agg(["mean", "std", "min", "max",
                                                                "count"]).reset_index()
    if band == "std":
        sd = agg["std"].fillna(0.0)
        agg["low"], agg["high"] = agg["mean"] - sd, agg["mean"] + sd
    else:
        agg["low"], agg["high"] = agg["min"], agg["max"]
    agg = agg.rename(columns={"count": "runs"})[["group", "step", "mean", "low", "high",
                                                 "runs"]]
    steps = np.sort(agg["step"].unique())
    if len(steps) > max_steps:
        edges = steps[np.linspace(0, len(steps) - 1, max_steps + 1).astype(int)]
        agg["bucket"] = np.searchsorted(edges[1:-1], agg["step"].to_numpy(), side="right")
        agg = agg.groupby(["group", "bucket"]).agg(step=("step", "max"), mean=("mean", "mean"),
                                                   low=("low", "min"), high=("high", "max"),
                                                   runs=("runs", "max")).reset_index()
        agg = agg.drop(columns="bucket")
    counts = groups.value_counts()
    order = _group_order(list(counts.index), sub[by])
    return GroupCurves(key, by, band, agg.reset_index(drop=True),
                       tuple((g, int(counts[g])) for g in order))


def _group_order(labels: list[str], values: pd.Series) -> list[str]:
    def key(label):
        try:
            return (0, float(label.split(" – ")[0]), label)
        except ValueError:
            return (1, 0.0, label)
    return sorted(labels, key=key)


