"""Estimated performance of a yes/no model on production rows that have no labels yet.

Confidence-based performance estimation: when a model's scores are **calibrated** (among rows
scored 0.3, about 30% turn out positive), each row is a positive with probability ``p`` (its
calibrated score). A row flagged at the threshold then adds ``p`` to the expected true
positives and ``1 − p`` to the expected false positives; a row not flagged adds ``p`` to the
expected false negatives and ``1 − p`` to the true negatives. From these expected counts come
the estimated precision, recall and money per month (``analysis.business.monthly_value``),
and — counting each pair of rows as "positive above negative" with probability
``p_i · (1 − p_j)`` — the estimated ROC AUC. The metric code is the one that measures
evaluation and production (``analysis.uncertainty``'s weighted yes/no rows), given each row's
outcome as the fraction ``p`` (a weight ``p`` of positive and ``1 − p`` of negative).

**Calibration** is checked on the version's evaluation rows (expected calibration error on
ten equal-count bins, against what chance gives when the scores *are* calibrated: labels drawn
from the scores themselves). When the scores are not calibrated, a map is fitted on the
evaluation rows — Platt scaling (a logistic regression on the score's log-odds) or isotonic
regression (centred: straight between the middles of its steps), whichever predicts the
outcomes better out of fold; Platt only below ``isotonic_min_rows`` rows — and ``p`` is the
mapped score. The model's own scores still
decide the ranking and which rows are flagged.

**Interval**: 95%, from resamples that each take the map refitted on a bootstrap resample of
the evaluation rows and draw every row's outcome from the probability it gives (a parametric
bootstrap over the window's rows). It is where the *realised* value will fall once the labels
of these rows arrive: the outcomes are what is unknown, and the map rests on a finite
evaluation set.

**What it cannot see.** The estimate assumes that the relation between inputs and outcome is
the one seen at evaluation. It follows a change in *who* is scored (covariate shift); a change
in how the outcome depends on the inputs (concept shift) leaves the scores unchanged and is
invisible here — only labels show it.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.special import expit, logit
from sklearn.isotonic import IsotonicRegression, isotonic_regression
from sklearn.linear_model import LogisticRegression

from registry.model import COL_SCORE, COL_TIME, COL_TRUE, COL_VERSION, Model, champion_of

from .business import is_complete, monthly_value, value_curve
from .metrics import binary_truth
from .monitoring import MonitoringSettings, window_codes, window_label
from .monitoring_rows import _cutoff
from .uncertainty import (
    MIN_JUDGE_ROWS, BootstrapSettings, _interval, _subsample, prepare_binary, too_few_rows,
)

#: the estimated quantities, in the order of ``ESTIMATE_COLUMNS``; "money" is per month
ESTIMATED = ("roc_auc", "precision", "recall", "money")

ESTIMATE_COLUMNS = (["window", "label", "rows", "labelled"]
                    + [f"{k}{s}" for k in ESTIMATED for s in ("", "_low", "_high")]
                    + ["tp", "fp", "fn", "tn", "note"])


@dataclass(frozen=True)
class EstimationSettings:
    #: resamples of each window's rows (outcomes drawn from the calibrated scores in each):
    #: 200, as the monitoring page's intervals and as the coverage simulation validated
    bootstrap: BootstrapSettings = BootstrapSettings(n_boot=200, max_rows=5_000, chunk=100)
    #: windows as on the monitoring page (the same labels)
    monitoring: MonitoringSettings = MonitoringSettings()
    calibration_bins: int = 10  # equal-count bins of the expected calibration error
    calibration_draws: int = 200  # label draws of the "calibrated by chance" reference
    calibration_level: float = 0.95  # ECE above this quantile of chance: not calibrated
    #: maps refitted on resamples of the evaluation rows: the interval of an estimate
    #: includes the uncertainty of the map itself
    calibration_maps: int = 100
    min_reference_rows: int = 200  # labelled evaluation rows needed to check calibration
    #: isotonic regression overfits on fewer rows (scikit-learn's calibration guide says
    #: "fewer than about 1,000"): Platt scaling below; from this many rows, the one of the
    #: two that predicts the outcomes better out of fold
    isotonic_min_rows: int = 1_000
    min_rows: int = MIN_JUDGE_ROWS  # production rows a window needs for an estimate
    seed: int = 0


# ------------------------------------------------------------------ calibration
@dataclass(frozen=True)
class Calibration:
    """How the scores relate to outcome rates on the evaluation rows, and the map applied
    before estimating (``method`` '' when the scores are used as they are)."""

    rows: int  # labelled evaluation rows
    ece: float  # expected calibration error of the scores as given (NaN: not in [0, 1])
    ece_chance: float  # the level chance alone reaches (calibration_level quantile)
    calibrated: bool
    method: str = ""  # "" | "isotonic regression" | "Platt scaling"
    #: the map: isotonic — knots (x, y) interpolated linearly, clipped at the ends;
    #: Platt — (slope, intercept) on the log-odds of the score
    knots_x: tuple[float, ...] = ()
    knots_y: tuple[float, ...] = ()
    slope: float = 1.0
    intercept: float = 0.0
    #: Platt's input: the score's log-odds when the evaluation scores are probabilities,
    #: else the raw score (decided once, at evaluation, for every window alike)
    on_log_odds: bool = True
    ece_after: float = float("nan")  # ECE of the mapped scores on the same rows
    #: the same map refitted on bootstrap resamples of the evaluation rows (none when the
    #: scores are used as they are)
    resampled: tuple["Calibration", ...] = ()

    def draw(self, i: int) -> "Calibration":
        """The ``i``-th resampled map (cycling), or this one when there are none."""
        return self.resampled[i % len(self.resampled)] if self.resampled else self

    def apply(self, score: np.ndarray) -> np.ndarray:
        """The probability of a positive for each score."""
        s = np.asarray(score, dtype=float)
        if self.method == "isotonic regression":
            return np.interp(s, self.knots_x, self.knots_y)
        if self.method == "Platt scaling":
            return expit(self.slope * _log_odds(s, self.on_log_odds) + self.intercept)
        return s

    def apply_draws(self, score: np.ndarray, start: int, count: int) -> np.ndarray:
        """``draw(start) … draw(start + count - 1)`` applied to ``score`` (count × rows);
        Platt's maps all at once."""
        maps = [self.draw(start + j) for j in range(count)]
        if self.method == "Platt scaling":
            x = _log_odds(np.asarray(score, dtype=float), self.on_log_odds)
            a = np.array([m.slope for m in maps])[:, None]
            b = np.array([m.intercept for m in maps])[:, None]
            return expit(a * x[None, :] + b)
        return np.stack([m.apply(score) for m in maps])

    def sentence(self, version: int | None) -> str:
        """The check in words."""
        who = f"version {version}" if version is not None else "this version"
        rows = f"{self.rows:,} evaluation rows"
        if self.calibrated:
            return (f"The scores of {who} are calibrated on its {rows} (a score of 0.3 means "
                    f"about 30% positives): expected calibration error {self.ece:.3f}, within "
                    f"what chance gives ({self.ece_chance:.3f}), so they are used as they are.")
        why = ("they are not probabilities between 0 and 1" if not np.isfinite(self.ece) else
               f"expected calibration error {self.ece:.3f}, more than chance gives "
               f"({self.ece_chance:.3f})")
        return (f"The scores of {who} are not calibrated on its {rows} ({why}), so they were "
                f"recalibrated on those rows with {self.method} before estimating "
                f"(calibration error after: {self.ece_after:.3f}).")


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Σ over equal-count bins of (bin's share of rows) · |share of positives − mean score|."""
    order = np.argsort(p, kind="mergesort")
    y, p = np.asarray(y, float)[order], np.asarray(p, float)[order]
    return float(_ece_sorted(y[None, :], p, bins)[0])


def _ece_sorted(y: np.ndarray, p: np.ndarray, bins: int) -> np.ndarray:
    """The ECE of each row of ``y`` (draws × rows) against scores ``p`` sorted ascending."""
    n = len(p)
    edges = np.unique(np.linspace(0, n, bins + 1).round().astype(int)[:-1])
    gap = np.add.reduceat(y, edges, axis=1) - np.add.reduceat(p, edges)
    return np.abs(gap).sum(axis=1) / n  # Σ size/n · |Σy/size − Σp/size|


def _log_odds(s: np.ndarray, on: bool) -> np.ndarray:
    return logit(np.clip(s, 1e-6, 1 - 1e-6)) if on else s


def check_calibration(y: np.ndarray, score: np.ndarray,
                      settings: EstimationSettings = EstimationSettings()) -> Calibration:
    """Whether ``score`` is calibrated on labelled rows (``y`` 0/1), and, when it is not,
    the map (isotonic or Platt, fitted on these rows) that makes it so."""
    y = np.asarray(y, dtype=float)
    s = np.asarray(score, dtype=float)
    n = len(y)
    probabilities = n > 0 and s.min() >= 0 and s.max() <= 1
    if probabilities:
        ece = expected_calibration_error(y, s, settings.calibration_bins)
        rng = np.random.default_rng(settings.seed)
        ps = np.sort(s)
        drawn = (rng.random((settings.calibration_draws, n)) < ps).astype(float)
        chance = _ece_sorted(drawn, ps, settings.calibration_bins)
        ece_chance = float(np.quantile(chance, settings.calibration_level))
        if ece <= ece_chance:
            return Calibration(n, ece, ece_chance, True)
    else:
        ece, ece_chance = float("nan"), float("nan")
    isotonic = n >= settings.isotonic_min_rows and _isotonic_predicts_better(y, s, settings)
    cal = _fit_map(y, s, isotonic, Calibration(n, ece, ece_chance, False,
                                               on_log_odds=bool(probabilities)))
    rng = np.random.default_rng(settings.seed + 1)
    resampled = []
    for _ in range(settings.calibration_maps):
        idx = rng.integers(0, n, n)
        if 0 < y[idx].sum() < n:  # a map needs both outcomes
            resampled.append(_fit_map(y[idx], s[idx], isotonic, cal))
    after = expected_calibration_error(y, cal.apply(s), settings.calibration_bins)
    return replace(cal, ece_after=after, resampled=tuple(resampled))


def _isotonic_predicts_better(y: np.ndarray, s: np.ndarray,
                              settings: EstimationSettings) -> bool:
    """Isotonic regression or Platt scaling: the one whose out-of-fold Brier score on the
    evaluation rows (5 folds) is lower. Isotonic bends to any monotone shape but is noisy
    and flat at the ends; Platt is smooth and needs few rows but assumes one shape."""
    folds = np.random.default_rng(settings.seed).permutation(len(y)) % 5
    err = {True: 0.0, False: 0.0}
    base = Calibration(0, np.nan, np.nan, False,
                       on_log_odds=bool(s.min() >= 0 and s.max() <= 1))
    for k in range(5):
        fit, held = folds != k, folds == k
        if not 0 < y[fit].sum() < fit.sum():
            return False
        for iso in (True, False):
            m = _fit_map(y[fit], s[fit], iso, base)
            err[iso] += float(np.sum((m.apply(s[held]) - y[held]) ** 2))
    return err[True] < err[False]


def _fit_map(y: np.ndarray, s: np.ndarray, isotonic: bool, base: Calibration) -> Calibration:
    if isotonic:
        # centred isotonic regression: scikit-learn's staircase, then a straight line from
        # the middle of each step (its rows' mean score) to the next one's. Inside a flat
        # step every row would look alike — no ranking among them, and a jump at each
        # edge — though the true rate rises with the score there too; the line follows it
        # (Oron & Flournoy, 2017). Each step's rate is shrunk a little towards one half
        # ((positives + ½) / (rows + 1), Jeffreys' prior): a step of 40 rows that were all
        # positive says "very likely", not "certainly" — a probability of exactly 0 or 1
        # would make the interval of a window scored there shrink to nothing. Beyond the
        # first and last step's middle the map stays at that step's rate.
        order = np.argsort(s, kind="mergesort")
        ss, yy = s[order], y[order]
        fitted = IsotonicRegression(y_min=0.0, y_max=1.0).fit_transform(ss, yy)
        step = np.r_[0, np.cumsum(np.diff(fitted) != 0)]  # equal scores: one step
        rows = np.bincount(step)
        centre = np.bincount(step, ss) / rows
        rate = (np.bincount(step, yy) + 0.5) / (rows + 1.0)
        # the shrinkage can swap two neighbouring rates (0 of 40 rows, then 1 of 200):
        # pooled again, so the map still never falls
        if np.any(np.diff(rate) < 0):
            rate = isotonic_regression(rate, sample_weight=rows + 1.0)
        return replace(base, method="isotonic regression",
                       knots_x=tuple(map(float, centre)), knots_y=tuple(map(float, rate)))
    lr = LogisticRegression(C=np.inf, solver="newton-cholesky")
    lr.fit(_log_odds(s, base.on_log_odds).reshape(-1, 1), y.astype(int))
    return replace(base, method="Platt scaling", slope=float(lr.coef_[0, 0]),
                   intercept=float(lr.intercept_[0]))


# ------------------------------------------------------------------ one window
def estimate_window(calibration: Calibration, score: np.ndarray, threshold: float,
                    business=None, settings: EstimationSettings = EstimationSettings(),
                    rng: np.random.Generator | None = None) -> dict[str, float]:
    """Estimated ROC AUC, precision, recall and (with complete ``business`` settings) money
    per month of rows with model ``score``, flagged when ``score >= threshold``, whose
    probability of a positive is ``calibration.apply(score)``; each with '<name>_low' and
    '<name>_high', the 95% interval of the value the labels will give. Also the expected
    'tp', 'fp', 'fn', 'tn'. NaN where a quantity is undefined (precision when no row is
    flagged).

    The interval: each of ``settings.bootstrap.n_boot`` resamples takes one of the
    calibration's resampled maps and draws every row's outcome from the probability it
    gives; percentiles of the metrics of these resamples. (Resampling the rows themselves as
    well would count the window's own make-up as uncertainty, though the labels will be
    those of these very rows: the tests measured 98–99% coverage for a "95%" interval.)"""
    s = np.sort(np.asarray(score, dtype=float))  # the rows in score order (as the metric
    p = calibration.apply(s)  # code wants them); which row is which does not matter here
    rng = rng if rng is not None else np.random.default_rng(settings.seed)
    n = len(s)
    money = is_complete(business)
    wanted = frozenset({"roc_auc", "precision", "recall"})

    def quantities(got: dict, wp: np.ndarray, wn: np.ndarray, s) -> dict[str, np.ndarray]:
        """The metrics ``got`` and the counts of positives ``wp`` and negatives ``wn``
        (weights, resamples × rows in the order of the sorted scores ``s``) at the
        threshold: the flagged rows are the last ones."""
        k = int(np.searchsorted(s, threshold, side="left"))
        tp, fp = wp[:, k:].sum(axis=1), wn[:, k:].sum(axis=1)
        fn, tn = wp[:, :k].sum(axis=1), wn[:, :k].sum(axis=1)
        out = {"roc_auc": got["roc_auc"], "recall": got["recall"], "tp": tp, "fp": fp,
               "fn": fn, "tn": tn, "precision": np.where(tp + fp > 0, got["precision"], np.nan)}
        if money:
            out["money"] = monthly_value(business, tp, fp, fn, wp.sum(axis=1) + wn.sum(axis=1))
        return out

    def expected(p: np.ndarray, s: np.ndarray) -> dict[str, float]:
        """Expected values: each row once, with outcome ``p`` (the metric code takes a
        fractional outcome as that weight of positive and the rest of negative)."""
        got = prepare_binary(p, s, threshold).stats(np.ones((1, len(s))), wanted)
        return {k: float(v[0]) for k, v in quantities(got, p[None, :], 1 - p[None, :],
                                                       s).items()}

    point = expected(p, s)
    keys = [k for k in ESTIMATED if k in point]
    out = dict(point)
    if n < 2:
        out.update({f"{k}_{b}": np.nan for k in keys for b in ("low", "high")})
        return out
    boot = settings.bootstrap
    rows, scale = _subsample(n, boot, rng)
    ps, ss = (p, s) if rows is None else (p[rows], s[rows])  # rows: sorted, so ss is too
    # a large window: its subsample's own expected values are the centre of the spread
    centre = point if rows is None else expected(ps, ss)
    # each resample draws every row's outcome: the rows twice, as a positive and a negative
    doubled = prepare_binary(np.tile([1.0, 0.0], len(ss)), np.repeat(ss, 2), threshold)
    draws: dict[str, list] = {k: [] for k in keys}
    done = 0
    while done < boot.n_boot:  # chunks of resamples: each draws every row's outcome
        b = min(boot.chunk, boot.n_boot - done)
        probs = calibration.apply_draws(ss, done, b)
        positive = (rng.random(probs.shape) < probs).astype(float)
        w = np.empty((b, 2 * len(ss)))
        w[:, 0::2], w[:, 1::2] = positive, 1.0 - positive
        got = quantities(doubled.stats(w, wanted), positive, 1.0 - positive, ss)
        done += b
        for k in keys:
            draws[k].append(got[k])
    for k in keys:
        lo, hi = _interval(point[k], np.concatenate(draws[k]), centre[k], scale, boot.level)
        out[f"{k}_low"], out[f"{k}_high"] = lo, hi
    return out


# ------------------------------------------------------------------ every window
@dataclass(frozen=True)
class PerformanceEstimate:
    model: str
    version: int | None
    threshold: float
    threshold_source: str  # in words: "the best threshold for the business settings …"
    calibration: Calibration | None
    window_kind: str  # "month" | "week"
    #: ESTIMATE_COLUMNS, one row per production window (labelled or not), oldest first;
    #: 'note' is '' when estimated, else why not (too few rows)
    windows: pd.DataFrame
    currency: str = "EUR"
    #: why there is no estimate at all ('' when there is one), in words
    unavailable: str = ""

    @property
    def available(self) -> bool:
        return not self.unavailable

    def series(self, metric: str) -> pd.DataFrame:
        """``metric`` of every window as label, value, low, high, rows (the shape
        ``components.monitoring_figures.performance_over_time`` draws)."""
        w = self.windows
        if metric not in ESTIMATED or not len(w):
            return pd.DataFrame(columns=["label", "value", "low", "high", "rows"])
        return pd.DataFrame({"label": w["label"], "value": w[metric].astype(float),
                             "low": w[f"{metric}_low"].astype(float),
                             "high": w[f"{metric}_high"].astype(float), "rows": w["rows"]})

    def unlabelled(self) -> pd.DataFrame:
        """The windows without any label: where the estimate is all there is."""
        w = self.windows
        return w.loc[w["labelled"] == 0] if len(w) else w


def chosen_threshold(model: Model, reference: pd.DataFrame | None) -> tuple[float, str]:
    """The threshold an estimate uses when none is asked for: the best one for the model's
    business settings on its evaluation rows (as the model page's value curve), else 0.5."""
    if is_complete(model.business) and reference is not None:
        rows = reference.loc[reference[COL_TRUE].notna()]
        if len(rows):
            curve = value_curve(binary_truth(rows[COL_TRUE], model.positive_label),
                                rows[COL_SCORE].to_numpy(dtype=float), model.business,
                                n_boot=2)
            return curve.best_threshold, ("the best threshold for the business settings on "
                                          "the evaluation rows")
    return 0.5, "the default threshold"


def _recent_windows(production: pd.DataFrame, weekly: bool, max_windows: int
                    ) -> tuple[pd.DataFrame, int]:
    """Only the rows of the ``max_windows`` most recent windows, cut where the monitoring
    report cuts them (``monitoring_rows._cutoff``), and how many rows were left out."""
    times = pd.to_datetime(production[COL_TIME], utc=True)
    keep = (times >= _cutoff(times.max(), weekly, max_windows)).to_numpy()
    if keep.all():
        return production, 0
    return production.loc[keep], int((~keep).sum())


def _unavailable(model, version, threshold, source, why, calibration=None, kind="month"):
    return PerformanceEstimate(model.name, version, threshold, source, calibration, kind,
                               pd.DataFrame(columns=ESTIMATE_COLUMNS),
                               model.business.currency if model.business else "EUR", why)


def estimate_performance(model: Model, reference: pd.DataFrame | None,
                         production: pd.DataFrame, version: int | None,
                         threshold: float | None = None,
                         settings: EstimationSettings = EstimationSettings()
                         ) -> PerformanceEstimate:
    """Estimated ROC AUC, precision, recall and money per month (at ``threshold``; default
    ``chosen_threshold``) of every production window of ``version``, from its scores alone,
    with 95% intervals: the same windows and labels as ``monitoring_report``.

    ``reference``: the version's evaluation rows (labelled), on which calibration is checked
    and, if needed, fitted; ``production``: the monitoring table (rows of other versions are
    left out). No estimate (``unavailable`` says why) for a model that is not yes/no, without
    enough labelled evaluation rows, or without production rows of the version."""
    if threshold is None:
        threshold, source = chosen_threshold(model, reference)
    else:
        threshold, source = float(threshold), "the chosen threshold"
    if model.task != "binary":
        return _unavailable(model, version, threshold, source,
                            "Estimates without labels are made for yes/no models only.")
    if COL_SCORE not in production.columns or (
            reference is not None and COL_SCORE not in reference.columns):
        return _unavailable(model, version, threshold, source,
                            "No estimate without labels: it needs the model's scores "
                            f"({COL_SCORE}) in the evaluation and production rows.")
    ref = None
    if reference is not None:
        ref = reference.loc[reference[COL_TRUE].notna().to_numpy()
                            & np.isfinite(reference[COL_SCORE].to_numpy(dtype=float))]
    if ref is None or len(ref) < settings.min_reference_rows:
        have = 0 if ref is None else len(ref)
        return _unavailable(model, version, threshold, source,
                            f"No estimate without labels: it needs at least "
                            f"{settings.min_reference_rows} labelled evaluation rows to check "
                            f"the scores' calibration, and this version has {have:,}.")
    y_ref = binary_truth(ref[COL_TRUE], model.positive_label)
    if y_ref.min() == y_ref.max():
        return _unavailable(model, version, threshold, source,
                            "No estimate without labels: the evaluation rows hold one outcome "
                            "only, so the scores' calibration cannot be checked.")
    calibration = check_calibration(y_ref, ref[COL_SCORE].to_numpy(dtype=float), settings)
    if version is not None and COL_VERSION in production.columns:
        production = production.loc[(production[COL_VERSION] == version).to_numpy()]
    if production.empty:
        return _unavailable(model, version, threshold, source, "No production rows.",
                            replace(calibration, resampled=()))
    mon = settings.monitoring
    span_days = (production[COL_TIME].max().to_pydatetime()
                 - production[COL_TIME].min().to_pydatetime()).days
    weekly = span_days < mon.weekly_below_days
    production, _ = _recent_windows(production, weekly, mon.max_windows)
    codes, starts = window_codes(production[COL_TIME], weekly)
    score = production[COL_SCORE].to_numpy(dtype=float)
    known = production[COL_TRUE].notna().to_numpy()
    rng = np.random.default_rng(settings.seed)
    rows = []
    for w, start in enumerate(starts):
        mine = codes == w
        s = score[mine]
        s = s[np.isfinite(s)]
        row = {"window": start, "label": window_label(start, weekly), "rows": int(mine.sum()),
               "labelled": int(known[mine].sum()),
               "note": too_few_rows(len(s), settings.min_rows)}
        if not row["note"]:
            row.update(estimate_window(calibration, s, threshold, model.business,
                                       settings, rng))
        rows.append(row)
    windows = pd.DataFrame(rows).reindex(columns=ESTIMATE_COLUMNS)
    # the resampled maps served the intervals; without them the result caches small
    return PerformanceEstimate(model.name, version, threshold, source,
                               replace(calibration, resampled=()),
                               "week" if weekly else "month", windows,
                               model.business.currency if model.business else "EUR")


def model_estimate(deck, name: str, version: int | None = None,
                   threshold: float | None = None):
    """(model, version, estimate) for ``version`` of a model (default: the champion), cached
    until the model's files change; estimate is None without production data. The cached
    source's counterpart of ``estimate_performance``, as ``model_monitoring`` is of
    ``monitoring_report``."""
    model = deck.model(name)
    if version is None:
        champ, _ = champion_of(deck.versions(name).items)
        version = champ.version if champ else None
    t = None if threshold is None else round(float(threshold), 2)

    def compute():
        rows = deck.rows(name)
        if rows is None:
            return None
        if not rows.in_memory:  # never read a large table or an engine's rows into memory
            return _unavailable(model, version, t, "", IN_ENGINE)
        mon = deck.monitoring(name)
        if mon is None:
            return None
        try:
            reference = deck.evaluation(name, version).frame if version is not None else None
        except KeyError:
            reference = None
        return estimate_performance(model, reference, mon.frame, version, t)
    return model, version, deck.memo(("estimate", name, version, t), name, compute)


# ------------------------------------------------------------------ words
#: why a model whose production rows stay in an engine has no estimate yet
IN_ENGINE = ("its production rows are queried where they lie (a large table, Parquet parts or "
             "an engine's table), and the estimate without labels is computed only on rows "
             "read into memory so far")

#: the limit of an estimate from scores, in the one place the page, the report and the
#: docs' reader see it
CONCEPT_SHIFT = ("An estimate from scores assumes that the relation between inputs and outcome "
                 "is the one seen at evaluation: a change in that relation (concept shift) "
                 "does not show in it, only in the labels when they arrive.")


def estimate_caption() -> str:
    """What the estimate on the performance chart is (page and reports)."""
    return ("The dotted line and its band are the value estimated from the model's scores "
            "alone, with its 95% interval: where labels exist both are shown; where they have "
            "not arrived, the estimate is all there is. " + CONCEPT_SHIFT)



def _pct(v: float) -> str:
    return f"{v:.1%}" if np.isfinite(v) else "undefined"


def estimate_headline(est: PerformanceEstimate | None, metric: str = "roc_auc") -> str:
    """The estimate of the latest window without labels in one sentence (``metric``, then
    precision, recall and money at the threshold); '' when there is none."""
    from .business import money
    from .language import format_value
    from .metrics import METRICS

    if est is None or not est.available:
        return ""
    todo = est.unlabelled()
    todo = todo.loc[todo["note"] == ""]
    if not len(todo):
        return ""
    r = todo.iloc[-1]
    name = METRICS[metric].name if metric in METRICS else metric
    text = (f"Estimated from the scores alone for {r['label']} (no labels yet, "
            f"{int(r['rows']):,} rows): {name} {format_value(metric, r[metric])} "
            f"(95% interval {format_value(metric, r[f'{metric}_low'])} to "
            f"{format_value(metric, r[f'{metric}_high'])}); at the threshold "
            f"{est.threshold:.2f} ({est.threshold_source}), precision "
            f"{_pct(r['precision'])} ({_pct(r['precision_low'])} to "
            f"{_pct(r['precision_high'])}) and recall {_pct(r['recall'])} "
            f"({_pct(r['recall_low'])} to {_pct(r['recall_high'])})")
    if np.isfinite(r["money"]):
        text += (f", worth {money(r['money'], est.currency)} per month "
                 f"({money(r['money_low'], est.currency)} to "
                 f"{money(r['money_high'], est.currency)})")
    return text + "."


def estimate_sentences(est: PerformanceEstimate, performance: pd.DataFrame | None = None,
                       metric: str = "roc_auc") -> list[str]:
    """The estimate in a few sentences: ``estimate_headline``, windows too thin to estimate,
    the calibration check, and the limit — said more strongly when the labelled windows
    already show it (``performance``: the monitoring report's, whose measured ``metric``
    falls outside the estimate's interval)."""
    from .metrics import METRICS

    if not est.available:
        return [est.unavailable]
    head = estimate_headline(est, metric)
    out = [head] if head else []
    thin = est.unlabelled().loc[lambda d: d["note"] != ""]
    if len(thin):
        out.append("Not estimated: " + "; ".join(f"{r.label} ({r.note})"
                                                 for r in thin.itertuples()) + ".")
    if est.calibration is not None:
        out.append(est.calibration.sentence(est.version))
    missed = _missed(est, performance, metric)
    name = METRICS[metric].name if metric in METRICS else metric
    if missed and head:
        latest = est.unlabelled().loc[lambda d: d["note"] == "", "label"].iloc[-1]
        out.append(f"In {_join(missed)} the measured {name} fell outside its estimate's "
                   "interval: the relation between inputs and outcome has changed there "
                   "(concept shift), which scores alone cannot see, so the estimate for "
                   f"{latest} may be wrong in the same way.")
    else:
        out.append(CONCEPT_SHIFT)
    return out


def drawn_estimate(est: PerformanceEstimate | None, metric: str) -> pd.DataFrame | None:
    """What the performance chart draws of the estimate (``PerformanceEstimate.series``), or
    None when there is nothing to draw."""
    if est is None or not est.available:
        return None
    series = est.series(metric)
    return series if len(series) else None


def summary_sentences(report, est: PerformanceEstimate | None, unit: str = "") -> list[str]:
    """The monitoring report's sentences (``monitoring_sentences``) followed by the
    estimate's, for windows without labels: what the monitoring page and its report say."""
    from .monitoring import monitoring_sentences
    if est is None or not est.available:
        out = monitoring_sentences(report, unit)
        if est is not None and report.unlabelled_windows:
            out.append(est.unavailable)
        return out
    done = est.unlabelled()
    estimated = tuple(done.loc[done["note"] == "", "label"])
    return monitoring_sentences(report, unit, estimated) + estimate_sentences(
        est, report.performance, report.metric)


def _missed(est: PerformanceEstimate, performance: pd.DataFrame | None,
            metric: str) -> list[str]:
    """The labelled windows since the last one that agreed with its estimate, whose measured
    ``metric`` lies outside the estimate's interval (the most recent run of them)."""
    if performance is None or not len(performance) or metric not in ESTIMATED:
        return []
    both = est.windows.merge(performance.loc[performance["note"] == "", ["label", "value"]],
                             on="label")
    outside = (both["value"] < both[f"{metric}_low"]) | (both["value"] > both[
        f"{metric}_high"])
    run: list[str] = []
    for label, out in zip(both["label"], outside):
        run = run + [label] if out else []
    return run


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
