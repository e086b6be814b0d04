"""Data drift between reference rows (evaluation) and production windows.

* PSI (population stability index) for every feature: numeric features are cut into bins at
  the reference's deciles, categorical ones use their categories. Rule of thumb: below 0.1
  stable, 0.1–0.2 moderate shift, above 0.2 a large shift.
* The two-sample Kolmogorov–Smirnov test (scipy) for numeric features.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

EPS = 1e-4  # share given to an empty bin so that PSI stays finite

PSI_MODERATE = 0.1
PSI_LARGE = 0.2


@dataclass(frozen=True)
class Bins:
    """How a feature is cut: numeric edges, or categories (the last bin holds the rest)."""

    edges: np.ndarray | None = None
    categories: tuple | None = None

    @classmethod
    def from_reference(cls, reference: pd.Series, n_bins: int = 10) -> "Bins":
        ref = reference.dropna()
        if is_numeric(ref):
            qs = np.quantile(ref.to_numpy(dtype=float), np.linspace(0, 1, n_bins + 1)[1:-1])
            return cls(edges=np.unique(qs))
        return cls(categories=tuple(sorted(map(str, ref.unique()))))

    @property
    def size(self) -> int:
        return (len(self.edges) if self.edges is not None else len(self.categories)) + 1

    def index(self, values: pd.Series) -> np.ndarray:
        """The bin of every non-missing value (categories not seen in the reference go to
        the last bin)."""
        v = values.dropna() if values.hasnans else values
        if self.edges is not None:
            return bin_index(v.to_numpy(), self.edges)
        known = pd.Index(list(self.categories))
        if isinstance(v.dtype, pd.CategoricalDtype):  # look up each category once
            per_category = known.get_indexer(v.cat.categories.astype(str))
            codes = per_category[v.cat.codes.to_numpy()]
        else:
            codes = known.get_indexer(v.astype(str))
        codes = codes.astype(np.int64)
        codes[codes < 0] = len(self.categories)
        return codes

    def counts(self, values: pd.Series) -> np.ndarray:
        return np.bincount(self.index(values), minlength=self.size)


def bin_index(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """How many edges are <= each value (``np.searchsorted(edges, x, side="right")``).
    With the few edges PSI uses, one comparison pass per edge beats a binary search."""
    if len(edges) > 32:
        return np.searchsorted(edges, x, side="right")
    e = _edges_for(edges, x.dtype)
    idx = np.zeros(len(x), dtype=np.int64)
    for edge in e:
        idx += x >= edge
    return idx


def _edges_for(edges: np.ndarray, dtype) -> np.ndarray:
    """Edges in the data's own float type, rounded up so that ``x >= edge`` is decided exactly
    as in float64: comparing in float32 avoids converting millions of values."""
    if dtype != np.float32:
        return edges
    e32 = edges.astype(np.float32)
    return np.where(e32 < edges, np.nextafter(e32, np.float32(np.inf)), e32)


def is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def psi_from_counts(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    if ref_counts.sum() == 0 or cur_counts.sum() == 0:
        return float("nan")
    p = np.maximum(ref_counts / ref_counts.sum(), EPS)
    q = np.maximum(cur_counts / cur_counts.sum(), EPS)
    return float(np.sum((q - p) * np.log(q / p)))


def psi(reference: pd.Series, current: pd.Series, n_bins: int = 10) -> float:
    bins = Bins.from_reference(reference, n_bins)
    return psi_from_counts(bins.counts(reference), bins.counts(current))


def ks(reference: pd.Series, current: pd.Series) -> tuple[float, float]:
    """KS statistic and p-value (NaN for non-numeric or empty data)."""
    a, b = reference.dropna(), current.dropna()
    if not (is_numeric(a) and is_numeric(b)) or len(a) == 0 or len(b) == 0:
        return float("nan"), float("nan")
    res = stats.ks_2samp(a.to_numpy(dtype=float), b.to_numpy(dtype=float))
    return float(res.statistic), float(res.pvalue)


def psi_word(value: float) -> str:
    if not np.isfinite(value):
        return "unknown"
    if value >= PSI_LARGE:
        return "large shift"
    if value >= PSI_MODERATE:
        return "moderate shift"
    return "stable"
