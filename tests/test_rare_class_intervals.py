"""Intervals of large yes/no tables whose positives are rare: the spread is scaled from a
subsample (or from an engine's sample) that must hold enough positives to show it. Checked
against the sampling spread the binormal scores' distribution gives (worked out here from the
distribution, not from the code) and against the plain bootstrap on all rows."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from scipy.stats import norm

from analysis.language import interval_text
from analysis.uncertainty import (
    CLASS_ROWS, MIN_CLASS_ROWS, BootstrapSettings, _distributions, _plan, _truth,
    bootstrap_intervals, paired_differences, point_estimates, prepare, prepare_binary,
)
from registry.model import Model

MODEL = Model(name="rare", task="binary")
MU = float(np.sqrt(2) * norm.ppf(0.80))  # positives' logits N(MU, 1), negatives' N(0, 1)
SHIFT = MU - 0.5  # scores expit(logit - SHIFT): recall at 0.5 is Phi(0.5)
Z = 2 * norm.ppf(0.975)  # a 95% interval's width in standard deviations
FAST = BootstrapSettings(n_boot=400)


def rows(n: int, positives: int, seed: int) -> pd.DataFrame:
    """n rows of which exactly ``positives`` are positive, in random order."""
    rng = np.random.default_rng(seed)
    y = np.zeros(n)
    y[rng.choice(n, positives, replace=False)] = 1.0
    x = rng.normal(size=n) + MU * y
    return pd.DataFrame({"y_true": y, "y_score": expit(x - SHIFT)})


def true_widths(n1: float, n0: float) -> dict[str, float]:
    """The width of a 95% interval for the metric's spread between test sets of n1 positives
    and n0 negatives, from the distribution. ROC AUC: the positives' placements Phi(X), X ~
    N(MU, 1), and the negatives' (the same distribution by symmetry) each add their variance
    over their count. Recall and precision at 0.5: counts of a multinomial."""
    x = np.linspace(MU - 10, MU + 10, 40_001)
    dens = norm.pdf(x - MU) * (x[1] - x[0])
    auc = float(np.sum(norm.cdf(x) * dens))
    v = float(np.sum(norm.cdf(x) ** 2 * dens)) - auc ** 2
    recall, fpr = norm.cdf(0.5), norm.sf(SHIFT)
    tp, fp = n1 * recall, n0 * fpr
    prec = tp / (tp + fp)
    return {"roc_auc": Z * np.sqrt(v * (1 / n1 + 1 / n0)),
            "recall": Z * np.sqrt(recall * (1 - recall) / n1),
            "precision": Z * prec * (1 - prec) * np.sqrt(1 / tp + 1 / fp)}


def full_bootstrap_widths(frame: pd.DataFrame, metrics: tuple[str, ...]) -> dict[str, float]:
    """The plain bootstrap on every row, a few resamples at a time to bound memory."""
    prepared = prepare_binary(frame["y_true"].to_numpy(), frame["y_score"].to_numpy())
    settings = BootstrapSettings(n_boot=400, chunk=max(1, 1_000_000 // len(frame)))
    d = _distributions([prepared], settings, np.random.default_rng(5), frozenset(metrics))[0]
    return {k: float(np.subtract(*np.nanquantile(d[k], [0.975, 0.025]))) for k in metrics}


def width(ci) -> float:
    return ci.high - ci.low


def test_an_engine_sample_with_one_positive_per_thousand_rows_is_not_falsely_certain():
    """60,000 rows standing for 10,000,000 with 1 positive per 1,000 rows: 60 positives here,
    10,000 in all. The uniform 5,000-row subsample held about 5 of them, and its scaled ROC AUC
    interval was as narrow as 0.7997 to 0.8003 for some seeds."""
    frame = rows(60_000, 60, seed=1)
    population = 10_000_000
    truth = true_widths(population * 0.001, population * 0.999)
    for seed in range(6):
        ci = bootstrap_intervals(MODEL, frame, settings=BootstrapSettings(n_boot=400, seed=seed),
                                 metrics=tuple(truth), population=population)
        for k, t in truth.items():
            assert ci[k].low < ci[k].value < ci[k].high, (seed, k)
            assert 0.5 < width(ci[k]) / t < 2.0, (seed, k, width(ci[k]), t)
    # average precision's spread is not told by 60 positives (under half the truth for 15-20%
    # of such samples): no interval for it, until the sample holds CLASS_ROWS positives
    ap = bootstrap_intervals(MODEL, frame, settings=FAST, metrics=("average_precision",),
                             population=population)["average_precision"]
    assert np.isfinite(ap.value) and np.isnan(ap.low) and np.isnan(ap.high)
    richer = rows(60_000, CLASS_ROWS, seed=1)
    ap = bootstrap_intervals(MODEL, richer, settings=FAST, metrics=("average_precision",),
                             population=population)["average_precision"]
    assert ap.low < ap.value < ap.high


def test_a_large_table_in_memory_with_rare_positives_matches_the_full_bootstrap():
    """120,000 rows, 0.25% positives (300): a uniform 5,000-row subsample would hold about
    12 of them."""
    frame = rows(120_000, 300, seed=2)
    metrics = ("roc_auc", "recall", "precision", "log_loss", "brier")
    full = full_bootstrap_widths(frame, metrics)
    truth = true_widths(300, 119_700)
    for seed in range(4):
        ci = bootstrap_intervals(MODEL, frame, settings=BootstrapSettings(n_boot=400, seed=seed),
                                 metrics=metrics)
        for k in metrics:
            assert 0.67 < width(ci[k]) / full[k] < 1.5, (seed, k, width(ci[k]), full[k])
            if k in truth:
                assert 0.5 < width(ci[k]) / truth[k] < 2.0, (seed, k)


def test_point_values_are_those_of_all_rows():
    frame = rows(120_000, 300, seed=3)
    ci = bootstrap_intervals(MODEL, frame, settings=FAST)
    exact = point_estimates(MODEL, prepare_binary(frame["y_true"].to_numpy(),
                                                  frame["y_score"].to_numpy()))
    assert {k: c.value for k, c in ci.items()} == exact


def test_a_balanced_large_table_keeps_its_uniform_subsample():
    """30% positives: the uniform subsample holds about 1,500, nothing changes."""
    frame = rows(40_000, 12_000, seed=4)
    plan = _plan(len(frame), lambda: _truth(MODEL, frame), None, FAST,
                 np.random.default_rng(0))
    assert plan.design is None and len(plan.rows) == FAST.max_rows
    assert plan.scale == pytest.approx(np.sqrt(5_000 / 40_000))
    metrics = ("roc_auc", "recall", "log_loss")
    ci = bootstrap_intervals(MODEL, frame, settings=FAST, metrics=metrics)
    full = full_bootstrap_widths(frame, metrics)
    for k in metrics:
        assert 0.8 < width(ci[k]) / full[k] < 1.25, k


def test_a_sample_with_too_few_positives_for_its_population_gives_no_interval():
    """50,000 rows with 20 positives standing for 10,000,000: the spread of the 4,000
    positives it stands for cannot be told from 20. No interval, rather than a narrow one."""
    frame = rows(50_000, 20, seed=5)
    assert 20 < MIN_CLASS_ROWS
    ci = bootstrap_intervals(MODEL, frame, settings=FAST, population=10_000_000)
    for k, c in ci.items():
        assert np.isfinite(c.value) and np.isnan(c.low) and np.isnan(c.high), k
    assert interval_text("roc_auc", ci["roc_auc"].low, ci["roc_auc"].high) \
        == "no interval (too few rows)"
    other = frame.assign(y_score=expit(np.log(frame["y_score"] / (1 - frame["y_score"])) + 0.1))
    d = paired_differences(MODEL, frame, other, settings=FAST, population=10_000_000)
    assert d and all(np.isnan(x.low) and np.isnan(x.high) for x in d.values())
    # the same rows in memory are all there is: their own bootstrap, every positive in it
    mem = bootstrap_intervals(MODEL, frame, settings=FAST, metrics=("roc_auc",))["roc_auc"]
    assert mem.low < mem.value < mem.high


def test_paired_differences_use_the_same_rows_and_match_the_full_paired_bootstrap():
    frame = rows(80_000, 200, seed=6)
    rng = np.random.default_rng(7)
    logit = np.log(frame["y_score"] / (1 - frame["y_score"]))
    other = frame.assign(y_score=expit(logit + 0.3 * rng.normal(size=len(frame))))
    metrics = ("roc_auc", "recall", "brier")
    same = paired_differences(MODEL, frame, frame.copy(), settings=FAST, metrics=metrics)
    assert len(same) == 3
    assert all(d.delta == 0 and d.low == 0 and d.high == 0 for d in same.values())
    d = paired_differences(MODEL, frame, other, settings=FAST, metrics=metrics)
    pa, pb = (prepare_binary(f["y_true"].to_numpy(), f["y_score"].to_numpy())
              for f in (frame, other))
    settings = BootstrapSettings(n_boot=300, chunk=12)
    da, db = _distributions([pa, pb], settings, np.random.default_rng(5), frozenset(metrics))
    for k in metrics:
        full = float(np.subtract(*np.quantile(db[k] - da[k], [0.975, 0.025])))
        assert 0.67 < (d[k].high - d[k].low) / full < 1.5, (k, d[k], full)


def test_a_sample_drawn_per_class_is_scaled_class_by_class():
    """An engine may draw its sample per class: 2,000 of the 10,000 positives and 48,000 of
    the 9,990,000 negatives. Each class is scaled to its own rows, from the population's
    values (here from the distribution)."""
    rng = np.random.default_rng(8)
    y = np.r_[np.ones(2_000), np.zeros(48_000)]
    x = rng.normal(size=len(y)) + MU * y
    frame = pd.DataFrame({"y_true": y, "y_score": expit(x - SHIFT)})
    n1, n0 = 10_000, 9_990_000
    recall, fpr = norm.cdf(0.5), norm.sf(SHIFT)
    point = {"roc_auc": float(norm.cdf(MU / np.sqrt(2))), "recall": float(recall),
             "precision": float(n1 * recall / (n1 * recall + n0 * fpr))}
    truth = true_widths(n1, n0)
    with pytest.raises(ValueError):
        bootstrap_intervals(MODEL, frame, population=n1 + n0, population_positives=n1)
    for seed in range(3):
        ci = bootstrap_intervals(MODEL, frame, settings=BootstrapSettings(n_boot=400, seed=seed),
                                 metrics=tuple(point), point=point, population=n1 + n0,
                                 population_positives=n1)
        for k, t in truth.items():
            assert ci[k].value == point[k] and ci[k].low < ci[k].value < ci[k].high, (seed, k)
            assert 0.75 < width(ci[k]) / t < 1.33, (seed, k, width(ci[k]), t)
    # read as a uniform sample, its 4% positives would stand for 400,000: far too narrow
    uniform = bootstrap_intervals(MODEL, frame, settings=FAST, metrics=("roc_auc",),
                                  point=point, population=n1 + n0)["roc_auc"]
    assert width(uniform) / truth["roc_auc"] < 0.5
    d = paired_differences(MODEL, frame, frame.copy(), settings=FAST, metrics=tuple(point),
                           points=(point, point), population=n1 + n0, population_positives=n1)
    assert all(v.delta == 0 and v.low == 0 and v.high == 0 for v in d.values())


def test_a_rare_class_of_a_multiclass_table_is_represented():
    """200,000 rows, one of three classes 0.05% of them (about 100): a uniform 5,000 would hold
    2 or 3, and macro F1 weighs that class as much as the others (its width was a quarter of
    the full bootstrap's for two of these four seeds)."""
    rng = np.random.default_rng(9)
    n = 200_000
    y = rng.choice(3, size=n, p=[0.6, 0.3995, 0.0005])
    pred = np.where(rng.random(n) < 0.75, y, rng.choice(3, size=n, p=[0.5, 0.45, 0.05]))
    frame = pd.DataFrame({"y_true": y.astype(str), "y_pred": pred.astype(str)})
    model = Model(name="three", task="multiclass")
    d = _distributions([prepare(model, frame)], BootstrapSettings(n_boot=200, chunk=10),
                       np.random.default_rng(5), frozenset({"f1_macro"}))[0]["f1_macro"]
    full = float(np.subtract(*np.quantile(d, [0.975, 0.025])))
    for seed in range(4):
        ci = bootstrap_intervals(model, frame, settings=BootstrapSettings(n_boot=400, seed=seed),
                                 metrics=("f1_macro",))["f1_macro"]
        assert 0.67 < width(ci) / full < 1.5, (seed, width(ci), full)


def test_a_comparison_without_intervals_gives_no_verdict():
    """When the paired intervals cannot be worked out (too few of one outcome in the sample),
    the verdict says so instead of "no significant difference"."""
    from analysis.compare import Comparison, verdict
    from analysis.uncertainty import Difference
    from registry.model import Model
    model = Model(name="m", task="binary")
    nan = float("nan")
    diffs = {k: Difference(k, 0.7, 0.75, 0.05, nan, nan)
             for k in ("roc_auc", "recall", "precision")}
    text = verdict(model, Comparison("m", 1, 2, 0.5, 10_000_000, diffs, None))
    assert "no verdict" in text and "too few of one outcome" in text
    assert "No significant difference" not in text and "cannot be told apart" not in text
    assert "recall or precision changed" in text
