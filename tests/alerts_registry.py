"""A small registry whose production data drift in their last labelled month, for the alert
tests: one content (tests/contract's plain description), written as a folder or, with the real
MLflow client, as an MLflow store."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from contract.contract_content import Content, ModelSpec, VersionSpec, write_folder
from registry.model import BusinessSettings

#: the months of production data, labelled; the last one drifts (the input x moves, the
#: outcome depends less on it)
MONTHS = ("2026-06", "2026-07", "2026-08", "2026-09", "2026-10")
DRIFT_MONTH = "Oct 2026"
#: one more month without labels yet, in which the customers are much alike (every input
#: bunches up): the scores spread less, so the ranking estimated from them falls (a
#: covariate shift, which an estimate from scores can see)
UNLABELLED_MONTH = "Nov 2026"


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def _month(rng, month: str, n: int) -> pd.DatetimeIndex:
    start = pd.Timestamp(f"{month}-01", tz="UTC")
    return start + pd.to_timedelta(np.sort(rng.integers(0, 27 * 86400, n)), unit="s")


def alert_content(n_eval: int = 800, n_month: int = 400, seed: int = 11) -> Content:
    """One yes/no model, ``leavers``: v1 the champion, v2 a clearly better challenger (on the
    same evaluation rows), with business settings and six months of v1's production rows
    (the last without labels)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n_eval)
    z = rng.normal(size=n_eval)
    y = (rng.random(n_eval) < _sigmoid(2.5 * x)).astype(int)
    region = rng.choice(["north", "south"], n_eval)
    versions = tuple(
        VersionSpec(version=v, rows=dict(
            y_true=y, y_score=_sigmoid(slope * x + rng.normal(0, noise, n_eval)),
            segments={"region": region}, features={"x": x, "z": z}),
            aliases=("champion",) if v == 1 else ("challenger",),
            algorithm="LogisticRegression")
        for v, (slope, noise) in ((1, (1.0, 1.5)), (2, (2.5, 0.3))))
    parts = []
    for i, month in enumerate(MONTHS):
        drift = i == len(MONTHS) - 1
        xm = rng.normal(1.0 if drift else 0.0, 1, n_month)
        ym = (rng.random(n_month) < _sigmoid((0.3 if drift else 2.5) * xm)).astype(float)
        parts.append(dict(ts=_month(rng, month, n_month), y=ym,
                          score=_sigmoid(1.0 * xm + rng.normal(0, 1.5, n_month)),
                          x=xm, z=rng.normal(size=n_month),
                          region=rng.choice(["north", "south"], n_month)))
    xn = rng.normal(0, 0.3, n_month)
    parts.append(dict(ts=_month(rng, "2026-11", n_month), y=np.full(n_month, np.nan),
                      score=_sigmoid(1.0 * xn + rng.normal(0, 0.3, n_month)), x=xn,
                      z=rng.normal(size=n_month), region=rng.choice(["north", "south"], n_month)))
    monitoring = dict(
        version=1, timestamp=np.concatenate([np.asarray(p["ts"]) for p in parts]),
        y_true=np.concatenate([p["y"] for p in parts]),
        y_score=np.concatenate([p["score"] for p in parts]),
        segments={"region": np.concatenate([p["region"] for p in parts])},
        features={"x": np.concatenate([p["x"] for p in parts]),
                  "z": np.concatenate([p["z"] for p in parts])})
    leavers = ModelSpec(
        name="leavers", task="binary", versions=versions,
        description="Who leaves next quarter", entity="customer", positive_label="1",
        business=BusinessSettings(positive_means="the customer leaves",
                                  value_true_positive=100, cost_false_positive=10,
                                  cost_false_negative=40, volume_per_month=10_000),
        monitoring=monitoring)
    return Content(models=(leavers,), experiments=())


def build_alert_registry(root: Path) -> Path:
    """The content as a registry folder."""
    root.mkdir(parents=True, exist_ok=True)
    return write_folder(alert_content(), root)
