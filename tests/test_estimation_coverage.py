"""Coverage of the estimate's 95% interval, by simulation: windows whose labels are known but
hidden, under covariate shift only (analysis/estimation.py)."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import precision_score, recall_score, roc_auc_score

from analysis.calibration import check_calibration
from analysis.estimation import EstimationSettings, estimate_window
from registry.model import BusinessSettings

BUSINESS = BusinessSettings(value_true_positive=150, cost_false_positive=20,
                            cost_false_negative=50, volume_per_month=40_000)
SETTINGS = EstimationSettings()  # the monitoring page's own: what is validated is what runs

# ------------------------------------------------------------------ coverage by simulation
COEF, INTERCEPT = np.array([1.2, -0.8]), -1.0

#: how the model's score relates to the true chance of a positive: as it is (calibrated), or
#: with the same ranking but wrong rates — stretched on the log-odds scale (Platt scaling's
#: own shape) or kinked (a shape only isotonic regression follows)
DISTORTIONS = {
    "calibrated": lambda p: p,
    "stretched": lambda p: 1 / (1 + np.exp(-(1.6 * np.log(p / (1 - p)) + 0.4))),
    "kinked": lambda p: np.where(p < 0.5, 0.3 * p, 0.15 + 1.7 * (p - 0.5)),
}
#: the calibration the check chooses for each (most evaluation sets; '' = as given)
EXPECTED_METHOD = {"calibrated": "", "stretched": "Platt scaling",
                   "kinked": "isotonic regression"}


def _population(rng, n, shift, distort):
    """Rows whose true chance of a positive depends on two inputs the same way everywhere
    (no concept shift); ``shift`` moves the inputs (covariate shift)."""
    x = rng.normal(shift, 1.0, (n, 2))
    p = 1 / (1 + np.exp(-(x @ COEF + INTERCEPT)))
    y = (rng.random(n) < p).astype(int)
    return y, distort(p)


def _realised(y, s, threshold):
    flag = s >= threshold
    tp, fp, fn = (flag & (y == 1)).sum(), (flag & (y == 0)).sum(), (~flag & (y == 1)).sum()
    return {"roc_auc": roc_auc_score(y, s),
            "precision": precision_score(y, flag, zero_division=np.nan),
            "recall": recall_score(y, flag),
            "money": (150 * tp - 20 * fp - 50 * fn) / len(y) * 40_000}


def coverage(distortion: str, seed: int, references: int = 8, windows: int = 40,
             reference_rows: int = 5_000, window_rows: int = 500
             ) -> tuple[dict[str, float], list[str]]:
    """Share of windows whose realised value lies in the estimate's 95% interval, over
    ``references`` evaluation sets (each checked and, if needed, recalibrated) with
    ``windows`` shifted production windows each, labels known but hidden; and the
    calibration method used for each evaluation set."""
    rng = np.random.default_rng(seed)
    distort = DISTORTIONS[distortion]
    hits = {k: [] for k in ("roc_auc", "precision", "recall", "money")}
    methods = []
    for _ in range(references):
        y, s = _population(rng, reference_rows, np.zeros(2), distort)
        cal = check_calibration(y, s, SETTINGS)
        methods.append(cal.method)
        for _ in range(windows):
            yw, sw = _population(rng, window_rows, rng.normal(0, 0.5, 2), distort)
            est = estimate_window(cal, sw, 0.5, BUSINESS, SETTINGS, rng)
            real = _realised(yw, sw, 0.5)
            for k in hits:
                if np.isnan(real[k]) and np.isnan(est[k]):
                    continue  # no row flagged: precision undefined, and said so by both
                hits[k].append(est[f"{k}_low"] <= real[k] <= est[f"{k}_high"])
    return {k: float(np.mean(v)) for k, v in hits.items()}, methods


@pytest.mark.parametrize("distortion", list(DISTORTIONS))
def test_interval_covers_the_realised_value_under_covariate_shift(distortion):
    """320 windows of 500 rows over 8 evaluation sets of 5,000 rows each (covariate shift:
    each window's inputs moved by a random amount)."""
    got, methods = coverage(distortion, seed=11)
    assert methods.count(EXPECTED_METHOD[distortion]) >= 6, methods
    print(f"\ncoverage of the 95% interval, scores {distortion} "
          f"({', '.join(sorted(set(m or 'used as given' for m in methods)))}): "
          + ", ".join(f"{k} {v:.1%}" for k, v in got.items()))
    for k, v in got.items():
        assert 0.90 <= v <= 0.98, (k, v)
