"""The estimate without labels (``analysis.estimation``) on production rows an engine keeps.

The engine returns, per window, how many rows have each distinct score (one pass over every
row, labelled or not: the per-score counts ROC AUC is computed from, without the label
filter). A window's scores are then those distinct scores repeated by their counts — the very
values ``estimate_performance`` reads from a table in memory, so the estimate, its interval
and its words are the same — one window at a time: a column of numbers that is dropped when
the window is done (at 100 million rows a quarter, about 8 million numbers, 64 MB).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from registry.model import COL_SCORE, Model
from registry.rows import Rows

from . import queries as q
from .estimation import (
    EstimationSettings, PerformanceEstimate, _unavailable, estimate_of_windows, estimate_setup,
    window_estimate,
)
from .monitoring_rows import _cutoff


def estimate_from_rows(model: Model, reference: pd.DataFrame | None, production: Rows,
                       version: int | None, threshold: float | None = None,
                       settings: EstimationSettings = EstimationSettings()
                       ) -> PerformanceEstimate:
    """``analysis.estimation.estimate_performance`` on production rows held by an engine."""
    setup = estimate_setup(model, reference, production.has(COL_SCORE), version, threshold,
                           settings)
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
    counts, _ = days.windows(win.starts)
    per_score = q.window_score_counts(win, production)
    by_window = dict(tuple(per_score.groupby(q.COL_WINDOW))) if len(per_score) else {}
    rng = np.random.default_rng(settings.seed)
    rows = []
    for r in counts.itertuples():
        part = by_window.get(r.window, per_score.iloc[:0])
        score = np.repeat(part["score"].to_numpy(dtype=float), part["n"].to_numpy(np.int64))
        rows.append(window_estimate(model, calibration, r.window, weekly, int(r.rows),
                                    int(r.labelled), score, threshold, settings, rng))
        del score
    return estimate_of_windows(model, version, threshold, source, calibration, weekly, rows)
