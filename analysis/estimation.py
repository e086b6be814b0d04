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

**Calibration** is checked, and a map fitted when the scores are not calibrated, by
``analysis.calibration``; the model's own scores still decide the ranking and which rows are
flagged.

**Interval**: 95%, from resamples that each take the map refitted on a bootstrap resample of
the evaluation rows and draw every row's outcome from the probability it gives (a parametric
bootstrap over the window's rows). It is where the *realised* value will fall once the labels
of these rows arrive: the outcomes are what is unknown, and the map rests on a finite
evaluation set.

**What it cannot see.** The estimate assumes that the relation between inputs and outcome is
the one seen at evaluation. It follows a change in *who* is scored (covariate shift); a change
in how the outcome depends on the inputs (concept shift) leaves the scores unchanged and is
invisible here — only labels show it. The estimate in words: ``analysis.estimate_sentences``.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from registry.model import COL_SCORE, COL_TIME, COL_TRUE, COL_VERSION, Model, champion_of
from registry.rows import Rows

from . import evaluation_rows as er
from .business import is_complete, model_value_curve, monthly_value, value_curve
from .calibration import Calibration, CalibrationSettings, check_calibration
from .metrics import binary_truth
from .monitoring_types import MonitoringSettings, window_codes, window_label
from . import queries as q
from .monitoring_rows import _cutoff
from .reads import evaluation_frame, production_rows, production_table
from .uncertainty import (
    MIN_JUDGE_ROWS, BootstrapSettings, _interval, _subsample, prepare_binary, too_few_rows,
)

#: the estimated quantities, in the order of ``ESTIMATE_COLUMNS``; "money" is per month
ESTIMATED = ("roc_auc", "precision", "recall", "money")

ESTIMATE_COLUMNS = (["window", "label", "rows", "labelled"]
                    + [f"{k}{s}" for k in ESTIMATED for s in ("", "_low", "_high")]
                    + ["tp", "fp", "fn", "tn", "note"])


@dataclass(frozen=True)
class EstimationSettings(CalibrationSettings):
    """The calibration check's settings (``CalibrationSettings``) and the windows'."""

    #: resamples of each window's rows (outcomes drawn from the calibrated scores in each):
    #: 200, as the monitoring page's intervals and as the coverage simulation validated
    bootstrap: BootstrapSettings = BootstrapSettings(n_boot=200, max_rows=5_000, chunk=100)
    #: windows as on the monitoring page (the same labels)
    monitoring: MonitoringSettings = MonitoringSettings()
    min_reference_rows: int = 200  # labelled evaluation rows needed to check calibration
    min_rows: int = MIN_JUDGE_ROWS  # production rows a window needs for an estimate


# ------------------------------------------------------------------ one window
def estimate_window(calibration: Calibration, score: np.ndarray, threshold: float,
                    business=None, settings: EstimationSettings = EstimationSettings(),
                    rng: np.random.Generator | None = None,
                    counts: np.ndarray | None = None) -> dict[str, float]:
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
    # ``counts``: ``score`` holds distinct scores, ascending, and how many rows have each
    # (rows an engine keeps): the same numbers as the rows themselves, without them
    if counts is None:
        s = np.sort(np.asarray(score, dtype=float))  # the rows in score order (as the metric
        weight = np.ones(len(s))  # code wants them); which row is which does not matter
    else:
        s, weight = np.asarray(score, dtype=float), np.asarray(counts, dtype=float)
    p = calibration.apply(s)
    rng = rng if rng is not None else np.random.default_rng(settings.seed)
    n = int(weight.sum())
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

    def expected(p: np.ndarray, s: np.ndarray, w: np.ndarray) -> dict[str, float]:
        """Expected values: each row once (``w`` rows of each score), with outcome ``p``
        (the metric code takes a fractional outcome as that weight of positive and the rest
        of negative)."""
        got = prepare_binary(p, s, threshold).stats(w[None, :], wanted)
        return {k: float(v[0]) for k, v in quantities(got, (w * p)[None, :],
                                                       (w * (1 - p))[None, :], s).items()}

    point = expected(p, s, weight)
    keys = [k for k in ESTIMATED if k in point]
    out = dict(point)
    if n < 2:
        out.update({f"{k}_{b}": np.nan for k in keys for b in ("low", "high")})
        return out
    boot = settings.bootstrap
    rows, scale = _subsample(n, boot, rng)
    if counts is not None:  # row i of the sorted rows has the score where i falls
        at = np.searchsorted(np.cumsum(weight), np.arange(n) if rows is None else rows,
                             side="right")
        ps, ss = p[at], s[at]
    else:
        ps, ss = (p, s) if rows is None else (p[rows], s[rows])  # rows: sorted, so ss is too
    # a large window: its subsample's own expected values are the centre of the spread
    centre = point if rows is None else expected(ps, ss, np.ones(len(ss)))
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


def chosen_threshold(model: Model, reference: pd.DataFrame | None,
                     curve=None) -> tuple[float, str]:
    """The threshold an estimate uses when none is asked for: the best one for the model's
    business settings on its evaluation rows (as the model page's value curve; ``curve``:
    that curve when the caller has it, e.g. from an engine's counts), else 0.5."""
    if is_complete(model.business) and curve is None and reference is not None:
        rows = reference.loc[reference[COL_TRUE].notna()]
        if len(rows):
            curve = value_curve(binary_truth(rows[COL_TRUE], model.positive_label),
                                rows[COL_SCORE].to_numpy(dtype=float), model.business,
                                n_boot=2)
    if is_complete(model.business) and curve is not None:
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
                         settings: EstimationSettings = EstimationSettings(),
                         curve=None) -> PerformanceEstimate:
    """Estimated ROC AUC, precision, recall and money per month (at ``threshold``; default
    ``chosen_threshold``) of every production window of ``version``, from its scores alone,
    with 95% intervals: the same windows and labels as ``monitoring_report``.

    ``reference``: the version's evaluation rows (labelled), on which calibration is checked
    and, if needed, fitted (``curve``: the version's value curve on all of them, when
    ``reference`` is a sample of its rows); ``production``: the monitoring table (rows of
    other versions are left out). No estimate (``unavailable`` says why) for a model that
    is not yes/no, without enough labelled evaluation rows, or without production rows of
    the version."""
    setup = estimate_setup(model, reference, COL_SCORE in production.columns, version,
                           threshold, settings, curve)
    if isinstance(setup, PerformanceEstimate):
        return setup
    threshold, source, calibration = setup
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
        rows.append(window_estimate(model, calibration, start, weekly, int(mine.sum()),
                                    int(known[mine].sum()), s[np.isfinite(s)], threshold,
                                    settings, rng))
    return estimate_of_windows(model, version, threshold, source, calibration, weekly, rows)


def window_estimate(model: Model, calibration: "Calibration", start, weekly: bool, rows: int,
                    labelled: int, score: np.ndarray, threshold: float,
                    settings: EstimationSettings, rng: np.random.Generator,
                    counts: np.ndarray | None = None) -> dict:
    """One window's row of ``PerformanceEstimate.windows`` (``score``: its finite scores, or
    with ``counts`` its distinct scores, ascending, and how many rows have each)."""
    scored = len(score) if counts is None else int(np.sum(counts))
    row = {"window": start, "label": window_label(start, weekly), "rows": rows,
           "labelled": labelled, "note": too_few_rows(scored, settings.min_rows)}
    if not row["note"]:
        row.update(estimate_window(calibration, score, threshold, model.business, settings,
                                   rng, counts))
    return row


def estimate_of_windows(model: Model, version, threshold: float, source: str,
                        calibration: "Calibration", weekly: bool, rows: list[dict]
                        ) -> "PerformanceEstimate":
    windows = pd.DataFrame(rows).reindex(columns=ESTIMATE_COLUMNS)
    # the resampled maps served the intervals; without them the result caches small
    return PerformanceEstimate(model.name, version, threshold, source,
                               replace(calibration, resampled=()),
                               "week" if weekly else "month", windows,
                               model.business.currency if model.business else "EUR")


def estimate_setup(model: Model, reference: pd.DataFrame | None, has_scores: bool,
                   version: int | None, threshold: float | None,
                   settings: EstimationSettings, curve=None):
    """(threshold, where it comes from, the scores' calibration) for an estimate of
    ``version``, or the ``PerformanceEstimate`` saying why there can be none (not a yes/no
    model, no scores, too few labelled evaluation rows, one outcome only)."""
    if threshold is None:
        threshold, source = chosen_threshold(model, reference, curve)
    else:
        threshold, source = float(threshold), "the chosen threshold"
    if model.task != "binary":
        return _unavailable(model, version, threshold, source,
                            "Estimates without labels are made for yes/no models only.")
    if not has_scores or (reference is not None and COL_SCORE not in reference.columns):
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
    return threshold, source, calibration


# ------------------------------------------------------------------ rows in an engine
def estimate_from_rows(model: Model, reference: pd.DataFrame | None, production: Rows,
                       version: int | None, threshold: float | None = None,
                       settings: EstimationSettings = EstimationSettings(),
                       curve=None) -> PerformanceEstimate:
    """``estimate_performance`` on production rows an engine keeps. The engine returns, per
    window, how many rows have each distinct score (one pass over every row, labelled or
    not), and ``estimate_window`` works on those counts as on the rows they stand for: the
    same estimate, interval and words as ``estimate_performance`` on the table in memory
    (tested on DuckDB and Spark), without the rows."""
    setup = estimate_setup(model, reference, production.has(COL_SCORE), version, threshold,
                           settings, curve)
    if isinstance(setup, PerformanceEstimate):
        return setup
    threshold, source, calibration = setup
    days = q.day_counts(production, version)
    span = days.span
    if span.rows == 0:
        return _unavailable(model, version, threshold, source, "No production rows.",
                            replace(calibration, resampled=()))
    mon = settings.monitoring
    weekly = (span.last.to_pydatetime() - span.first.to_pydatetime()).days \
        < mon.weekly_below_days
    cutoff = _cutoff(span.last, weekly, mon.max_windows)
    win = q.windowed(production, version, weekly, span, cutoff if cutoff > span.first else None)
    if weekly and days.monthly:  # the check counted per month: weeks need the days
        days = q.day_counts(production, version, per_day=True)
    counts, _ = days.windows(win.starts)
    per_score = q.window_score_counts(win, production)
    by_window = dict(tuple(per_score.groupby(q.COL_WINDOW))) if len(per_score) else {}
    rng = np.random.default_rng(settings.seed)
    rows = []
    for r in counts.itertuples():
        part = by_window.get(r.window, per_score.iloc[:0]).sort_values("score")
        rows.append(window_estimate(model, calibration, r.window, weekly, int(r.rows),
                                    int(r.labelled), part["score"].to_numpy(dtype=float),
                                    threshold, settings, rng,
                                    part["n"].to_numpy(dtype=np.int64)))
    return estimate_of_windows(model, version, threshold, source, calibration, weekly, rows)


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
        rows = production_rows(deck, name)
        if rows is None:
            return None
        m, reference, curve, summary = model, None, None, None
        try:
            summary = er.evaluation_summary(deck, name, version) if version is not None \
                else None
            if summary is not None:  # an engine keeps them: a random sample of its rows
                # (their positive class is 1), the value curve from its counts
                m, reference = q.sample_model(model), er.uniform_sample(summary)
                if is_complete(model.business):
                    curve = model_value_curve(deck, name, version, model.business)
            elif version is not None:
                reference = evaluation_frame(deck, name, version)
        except KeyError:
            reference = None
        if not rows.in_memory:  # never read a large table or an engine's rows into memory
            est = estimate_from_rows(m, reference, rows, version, t, curve=curve)
        else:
            mon = production_table(deck, name)
            if mon is None:
                return None
            est = estimate_performance(m, reference, mon.frame, version, t, curve=curve)
        cal = est.calibration
        if summary is not None and cal is not None and summary.rows > cal.rows:
            # checked on the engine's random sample: say so, and how many rows there are
            est = replace(est, calibration=replace(cal, rows=summary.rows,
                                                   checked_on=cal.checked_on or cal.rows))
        return est
    return model, version, deck.memo(("estimate", name, version, t), name, compute)


def drawn_estimate(est: PerformanceEstimate | None, metric: str) -> pd.DataFrame | None:
    """What the performance chart draws of the estimate (``PerformanceEstimate.series``), or
    None when there is nothing to draw."""
    if est is None or not est.available:
        return None
    series = est.series(metric)
    return series if len(series) else None
