"""Whether a yes/no model's scores are calibrated, and the map that makes them so: the first
step of an estimate without labels (``analysis.estimation``).

Scores are calibrated when among rows scored 0.3 about 30% turn out positive. This is checked
on the version's evaluation rows (expected calibration error on ten equal-count bins, against
what chance gives when the scores *are* calibrated: labels drawn from the scores themselves).
When the scores are not calibrated, a map is fitted on the evaluation rows — Platt scaling (a
logistic regression on the score's log-odds) or isotonic regression (centred: straight between
the middles of its steps), whichever predicts the outcomes better out of fold; Platt only
below ``isotonic_min_rows`` rows — and a row's probability of a positive is its mapped
score. The model's own scores still decide the ranking and which rows are flagged.

The map is refitted on bootstrap resamples of the evaluation rows too
(``Calibration.resampled``): the interval of an estimate then includes the uncertainty of the
map itself.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.special import expit, logit
from sklearn.isotonic import IsotonicRegression, isotonic_regression
from sklearn.linear_model import LogisticRegression


@dataclass(frozen=True)
class CalibrationSettings:
    calibration_bins: int = 10  # equal-count bins of the expected calibration error
    calibration_draws: int = 200  # label draws of the "calibrated by chance" reference
    calibration_level: float = 0.95  # ECE above this quantile of chance: not calibrated
    #: maps refitted on resamples of the evaluation rows: the interval of an estimate
    #: includes the uncertainty of the map itself
    calibration_maps: int = 100
    #: isotonic regression overfits on fewer rows (scikit-learn's calibration guide says
    #: "fewer than about 1,000"): Platt scaling below; from this many rows, the one of the
    #: two that predicts the outcomes better out of fold
    isotonic_min_rows: int = 1_000
    #: more labelled evaluation rows than this: the check and the maps work on a seeded
    #: uniform random sample of this many (the chance reference alone draws
    #: ``calibration_draws`` × rows labels: 16 GB at 10,000,000 rows)
    max_rows: int = 50_000
    seed: int = 0


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
    #: rows the check worked on: all ``rows``, or a random sample of them (0: all)
    checked_on: int = 0

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
        rows = f"{self.rows:,} evaluation rows" if not self.checked_on else \
            f"{self.rows:,} evaluation rows (checked on a random {self.checked_on:,} of them)"
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
                      settings: CalibrationSettings = CalibrationSettings()) -> Calibration:
    """Whether ``score`` is calibrated on labelled rows (``y`` 0/1), and, when it is not,
    the map (isotonic or Platt, fitted on these rows) that makes it so."""
    y = np.asarray(y, dtype=float)
    s = np.asarray(score, dtype=float)
    if len(y) > settings.max_rows:  # a uniform random sample, seeded: memory stays bounded
        keep = np.sort(np.random.default_rng(settings.seed).choice(
            len(y), settings.max_rows, replace=False))
        cal = check_calibration(y[keep], s[keep], settings)
        return replace(cal, rows=len(y), checked_on=settings.max_rows,
                       resampled=tuple(replace(m, rows=len(y), checked_on=settings.max_rows)
                                       for m in cal.resampled))
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
                              settings: CalibrationSettings) -> bool:
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
