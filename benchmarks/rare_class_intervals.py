"""How honest are the bootstrap intervals of a large table when one class is rare?

Synthetic yes/no rows with rare positives: binormal scores with a known ROC AUC of 0.80
(negatives' score logits N(0, 1), positives' N(mu, 1)). Two kinds of score: ``ranked``
(logit shifted so that about 69% of positives score 0.5 or more, which makes recall and
precision at 0.5 meaningful) and ``calibrated`` (the true probability of a positive, so that
log loss and Brier are those of a calibrated model). For each metric it compares the width of
the 95% interval ``analysis.uncertainty.bootstrap_intervals`` gives with

* **truth**: 3.92 × the standard deviation of the metric over many independent test sets of
  the same size drawn from the same distribution (for a population too large to simulate, the
  deviation at a smaller size scaled by sqrt(size / population), as the metrics are averages);
* **full**: the plain bootstrap on all the table's rows (400 resamples, memory bounded by
  resampling a few at a time).

Cases: ``memory`` (200,000 rows, 0.2% positives, bootstrapped in memory); ``engine`` (a uniform
sample of 50,000 rows standing for 10,000,000 rows with 0.1% positives); ``k`` (how noisy the
scaled interval of a frame holding about k positives is, for several k: the frames are
uniform samples of 50,000 rows standing for 10,000,000). Each line gives, over ``--seeds`` frames or
seeds, the median ratio of the interval's width to the truth and its 10th and 90th
percentiles, and how often the width was under half the truth.

    .venv/bin/python benchmarks/rare_class_intervals.py [--case memory,engine,k] [--seeds 20]

``MODELDECK_BENCH_CODE=/path/to/older/checkout`` measures that code's intervals.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit
from scipy.stats import norm

sys.path.insert(0, os.environ.get("MODELDECK_BENCH_CODE",
                                  str(Path(__file__).resolve().parents[1])))

from analysis.uncertainty import (  # noqa: E402
    BootstrapSettings, _distributions, bootstrap_intervals, point_estimates, prepare_binary,
)
from registry.model import Model  # noqa: E402

MU = float(np.sqrt(2) * norm.ppf(0.80))  # binormal, equal variances: ROC AUC 0.80
MODEL = Model(name="simulated", task="binary")
METRICS = ("roc_auc", "average_precision", "recall", "precision", "log_loss", "brier")
Z = 2 * norm.ppf(0.975)


def draw(n: int, pi: float, rng: np.random.Generator, kind: str) -> tuple[np.ndarray, ...]:
    y = (rng.random(n) < pi).astype(float)
    x = rng.normal(size=n) + MU * y
    if kind == "calibrated":
        s = expit(np.log(pi / (1 - pi)) + MU * x - MU ** 2 / 2)
    else:
        s = expit(x - (MU - 0.5))
    return y, s


def frame_of(y, s) -> pd.DataFrame:
    return pd.DataFrame({"y_true": y, "y_score": s})


def truth_width(n: int, pi: float, kind: str, reps: int, population: int | None = None,
                seed: int = 1) -> dict[str, float]:
    """3.92 × the metric's standard deviation over ``reps`` independent test sets of n rows,
    scaled to ``population`` rows."""
    rng = np.random.default_rng(seed)
    vals = {k: [] for k in METRICS}
    for _ in range(reps):
        y, s = draw(n, pi, rng, kind)
        p = point_estimates(MODEL, prepare_binary(y, s), frozenset(METRICS))
        for k in METRICS:
            vals[k].append(p.get(k, np.nan))
    scale = np.sqrt(n / population) if population else 1.0
    return {k: Z * float(np.nanstd(v, ddof=1)) * scale for k, v in vals.items()}


def full_width(y, s, n_boot: int = 400) -> dict[str, float]:
    settings = BootstrapSettings(n_boot=n_boot, chunk=max(1, 1_000_000 // len(y)))
    d = _distributions([prepare_binary(y, s)], settings, np.random.default_rng(0),
                       frozenset(METRICS))[0]
    return {k: float(np.subtract(*np.nanquantile(d[k], [0.975, 0.025]))) for k in METRICS}


def widths(frame: pd.DataFrame, seed: int, population: int | None = None) -> dict[str, float]:
    ci = bootstrap_intervals(MODEL, frame, settings=BootstrapSettings(seed=seed),
                             metrics=METRICS, population=population)
    return {k: ci[k].high - ci[k].low for k in METRICS if k in ci}


def summary(name: str, got: list[dict], truth: dict, full: dict | None = None) -> None:
    for k in METRICS:
        w = np.array([g.get(k, np.nan) for g in got])
        r = w / truth[k]
        shown = np.isfinite(r)
        line = (f"{name:28s} {k:18s} truth {truth[k]:.5f}"
                + (f"  full/truth {full[k] / truth[k]:5.2f}" if full else "")
                + f"  width/truth median {np.nanmedian(r) if shown.any() else np.nan:5.2f}"
                f" p10 {np.nanquantile(r, .1) if shown.any() else np.nan:5.2f}"
                f" p90 {np.nanquantile(r, .9) if shown.any() else np.nan:5.2f}"
                f"  <0.5x {np.mean(r[shown] < 0.5) if shown.any() else np.nan:4.0%}"
                f"  no interval {np.mean(~shown):4.0%}")
        print(line, flush=True)


def case_memory(seeds: int, reps: int) -> None:
    n, pi = 200_000, 0.002
    for kind in ("ranked", "calibrated"):
        truth = truth_width(n, pi, kind, reps)
        rng = np.random.default_rng(100)
        y, s = draw(n, pi, rng, kind)
        full = full_width(y, s)
        t0 = time.perf_counter()
        got = [widths(frame_of(y, s), seed) for seed in range(seeds)]
        print(f"# memory {kind}: {int(y.sum())} positives in {n:,} rows; "
              f"{(time.perf_counter() - t0) / seeds:.2f} s per call", flush=True)
        summary(f"memory {kind}", got, truth, full)


def case_engine(seeds: int, reps: int) -> None:
    population, n, pi = 10_000_000, 50_000, 0.001
    for kind in ("ranked", "calibrated"):
        truth = truth_width(1_000_000, pi, kind, max(reps // 2, 20), population)
        rng = np.random.default_rng(200)
        got = []
        for seed in range(seeds):
            y, s = draw(n, pi, rng, kind)
            got.append(widths(frame_of(y, s), seed, population))
        print(f"# engine {kind}: samples of {n:,} rows (~{n * pi:.0f} positives) for "
              f"{population:,}", flush=True)
        summary(f"engine {kind}", got, truth)


def case_k(seeds: int, reps: int) -> None:
    """Engine-like samples of 50,000 rows with about k positives, standing for 10,000,000."""
    population, n = 10_000_000, 50_000
    for kind in ("ranked", "calibrated"):
        for k in (10, 20, 30, 50, 100, 200):
            pi = k / n
            truth = truth_width(500_000, pi, kind, reps, population)
            rng = np.random.default_rng(300 + k)
            got = []
            for seed in range(seeds):
                y, s = draw(n, pi, rng, kind)
                got.append(widths(frame_of(y, s), seed, population))
            summary(f"k={k:<4d} {kind}", got, truth)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", default="memory,engine,k")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--reps", type=int, default=100, help="independent test sets for truth")
    ap.add_argument("--min-class-rows", type=int, default=None,
                    help="measure with another floor (analysis.uncertainty.MIN_CLASS_ROWS)")
    a = ap.parse_args()
    if a.min_class_rows is not None:
        import analysis.uncertainty as u
        u.MIN_CLASS_ROWS = a.min_class_rows
    for c in a.case.split(","):
        {"memory": case_memory, "engine": case_engine, "k": case_k}[c](a.seeds, a.reps)
