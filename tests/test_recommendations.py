"""Recommendations on the sample registry, with their numbers recomputed independently."""
from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from analysis.evidence import model_advice, portfolio_advice
from analysis.recommend import headline
from registry import SAMPLE_REGISTRY, open_source
from registry.cached import CachedSource


@pytest.fixture(scope="module")
def deck():
    return CachedSource(open_source(str(SAMPLE_REGISTRY)))


@pytest.fixture(scope="module")
def churn(deck):
    return model_advice(deck, "customer-churn")


def by_action(advice, action):
    found = [r for r in advice.recommendations if r.action == action]
    assert found, [r.action for r in advice.recommendations]
    return found[0]


def test_drift_months_produce_a_retrain(deck, churn):
    r = by_action(churn, "retrain")
    mon = deck.monitoring("customer-churn").frame
    t = mon["timestamp"].dt.tz_convert("UTC")
    for label, start, end in (("Sep 2026", "2026-09-01", "2026-10-01"),
                              ("Oct 2026", "2026-10-01", "2026-11-01")):
        rows = mon[(t >= start) & (t < end) & mon["y_true"].notna() & (mon["version"] == 3)]
        auc = roc_auc_score(rows["y_true"].astype(int), rows["y_score"])
        line = next(e for e in r.evidence if e.startswith(f"ROC AUC in {label}"))
        assert f"{auc:.3f}" in line and f"{len(rows):,} labelled rows" in line
    ev = deck.evaluation("customer-churn", 3).frame
    ref = roc_auc_score(ev["y_true"].astype(int), ev["y_score"])
    assert f"against {ref:.3f} at evaluation" in r.evidence[0]
    assert r.confidence == "high" and r.chart == "monitoring"


def test_challenger_is_promoted_with_a_true_difference_and_value(deck, churn):
    r = by_action(churn, "promote")
    v3 = deck.evaluation("customer-churn", 3).frame
    v4 = deck.evaluation("customer-churn", 4).frame
    delta = (roc_auc_score(v4["y_true"].astype(int), v4["y_score"])
             - roc_auc_score(v3["y_true"].astype(int), v3["y_score"]))
    assert f"difference of {delta:+.3f}" in r.evidence[0]
    low, high = map(float, re.search(r"95% CI ([+-][\d.]+) to ([+-][\d.]+)",
                                      r.evidence[0]).groups())
    assert 0 < low <= delta <= high

    # Monthly value at each version's best threshold, by brute force over the thresholds.
    b = deck.model("customer-churn").business

    def best_value(frame):
        y = frame["y_true"].astype(int).to_numpy()
        s = frame["y_score"].to_numpy()
        values = []
        for t in np.round(np.linspace(0, 1, 101), 2):
            flag = s >= t
            tp = np.sum(flag & (y == 1)); fp = np.sum(flag & (y == 0))
            fn = np.sum(~flag & (y == 1))
            values.append((b.value_true_positive * tp - b.cost_false_positive * fp
                           - b.cost_false_negative * fn) / len(y) * b.volume_per_month)
        return max(values)
    gain = best_value(v4) - best_value(v3)
    assert r.money_per_month == pytest.approx(gain, rel=1e-9)
    assert r.currency == "EUR" and "€" in r.headline


def test_every_sample_model_gets_advice_and_headlines_prefer_money(deck):
    advice = portfolio_advice(deck)
    assert {a.model for a in advice} == {"breast-cancer", "customer-churn",
                                         "diabetes-progression", "digits"}
    for a in advice:
        assert a.recommendations, a.problem
        for r in a.recommendations:
            assert r.headline and r.evidence and r.confidence in ("high", "medium", "low")
    churn = next(a for a in advice if a.model == "customer-churn")
    top = headline(list(churn.recommendations))
    assert top.money_per_month == max(abs(r.money_per_month or 0)
                                      for r in churn.recommendations)


def test_a_broken_challenger_table_leaves_the_champions_advice_standing(tmp_path):
    """The challenger's evaluation file is unreadable: the champion's recommendations (from
    production, segments) still stand, and the advice names the file it could not read."""
    import shutil

    from analysis.evidence import model_advice
    from registry import SAMPLE_REGISTRY, open_source
    from registry.cached import CachedSource

    root = tmp_path / "registry"
    shutil.copytree(SAMPLE_REGISTRY, root)
    (root / "models/customer-churn/versions/4/evaluation/test.parquet").write_bytes(b"garbage")
    advice = model_advice(CachedSource(open_source(str(root))), "customer-churn")
    assert {r.action for r in advice.recommendations} >= {"retrain"}
    assert advice.evidence.challenger is None
    assert any("versions/4/evaluation/test.parquet" in p for p in advice.evidence.unread)


def test_a_broken_champion_table_is_an_answer_not_an_error(tmp_path):
    """Advice on a model whose champion's rows cannot be read says why (file and field),
    and is kept (the portfolio's background work stops asking until the file changes)."""
    import shutil

    from analysis.evidence import advice_if_ready, model_advice
    from registry import SAMPLE_REGISTRY, open_source
    from registry.cached import CachedSource

    root = tmp_path / "registry"
    shutil.copytree(SAMPLE_REGISTRY, root)
    (root / "models/customer-churn/versions/3/evaluation/test.parquet").write_bytes(b"garbage")
    from cachelib import SimpleCache
    deck = CachedSource(open_source(str(root)), SimpleCache())
    advice = model_advice(deck, "customer-churn")
    assert advice.recommendations == () and advice.evidence is None
    assert "versions/3/evaluation/test.parquet" in advice.problem
    assert advice_if_ready(deck, "customer-churn") == advice
