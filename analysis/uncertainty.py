"""Bootstrap confidence intervals for every metric, and paired ones for two versions.

A bootstrap resample draws the evaluation rows with replacement. Drawing rows is the same as
giving each row a weight (how many times it was drawn), so every resample here is one row of
a weight matrix ``W`` (resamples × rows), and every metric is computed for all resamples at
once with matrix products and cumulative sums — no Python loop over resamples:

* counts at a threshold, log loss, Brier score, errors: ``W @ per_row_values``;
* ROC AUC: the Mann–Whitney rank statistic, from weighted counts of positives and negatives
  per distinct score (ties count one half), which is exactly ``roc_auc_score`` on the
  resampled rows;
* average precision: precision at each distinct score times the recall it adds, as in
  ``average_precision_score``;
* multiclass: a weighted confusion matrix per resample.

**Paired** intervals for the difference between two versions use the *same* weights for both
versions' rows, so the noise the two versions share (which rows happened to be in the test
set) cancels. That needs both versions evaluated on the same rows in the same order;
``aligned_rows`` checks it and says plainly when they are not.

Intervals are 95% percentile intervals (``level``). Above ``max_rows`` rows, the bootstrap runs
on one random subsample of ``m = max_rows`` rows and the spread of its resamples is scaled by
``sqrt(m / n)`` to the full size (an m-out-of-n bootstrap); with ``n <= max_rows`` it is the
ordinary bootstrap. A frame that is a uniform sample of a larger table (``population=``, drawn
by an engine) is scaled the same way to the table's size.

**A rare class.** The spread of a classifier's metric comes from every class, and a uniform
subsample of a table with 0.1% positives holds about 5 of them: the scaled interval then
ranged from a quarter of the true spread to twice it (measured, docs/numbers.md). So when a
uniform subsample would hold fewer than ``CLASS_ROWS`` (200) rows of some class, the
subsample is drawn per class (each such class's rows up to ``m / classes``, the rest from the
others in proportion) and each class's spread is scaled to its own rows: a rescaled Poisson
bootstrap in which a row drawn ``k`` times weighs ``d (1 + f (k - 1))``, with ``d`` the rows
it stands for and ``f = sqrt(rows drawn of its class / rows of its class in all)``
(``_plan``). An engine may also draw its sample per class (``population_positives``). When a
yes/no frame itself holds too few rows of a class for the rows it stands for (an engine's
sample with fewer than ``MIN_CLASS_ROWS`` = 30 of a class; fewer than 200 for average
precision), the metric gets no interval (NaN bounds: "no interval (too few rows)") rather
than a narrow one. Frames of at most ``max_rows`` rows that stand only for themselves are
unchanged. Paired intervals follow the same rule with the same rows and weights for both
versions. Everything is seeded.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterator

import numpy as np
import pandas as pd

from registry.model import COL_PRED, COL_SCORE, COL_TRUE, Model

from .metrics import binary_truth, compute_metrics, multiclass_labels, proba_matrix

EPS_BINARY = 1e-15  # the clip analysis.metrics applies to binary scores before log loss


@dataclass(frozen=True)
class BootstrapSettings:
    n_boot: int = 1000
    level: float = 0.95
    max_rows: int = 5_000
    seed: int = 0
    chunk: int = 200  # resamples computed together (bounds memory: chunk × rows weights)


#: For the many secondary intervals of a page (every segment, every version): 400 resamples
#: put the 2.5% and 97.5% points within a small fraction of the interval's width of where
#: 1,000 would, at well under half the cost.
SECONDARY = BootstrapSettings(n_boot=400)


#: Fewer labelled rows than this and a metric is not judged: it is shown with its row count and
#: "too few rows to judge", never with an interval (a bootstrap of 5 rows can give "0.000 to
#: 0.000", which reads as certainty). The one limit for segments, production windows and the
#: reports built from them.
MIN_JUDGE_ROWS = 30


def too_few_rows(rows: int, min_rows: int = MIN_JUDGE_ROWS) -> str:
    """'' when ``rows`` are enough to judge a metric on, else what to show instead of it."""
    if rows >= min_rows:
        return ""
    return f"{rows:,} {'row' if rows == 1 else 'rows'}: too few rows to judge"


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float


@dataclass(frozen=True)
class Difference:
    """``b − a`` of one metric on the same rows, with its paired bootstrap interval."""

    metric: str
    value_a: float
    value_b: float
    delta: float
    low: float
    high: float

    @property
    def significant(self) -> bool:
        """The interval excludes zero."""
        return bool(np.isfinite(self.low) and (self.low > 0 or self.high < 0))


class RowsMismatch(ValueError):
    """Two versions were not evaluated on the same rows: a paired comparison is impossible."""


# ------------------------------------------------------------------ prepared rows
class _Prepared:
    """Per-row arrays of one task from which every metric is a weighted sum."""

    metrics: tuple[str, ...] = ()

    def stats(self, w: np.ndarray, wanted: frozenset | None = None
              ) -> dict[str, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError


class _Binary(_Prepared):
    metrics = ("roc_auc", "average_precision", "accuracy", "precision", "recall", "f1",
               "log_loss", "brier")

    def __init__(self, y: np.ndarray, score: np.ndarray, threshold: float):
        self.n = len(y)
        # Rows already in score order (see _score_order) need no permutation per resample.
        # Otherwise any sort will do (numpy's default is several times faster than a stable
        # one): tied scores are grouped below, so their order does not matter.
        if self.n < 2 or np.all(score[1:] >= score[:-1]):
            order, self.order = np.arange(self.n), None
        else:
            order = np.argsort(score)
            self.order = order
        s = score[order]
        self.y_sorted = y[order].astype(float)
        self.starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # distinct score groups
        pred = (score >= threshold).astype(float)
        p = np.clip(score, EPS_BINARY, 1 - EPS_BINARY)
        loss = -(y * np.log(p) + (1 - y) * np.log(1 - p))
        self.values = np.column_stack([y * pred, (1 - y) * pred, y * (1 - pred),
                                       (1 - y) * (1 - pred), loss, (score - y) ** 2])

    def stats(self, w, wanted=None):
        want = lambda k: wanted is None or k in wanted  # noqa: E731
        n = w.sum(axis=1)
        tp, fp, fn, tn, loss, sq = (w @ self.values).T
        out = {}
        with np.errstate(invalid="ignore", divide="ignore"):
            out.update({
                "accuracy": (tp + tn) / n,
                "precision": np.where(tp + fp > 0, tp / np.where(tp + fp > 0, tp + fp, 1), 0.0),
                "recall": np.where(tp + fn > 0, tp / np.where(tp + fn > 0, tp + fn, 1), 0.0),
                "f1": np.where(tp > 0, 2 * tp / np.where(tp > 0, 2 * tp + fp + fn, 1), 0.0),
                "log_loss": loss / n,
                "brier": sq / n,
            })
            if not (want("roc_auc") or want("average_precision")):
                return out
            ws = w if self.order is None else w[:, self.order]
            pos = np.add.reduceat(ws * self.y_sorted, self.starts, axis=1)
            neg = np.add.reduceat(ws, self.starts, axis=1)
            neg -= pos
            n1, n0 = pos.sum(axis=1), neg.sum(axis=1)
            if want("roc_auc"):
                below = np.cumsum(neg, axis=1)  # negatives scoring at or below each group
                below -= 0.5 * neg  # ties count one half
                auc = np.einsum("ij,ij->i", pos, below) / (n1 * n0)
                auc[(n1 == 0) | (n0 == 0)] = np.nan
                out["roc_auc"] = auc
            if want("average_precision"):
                # Precision at each distinct score, walking from the highest score down.
                tp_c = np.cumsum(pos[:, ::-1], axis=1)
                all_c = tp_c + np.cumsum(neg[:, ::-1], axis=1)
                np.divide(tp_c, all_c, out=tp_c, where=all_c > 0)
                ap = np.einsum("ij,ij->i", pos[:, ::-1], tp_c) / n1
                ap[n1 == 0] = np.nan
                out["average_precision"] = ap
        return out


class _Multiclass(_Prepared):
    def __init__(self, frame: pd.DataFrame):
        y_true, y_pred = multiclass_labels(frame)
        labels = np.union1d(y_true, y_pred)
        self.k = len(labels)
        t = np.searchsorted(labels, y_true)
        p = np.searchsorted(labels, y_pred)
        self.n = len(t)
        pair = t * self.k + p
        self.onehot = np.zeros((self.n, self.k * self.k))
        self.onehot[np.arange(self.n), pair] = 1.0
        cols = [np.ones(self.n)]
        self.metrics = ("accuracy", "f1_macro", "f1_weighted")
        if any(c.startswith("proba.") for c in frame.columns):
            proba, classes = proba_matrix(frame)
            proba = proba / proba.sum(axis=1, keepdims=True)
            eps = np.finfo(float).eps
            col = {c: i for i, c in enumerate(classes)}
            idx = np.array([col.get(v, -1) for v in y_true])
            p_true = np.where(idx >= 0, proba[np.arange(self.n), np.maximum(idx, 0)], 0.0)
            cols.append(-np.log(np.clip(p_true, eps, 1 - eps)))
            self.metrics += ("log_loss",)
        self.values = np.column_stack(cols)

    def stats(self, w, wanted=None):
        cm = (w @ self.onehot).reshape(len(w), self.k, self.k)
        sums = w @ self.values
        n = sums[:, 0]
        diag = np.einsum("bkk->bk", cm)
        support, predicted = cm.sum(axis=2), cm.sum(axis=1)
        present = (support + predicted) > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = np.where(present, 2 * diag / np.where(present, support + predicted, 1), np.nan)
            out = {"accuracy": diag.sum(axis=1) / n,
                   "f1_macro": np.nanmean(f1, axis=1),
                   "f1_weighted": np.nansum(f1 * support, axis=1) / n}
            if "log_loss" in self.metrics:
                out["log_loss"] = sums[:, 1] / n
        return out


class _Regression(_Prepared):
    def __init__(self, y: np.ndarray, pred: np.ndarray):
        self.n = len(y)
        err = y - pred
        cols = [np.ones(self.n), np.abs(err), err ** 2, y, y ** 2]
        self.metrics = ("rmse", "mae", "r2")
        if self.n and np.all(y != 0):
            eps = np.finfo(float).eps
            cols.append(np.abs(err) / np.maximum(np.abs(y), eps))
            self.metrics += ("mape",)
        self.values = np.column_stack(cols)

    def stats(self, w, wanted=None):
        s = w @ self.values
        n = s[:, 0]
        with np.errstate(invalid="ignore", divide="ignore"):
            sst = s[:, 4] - s[:, 3] ** 2 / n
            out = {"mae": s[:, 1] / n, "rmse": np.sqrt(s[:, 2] / n),
                   "r2": np.where(sst > 0, 1 - s[:, 2] / np.where(sst > 0, sst, 1), np.nan)}
            if "mape" in self.metrics:
                out["mape"] = s[:, 5] / n
        return out


def prepare_binary(y: np.ndarray, score: np.ndarray, threshold: float = 0.5) -> _Prepared:
    """The per-row arrays of yes/no outcomes ``y`` (0/1) and scores, without a table: for
    rows built by the caller (``analysis.estimation`` gives each row once as a positive and
    once as a negative, weighted by its probability)."""
    return _Binary(np.asarray(y, dtype=float), np.asarray(score, dtype=float), threshold)


def prepare(model: Model, frame: pd.DataFrame, threshold: float = 0.5) -> _Prepared:
    """The per-row arrays of ``frame`` (labelled rows) for the model's task."""
    if model.task == "binary":
        return _Binary(binary_truth(frame[COL_TRUE], model.positive_label).astype(float),
                       frame[COL_SCORE].to_numpy(dtype=float), threshold)
    if model.task == "multiclass":
        return _Multiclass(frame)
    return _Regression(frame[COL_TRUE].to_numpy(dtype=float),
                       frame[COL_PRED].to_numpy(dtype=float))


# ------------------------------------------------------------------ resampling
def resample_weights(n: int, settings: BootstrapSettings,
                     rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Weight matrices (up to ``chunk`` resamples × n rows): how often each row was drawn."""
    done = 0
    while done < settings.n_boot:
        b = min(settings.chunk, settings.n_boot - done)
        idx = rng.integers(0, n, size=(b, n)) + (np.arange(b) * n)[:, None]
        yield np.bincount(idx.ravel(), minlength=b * n).reshape(b, n).astype(float)
        done += b


def weights_of(indices: np.ndarray, n: int) -> np.ndarray:
    """The weight matrix of explicit resample indices (resamples × draws) over n rows."""
    b = len(indices)
    flat = (indices + (np.arange(b) * n)[:, None]).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n).astype(float)


def _labelled(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.loc[frame[COL_TRUE].notna()]


def _subsample(n: int, settings: BootstrapSettings, rng) -> tuple[np.ndarray | None, float]:
    """Rows to bootstrap (None: all) and the spread scale sqrt(m/n)."""
    if n <= settings.max_rows:
        return None, 1.0
    rows = np.sort(rng.choice(n, settings.max_rows, replace=False))
    return rows, float(np.sqrt(settings.max_rows / n))


#: A yes/no or multiclass table whose uniform subsample would hold fewer rows than this of a
#: class is subsampled per class instead (``_plan``), and a yes/no frame standing for more
#: rows than it holds (``population=``) needs this many of each class for an interval of
#: average precision. Measured (benchmarks/rare_class_intervals.py, docs/numbers.md): scaled
#: from 200 rows of the rarer class, every metric's width is within about 0.9x-1.35x of the
#: true spread between test sets (average precision 1.0x-2.4x); from 50-100, average
#: precision's width is under half the true spread for 15-20% of samples.
CLASS_ROWS = 200

#: A frame standing for more rows than it holds with fewer rows than this of either class gets
#: no interval at all: the spread of the rows it stands for would be guessed from a handful.
#: Measured as for CLASS_ROWS: from 10-20 rows of the rarer class, ROC AUC's width was under
#: half the true spread for 5% of samples; from 30 or more, no metric's but average precision's.
MIN_CLASS_ROWS = 30

#: Metrics whose scaled interval needs CLASS_ROWS rows of each class (above).
NEEDS_CLASS_ROWS = frozenset({"average_precision"})


@dataclass(frozen=True)
class _Plan:
    """Which rows of a labelled frame to bootstrap, and how their spread becomes that of all
    the rows the interval is about."""

    rows: np.ndarray | None = None  # the frame's rows to bootstrap, in order (None: all)
    scale: float = 1.0  # uniform rows: the resamples' spread is multiplied by this
    scaled: bool = False  # the spread is not that of the frame's own rows
    #: per class (None: rows drawn uniformly with replacement): for each bootstrapped row, the
    #: rows of the whole it stands for, and sqrt(rows drawn of its class / rows of the whole
    #: of its class), the factor on its Poisson resampling count's deviation from 1
    design: np.ndarray | None = None
    spread: np.ndarray | None = None
    no_interval: bool = False  # too few rows of a class to scale from
    thin: frozenset = frozenset()  # metrics without an interval: too few rows of a class

    def ordered(self, order: np.ndarray) -> "_Plan":
        if self.design is None:
            return self
        return replace(self, design=self.design[order], spread=self.spread[order])


def _plan(n: int, truth, population: int | None, settings: BootstrapSettings,
          rng, population_positives: int | None = None) -> _Plan:
    """How to bootstrap a labelled frame of ``n`` rows that is all the rows, or a uniform
    random sample of ``population`` rows, or (``population_positives`` given) a sample of
    them drawn per class, of which that many are positive. ``truth()`` gives each row's
    class as a code 0, 1, … (a yes/no table: 1 is positive; None for regression) and whether
    the floors below apply (yes/no tables), asked only when the spread is scaled.

    Uniform (as before): up to ``max_rows`` random rows, their spread scaled by
    sqrt(rows bootstrapped / rows of the whole). A table whose uniform subsample would hold
    fewer than ``CLASS_ROWS`` rows of some class is subsampled per class instead: each such
    class's rows up to ``max_rows / classes``, the rest from the other classes in proportion.
    Each class is then scaled on its own (a rescaled bootstrap, as for a stratified survey): a
    row drawn ``k`` times (Poisson, mean 1) weighs ``d (1 + f (k - 1))``, where ``d`` is the
    number of rows of the whole it stands for and ``f = sqrt(rows drawn of its class / rows of
    the whole of its class)``, so each class adds to the spread what all its rows would, and
    the share of each class varies as it does between test sets. A yes/no frame standing for
    more rows than it holds with fewer than ``MIN_CLASS_ROWS`` rows of a class: no interval;
    with fewer than ``CLASS_ROWS``: none for ``NEEDS_CLASS_ROWS``."""
    m = min(n, settings.max_rows)
    whole = population if population is not None and population > m else n
    per_class = population_positives is not None and population is not None \
        and 0 < population_positives < population
    got = truth() if whole > m or per_class else None
    if got is None:
        rows, scale = _subsample(n, settings, rng)
        if whole > m and whole == population:
            scale = float(np.sqrt(m / population))
        return _Plan(rows, scale, scaled=whole > m)
    codes, floors = got
    counts = np.bincount(codes, minlength=2)
    if per_class:
        stands = np.maximum([population - population_positives, population_positives], counts)
    else:
        stands = max(whole, n) * counts / n  # a uniform sample: each class in proportion
    beyond = bool(np.any(stands > counts))  # the frame stands for rows it does not hold
    fewest = int(counts.min())
    if floors and beyond and fewest < MIN_CLASS_ROWS:
        return _Plan(scaled=True, no_interval=True)
    thin = NEEDS_CLASS_ROWS if floors and beyond and fewest < CLASS_ROWS else frozenset()
    if per_class or (n > m and 0 < fewest and m * fewest / n < CLASS_ROWS):
        return replace(_per_class(codes, counts, stands, m, rng), thin=thin)
    rows, scale = _subsample(n, settings, rng)
    if whole > m and whole == population:
        scale = float(np.sqrt(m / population))
    return _Plan(rows, scale, scaled=whole > m, thin=thin)


def _per_class(codes: np.ndarray, counts: np.ndarray, stands: np.ndarray, m: int,
               rng) -> _Plan:
    """``_plan``'s subsample of ``m`` rows drawn per class (all rows when the frame holds
    no more), with each row's design weight and spread; ``stands``: each class's rows in
    the whole."""
    take = counts.copy()
    if counts.sum() > m:
        small = m * counts / counts.sum() < CLASS_ROWS
        take[small] = np.minimum(counts[small], m // len(counts))
        big = np.flatnonzero(~small)
        if len(big):
            rest = m - int(take[small].sum())
            share = rest * counts[big] // counts[big].sum()
            share[np.argmax(counts[big])] += rest - share.sum()
            take[big] = np.clip(share, 1, counts[big])
    rows = np.sort(np.concatenate([rng.choice(np.flatnonzero(codes == c), take[c],
                                              replace=False) for c in range(len(counts))]))
    cls = codes[rows]
    return _Plan(rows, 1.0, scaled=True, design=(stands / take)[cls],
                 spread=np.sqrt(take / stands)[cls])


def _score_order(model: Model, frame: pd.DataFrame) -> np.ndarray | None:
    """Binary: the rows' order by score. Resampling rows is blind to their order, so tables
    are bootstrapped in this order, which spares the ROC/AP step a permutation."""
    if model.task != "binary":
        return None
    return np.argsort(frame[COL_SCORE].to_numpy(dtype=float), kind="mergesort")


def _rescaled_weights(plan: _Plan, settings: BootstrapSettings,
                      rng: np.random.Generator) -> Iterator[np.ndarray]:
    """``_plan``'s per-class weights, ``chunk`` resamples at a time."""
    done = 0
    while done < settings.n_boot:
        b = min(settings.chunk, settings.n_boot - done)
        k = rng.poisson(1.0, size=(b, len(plan.design))).astype(float)
        k -= 1.0
        k *= plan.spread
        k += 1.0
        k *= plan.design
        yield k
        done += b


def _distributions(prepared: list[_Prepared], settings: BootstrapSettings, rng,
                   wanted: frozenset | None = None,
                   plan: _Plan | None = None) -> list[dict[str, np.ndarray]]:
    """Bootstrap distribution of every metric, for each prepared table, same weights."""
    n = prepared[0].n
    parts: list[list[dict]] = [[] for _ in prepared]
    weights = resample_weights(n, settings, rng) if plan is None or plan.design is None \
        else _rescaled_weights(plan, settings, rng)
    for w in weights:
        for i, p in enumerate(prepared):
            parts[i].append(p.stats(w, wanted))
    return [{k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]} for chunks in parts]


def _interval(point: float, draws: np.ndarray, centre: float, scale: float,
              level: float) -> tuple[float, float]:
    draws = draws[np.isfinite(draws)]
    if not np.isfinite(point) or len(draws) < 10:
        return float("nan"), float("nan")
    alpha = (1 - level) / 2
    lo, hi = np.quantile(draws, [alpha, 1 - alpha])
    return float(point + scale * (lo - centre)), float(point + scale * (hi - centre))


def point_estimates(model: Model, prepared: _Prepared,
                    wanted: frozenset | None = None) -> dict[str, float]:
    """The metrics of all rows of ``prepared`` (every weight 1): the same numbers as
    ``compute_metrics`` (scikit-learn; the tests hold them to 1e-9), from one sort of the
    scores instead of one scikit-learn call per metric."""
    stats = prepared.stats(np.ones((1, prepared.n)), wanted)
    out = {k: float(v[0]) for k, v in stats.items() if wanted is None or k in wanted}
    if model.task == "binary" and not np.isfinite(out.get("roc_auc", 0.0)):
        for k in ("roc_auc", "average_precision", "log_loss"):  # one class only
            out.pop(k, None)
    return out


def bootstrap_intervals(model: Model, frame: pd.DataFrame, threshold: float = 0.5,
                        settings: BootstrapSettings = BootstrapSettings(),
                        metrics: tuple[str, ...] | None = None,
                        point: dict[str, float] | None = None,
                        population: int | None = None,
                        population_positives: int | None = None) -> dict[str, Interval]:
    """Every metric of the task (as ``compute_metrics``; only ``metrics`` when given) with
    its bootstrap interval. ``point`` passes values the caller already computed on all rows
    (e.g. with ``compute_metric``), which spares preparing a large table twice.
    ``population``: ``frame`` is a uniform random sample of that many labelled rows (an
    engine drew it, ``analysis.queries``) and ``point`` holds the values on all of them; the
    spread is scaled to the population's size as for a subsample drawn here.
    ``population_positives`` (yes/no): the sample was drawn per class instead — uniformly
    among the population's positives, of which there are that many, and uniformly among its
    negatives — so that a rare class is well represented; each class is scaled to its own
    rows (``_plan``). ``point`` must then hold the population's values."""
    frame = _labelled(frame)
    wanted = frozenset(metrics) if metrics else None
    if population_positives is not None and point is None:
        raise ValueError("a sample drawn per class needs the population's values (point=)")
    if len(frame) < 2:
        point = compute_metrics(model, frame, threshold)
        return {k: Interval(v, float("nan"), float("nan")) for k, v in point.items()
                if wanted is None or k in wanted}
    if point is None:
        point = point_estimates(model, prepare(model, frame, threshold), wanted)
    rng = np.random.default_rng(settings.seed)
    plan = _plan(len(frame), lambda: _truth(model, frame), population, settings, rng,
                 population_positives)
    if plan.no_interval:
        return {k: Interval(v, float("nan"), float("nan")) for k, v in point.items()}
    sub = frame if plan.rows is None else frame.iloc[plan.rows]
    order = _score_order(model, sub)
    if order is not None:
        sub, plan = sub.iloc[order], plan.ordered(order)
    prepared = prepare(model, sub, threshold)
    centre = _centre(model, prepared, plan, wanted) if plan.scaled else point
    dist = _distributions([prepared], settings, rng, wanted, plan)[0]
    out = {}
    for k, v in point.items():
        lo, hi = _interval(v, dist[k], centre.get(k, np.nan), plan.scale, settings.level) \
            if k not in plan.thin else (float("nan"), float("nan"))
        out[k] = Interval(v, lo, hi)
    return out


def _truth(model: Model, frame: pd.DataFrame) -> tuple[np.ndarray, bool] | None:
    """The classes ``_plan`` counts: each row's true class as a code (a yes/no table: 1 for
    positive) and whether the floors for a rare class apply (measured for yes/no tables);
    None for regression."""
    if model.task == "binary":
        return binary_truth(frame[COL_TRUE], model.positive_label).astype(int), True
    if model.task == "multiclass":
        return np.unique(multiclass_labels(frame)[0], return_inverse=True)[1].ravel(), False
    return None


def _centre(model: Model, prepared: _Prepared, plan: _Plan,
            wanted: frozenset | None) -> dict[str, float]:
    """The metrics of the bootstrapped rows, each weighing the rows it stands for: the
    centre of their resamples' spread."""
    if plan.design is None:
        return point_estimates(model, prepared, wanted)
    return {k: float(v[0]) for k, v in prepared.stats(plan.design[None, :], wanted).items()}


# ------------------------------------------------------------------ paired
def aligned_rows(frame_a: pd.DataFrame, frame_b: pd.DataFrame, label_a: str = "A",
                 label_b: str = "B") -> None:
    """Raise RowsMismatch, in plain words, unless both tables hold the same rows in the same
    order (same length and the same true value on every row)."""
    differ = 0
    if len(frame_a) == len(frame_b):
        ya = frame_a[COL_TRUE].astype(str).to_numpy()
        yb = frame_b[COL_TRUE].astype(str).to_numpy()
        differ = int((ya != yb).sum())
    why = rows_mismatch(len(frame_a), len(frame_b), differ, label_a, label_b)
    if why:
        raise RowsMismatch(why)


def rows_mismatch(n_a: int, n_b: int, differ: int, label_a: str = "A",
                  label_b: str = "B") -> str:
    """Why two versions' rows cannot be compared row by row ('' when they can): ``n_a`` and
    ``n_b`` rows, ``differ`` of them with another true value."""
    if n_a != n_b:
        return (f"{label_a} was evaluated on {n_a:,} rows and {label_b} on {n_b:,}, so they "
                "were not evaluated on the same rows and cannot be compared row by row.")
    if differ:
        return (f"{label_a} and {label_b} have the same number of rows but different true "
                f"values on {differ:,} of them, so they were not evaluated on the same rows "
                "(in the same order) and cannot be compared row by row.")
    return ""


def paired_differences(model: Model, frame_a: pd.DataFrame, frame_b: pd.DataFrame,
                       threshold: float = 0.5,
                       settings: BootstrapSettings = BootstrapSettings(),
                       label_a: str = "A", label_b: str = "B",
                       metrics: tuple[str, ...] | None = None,
                       points: tuple[dict, dict] | None = None,
                       population: int | None = None,
                       population_positives: int | None = None) -> dict[str, Difference]:
    """``b − a`` of every metric with a paired bootstrap interval: each resample draws the same
    rows for both versions. Raises RowsMismatch when the rows are not the same.
    ``population``: the frames are the same uniform random sample of that many paired
    labelled rows (an engine drew it, ``analysis.compare``) and ``points`` holds each
    version's values on all of them; the spread is scaled to the population's size
    (``population_positives``: drawn per class, as for ``bootstrap_intervals``)."""
    aligned_rows(frame_a, frame_b, label_a, label_b)
    if population_positives is not None and points is None:
        raise ValueError("a sample drawn per class needs the population's values (points=)")
    keep = frame_a[COL_TRUE].notna().to_numpy()
    fa, fb = frame_a.loc[keep], frame_b.loc[keep]
    nan = float("nan")
    wanted = frozenset(metrics) if metrics else None
    if len(fa) < 2 and points is None:
        pa, pb = compute_metrics(model, fa, threshold), compute_metrics(model, fb, threshold)
        return {k: Difference(k, pa[k], pb[k], pb[k] - pa[k], nan, nan) for k in pa
                if k in pb and (wanted is None or k in wanted)}
    if points is not None:
        pa, pb = ({k: v for k, v in p.items() if wanted is None or k in wanted}
                  for p in points)
    else:
        pa = point_estimates(model, prepare(model, fa, threshold), wanted)
        pb = point_estimates(model, prepare(model, fb, threshold), wanted)
    keys = [k for k in pa if k in pb]
    if len(fa) < 2:
        return {k: Difference(k, pa[k], pb[k], pb[k] - pa[k], nan, nan) for k in keys}
    rng = np.random.default_rng(settings.seed)
    # the same rows, resamples and scaling for both versions (their outcomes are the same)
    plan = _plan(len(fa), lambda: _truth(model, fa), population, settings, rng,
                 population_positives)
    if plan.no_interval:
        return {k: Difference(k, pa[k], pb[k], pb[k] - pa[k], nan, nan) for k in keys}
    sa, sb = (fa, fb) if plan.rows is None else (fa.iloc[plan.rows], fb.iloc[plan.rows])
    order = _score_order(model, sa)  # the same order for both: rows stay paired
    if order is not None:
        sa, sb, plan = sa.iloc[order], sb.iloc[order], plan.ordered(order)
    prep_a, prep_b = prepare(model, sa, threshold), prepare(model, sb, threshold)
    if plan.scaled:
        ca, cb = _centre(model, prep_a, plan, wanted), _centre(model, prep_b, plan, wanted)
    else:
        ca, cb = pa, pb
    da, db = _distributions([prep_a, prep_b], settings, rng, frozenset(keys), plan)
    out = {}
    for k in keys:
        delta = pb[k] - pa[k]
        if k in da and k in db and k not in plan.thin:
            lo, hi = _interval(delta, db[k] - da[k], cb.get(k, nan) - ca.get(k, nan),
                               plan.scale, settings.level)
        else:
            lo = hi = nan
        out[k] = Difference(k, pa[k], pb[k], delta, lo, hi)
    return out
