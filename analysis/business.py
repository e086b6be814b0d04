"""What a model is worth per month, at every threshold, in the model's currency.

For a yes/no model acting on the rows it flags (score ≥ threshold), each prediction is worth

    value_true_positive · TP − cost_false_positive · FP − cost_false_negative · FN

per row on average, scaled to ``volume_per_month`` predictions. Rows it does not flag and that
are negative cost nothing. The same formula, applied to bootstrap resamples of the evaluation
rows, gives a band of plausible values.

For a number model, a cost per unit of absolute error gives the monthly cost of its errors.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from registry.model import BusinessSettings

from .evaluation_rows import evaluation_summary
from .evaluation_types import THRESHOLDS
from .reads import evaluation_frame


@dataclass(frozen=True)
class ValueCurve:
    thresholds: np.ndarray  # candidate thresholds (0, 0.01, …, 1)
    value: np.ndarray  # expected value per month at each threshold
    low: np.ndarray  # 5th percentile over bootstrap resamples
    high: np.ndarray  # 95th percentile
    tp: np.ndarray  # counts on the evaluation rows at each threshold
    fp: np.ndarray
    fn: np.ndarray
    tn: np.ndarray
    rows: int
    currency: str
    volume_per_month: float

    @property
    def best_index(self) -> int:
        return int(np.argmax(self.value))

    @property
    def best_threshold(self) -> float:
        return float(self.thresholds[self.best_index])

    @property
    def best_value(self) -> float:
        return float(self.value[self.best_index])

    def at(self, threshold: float) -> float:
        return float(self.value[self.index_of(threshold)])

    def index_of(self, threshold: float) -> int:
        return int(np.abs(self.thresholds - threshold).argmin())

    def frame(self) -> pd.DataFrame:
        """The curve as a table (the data behind its chart)."""
        return pd.DataFrame({"threshold": self.thresholds, "value_per_month": self.value,
                             "low_5pct": self.low, "high_95pct": self.high, "tp": self.tp,
                             "fp": self.fp, "fn": self.fn, "tn": self.tn})


def is_complete(b: BusinessSettings | None) -> bool:
    """True when every number the yes/no value formula needs is set."""
    return b is not None and None not in (b.value_true_positive, b.cost_false_positive,
                                          b.cost_false_negative, b.volume_per_month)


def with_overrides(b: BusinessSettings | None, **overrides) -> BusinessSettings:
    """The registry's settings with what-if values from the page (None values ignored)."""
    base = b or BusinessSettings()
    values = {k: float(v) for k, v in overrides.items() if v is not None}
    return replace(base, **values)


def monthly_value(b: BusinessSettings, tp, fp, fn, rows):
    """Value per month of acting on flagged rows: ``(value_true_positive · TP −
    cost_false_positive · FP − cost_false_negative · FN) / rows · volume_per_month``. The one
    place of this formula; counts may be arrays (thresholds, resamples, single rows) and
    fractional (expected counts of an estimate without labels)."""
    return (b.value_true_positive * tp - b.cost_false_positive * fp
            - b.cost_false_negative * fn) / rows * b.volume_per_month


def confusion_counts(y: np.ndarray, score: np.ndarray,
                     thresholds: np.ndarray = THRESHOLDS) -> tuple[np.ndarray, ...]:
    """TP, FP, FN, TN at each threshold (a row is flagged when score >= threshold)."""
    pos = np.sort(score[y == 1])
    neg = np.sort(score[y == 0])
    tp = len(pos) - np.searchsorted(pos, thresholds, side="left")
    fp = len(neg) - np.searchsorted(neg, thresholds, side="left")
    return tp, fp, len(pos) - tp, len(neg) - fp


def value_curve(y: np.ndarray, score: np.ndarray, b: BusinessSettings, n_boot: int = 200,
                seed: int = 0, thresholds: np.ndarray = THRESHOLDS) -> ValueCurve:
    """Expected value per month at each threshold, with a 90% bootstrap band."""
    y = np.asarray(y, dtype=int)
    tp, fp, _, _ = confusion_counts(y, np.asarray(score, dtype=float), thresholds)
    return value_curve_from_counts(tp, fp, int(y.sum()), len(y), b, n_boot, seed, thresholds)


def value_curve_from_counts(tp: np.ndarray, fp: np.ndarray, positives: int, rows: int,
                            b: BusinessSettings, n_boot: int = 200, seed: int = 0,
                            thresholds: np.ndarray = THRESHOLDS) -> ValueCurve:
    """``value_curve`` from the positives and negatives flagged at each threshold (``tp``,
    ``fp``: rows scoring >= it), as an engine counts them for any number of rows.

    The band resamples rows: a row bootstrap only moves rows between the cells (threshold
    bin × outcome), so one multinomial draw of the cells' counts per resample is that
    bootstrap, at a cost that does not grow with the rows."""
    if not is_complete(b):
        raise ValueError("business settings are incomplete")
    n = int(rows)
    tp, fp = np.asarray(tp, dtype=np.int64), np.asarray(fp, dtype=np.int64)
    fn, tn = positives - tp, (n - positives) - fp
    value = monthly_value(b, tp, fp, fn, n)
    # rows per cell: a row falls in the bin of the last threshold <= its score (scores below
    # the first threshold flag nowhere: the cell 'below', which adds to no tp or fp)
    pos_bins = np.r_[-np.diff(tp), tp[-1]]
    neg_bins = np.r_[-np.diff(fp), fp[-1]]
    below = np.array([positives - tp[0], (n - positives) - fp[0]])
    cells = np.r_[pos_bins, neg_bins, below].astype(float)
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, cells / n, size=n_boot).astype(float) if n else \
        np.zeros((n_boot, len(cells)))
    k = len(thresholds)
    pos_hist, neg_hist = draws[:, :k], draws[:, k:2 * k]
    # flagged at threshold t = rows whose bin >= index of t: reverse cumulative sum
    tp_b = np.cumsum(pos_hist[:, ::-1], axis=1)[:, ::-1]
    fp_b = np.cumsum(neg_hist[:, ::-1], axis=1)[:, ::-1]
    fn_b = pos_hist.sum(axis=1, keepdims=True) + draws[:, [2 * k]] - tp_b
    boot = monthly_value(b, tp_b, fp_b, fn_b, n)
    low, high = np.percentile(boot, [5, 95], axis=0)
    return ValueCurve(thresholds=thresholds, value=value, low=low, high=high, tp=tp, fp=fp,
                      fn=fn, tn=tn, rows=n, currency=b.currency,
                      volume_per_month=float(b.volume_per_month))


def regression_cost(y: np.ndarray, pred: np.ndarray, b: BusinessSettings | None) -> float | None:
    """Monthly cost of a number model's errors, or None when no cost per unit is set."""
    return cost_of_errors(float(np.mean(np.abs(np.asarray(y, float) - np.asarray(pred, float)))),
                          b)


def cost_of_errors(mae: float, b: BusinessSettings | None) -> float | None:
    """Monthly cost of a number model's errors of mean absolute size ``mae``, or None when no
    cost per unit is set."""
    if b is None or b.cost_per_unit_error is None or b.volume_per_month is None:
        return None
    return mae * b.cost_per_unit_error * b.volume_per_month


def version_regression_cost(deck, name: str, version: int) -> float | None:
    """``regression_cost`` of a version's labelled evaluation rows: from the engine's sums
    when an engine keeps them (``analysis.task_rows``), else on the rows. KeyError when the
    version has no rows; RegistryError when they cannot be read."""
    from registry.model import COL_PRED, COL_TRUE

    from . import task_rows as tr
    b = deck.model(name).business
    if b is None or b.cost_per_unit_error is None or b.volume_per_month is None:
        return None
    kept = tr.task_points(deck, name, version)
    if kept is not None:
        return cost_of_errors(kept.points.get("mae", float("nan")), b)
    frame = evaluation_frame(deck, name, version)
    frame = frame.loc[frame[COL_TRUE].notna()]
    return regression_cost(frame[COL_TRUE], frame[COL_PRED], b)


def money(value: float | None, currency: str) -> str:
    """'€41k', '-€1.2k', '€830' style amounts for sentences; exact figures live in tables."""
    if value is None or not np.isfinite(value):
        return "–"
    symbol = {"EUR": "€", "USD": "$", "GBP": "£"}.get(currency.upper(), "")
    sign = "−" if value < 0 else ""
    v = abs(value)
    if v >= 1e6:
        txt = f"{v / 1e6:.1f}M"
    elif v >= 1e4:
        txt = f"{v / 1e3:.0f}k"
    elif v >= 1e3:
        txt = f"{v / 1e3:.1f}k"
    else:
        txt = f"{v:.0f}"
    return f"{sign}{symbol}{txt}" if symbol else f"{sign}{txt} {currency}"


def value_sentence(curve: ValueCurve, threshold: float, entity: str = "case",
                   positive_means: str = "") -> str:
    """What the model is worth at ``threshold``, and how that compares with the best one."""
    from .language import plural

    i = curve.index_of(threshold)
    scale = curve.volume_per_month / curve.rows
    flagged = (curve.tp[i] + curve.fp[i]) * scale
    caught = curve.tp[i] * scale
    missed = curve.fn[i] * scale
    who = positive_means or "are positive"
    out = (f"At threshold {curve.thresholds[i]:.2f} the model is worth about "
           f"{money(curve.value[i], curve.currency)} a month (90% band "
           f"{money(curve.low[i], curve.currency)} to {money(curve.high[i], curve.currency)}): "
           f"of {curve.volume_per_month:,.0f} {plural(entity)} a month it flags "
           f"{flagged:,.0f}, of whom {caught:,.0f} really {_verb(who)}; {missed:,.0f} who "
           f"{_verb(who)} are missed.")
    b = curve.best_index
    if b != i:
        out += (f" The best threshold, {curve.best_threshold:.2f}, would be worth "
                f"{money(curve.best_value, curve.currency)}.")
    else:
        out += " This is the best threshold for these costs."
    return out


def _verb(phrase: str) -> str:
    """'the customer cancels within 90 days' -> 'cancel within 90 days' (plural verb)."""
    words = phrase.split()
    if len(words) > 2 and words[0].lower() in ("the", "a", "an"):
        words = words[2:]
    if words and words[0].endswith("s") and not words[0].endswith("ss"):
        words[0] = words[0][:-1]
    return " ".join(words)


WHAT_IF_KEYS = {"value_tp": "value_true_positive", "cost_fp": "cost_false_positive",
                "cost_fn": "cost_false_negative", "volume": "volume_per_month"}


def parse_what_if(query: dict) -> dict[str, float]:
    """What-if values from a URL query (``value_tp``, ``cost_fp``, ``cost_fn``, ``volume``):
    finite, non-negative numbers only; anything else is ignored."""
    out = {}
    for key, field in WHAT_IF_KEYS.items():
        raw = query.get(key)
        try:
            v = float(raw)
        except (TypeError, ValueError):
            continue
        if np.isfinite(v) and v >= 0:
            out[field] = v
    return out


def model_value_curve(deck, name: str, version: int, b: BusinessSettings) -> ValueCurve:
    """The value curve of one version under settings ``b``, cached until the model's files
    change (what-if settings are part of the key)."""
    def compute():
        from registry.model import COL_SCORE, COL_TRUE
        from .metrics import binary_truth

        summary = evaluation_summary(deck, name, version)
        if summary is not None:  # rows an engine keeps: the counts at each threshold
            return value_curve_from_counts(summary.tp, summary.fp, summary.positives,
                                           summary.rows, b)
        model = deck.model(name)
        frame = evaluation_frame(deck, name, version)
        frame = frame.loc[frame[COL_TRUE].notna()]
        return value_curve(binary_truth(frame[COL_TRUE], model.positive_label),
                           frame[COL_SCORE].to_numpy(dtype=float), b)
    return deck.memo(("value_curve", name, version, b), name, compute)
