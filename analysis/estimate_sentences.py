"""An estimate without labels in words: its headline, the windows too thin to estimate, the
calibration check, and its limit (concept shift) — said more strongly when the labelled
windows already show it. What the monitoring page, its report and the alerts say
(``summary_sentences`` adds them to the monitoring report's own sentences).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .business import money
from .estimation import ESTIMATED, PerformanceEstimate
from .language import CONCEPT_SHIFT, format_value
from .metrics import METRICS
from .monitoring import monitoring_sentences


def _pct(v: float) -> str:
    return f"{v:.1%}" if np.isfinite(v) else "undefined"


def estimate_headline(est: PerformanceEstimate | None, metric: str = "roc_auc") -> str:
    """The estimate of the latest window without labels in one sentence (``metric``, then
    precision, recall and money at the threshold); '' when there is none."""
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


def summary_sentences(report, est: PerformanceEstimate | None, unit: str = "") -> list[str]:
    """The monitoring report's sentences (``monitoring_sentences``) followed by the
    estimate's, for windows without labels: what the monitoring page and its report say."""
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
