"""Which alerts fire: rules checked against the numbers the pages already show.

A rule names a condition on one kind of evidence; ``evaluate`` runs every rule over the
registry's models and returns one ``Alert`` per thing that breaks a rule (a model's window,
an input in a window, a challenger). Nothing here is computed anew: production performance
and drift come from ``analysis.monitoring.model_monitoring`` (the monitoring page's report),
money at risk and the challenger's paired difference from ``analysis.evidence.model_advice``
(the recommendations page's evidence). The headlines reuse the recommendations' own sentences
where one exists; the others are written here, once.

The estimate without labels comes from ``analysis.estimation.model_estimate`` (the
monitoring page's estimate).

An alert's ``key`` names what it is about (rule, model, version, window or input or versions),
never its numbers, so the same finding keeps the same key on every run and is sent once
(``alerts`` keeps the keys it has delivered, outside the registry).

Delivery, state and the command live in the top-level ``alerts`` package.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

import numpy as np
import pandas as pd

from registry.cached import CachedSource
from registry.model import Model, RegistryError

from .business import money
from .drift import psi_word
from .estimate_sentences import estimate_headline
from .estimation import model_estimate
from .evidence import model_advice
from .language import CONCEPT_SHIFT, GLOSSARY, format_value, interval_text
from .metrics import METRICS, headline_metric
from .monitoring import model_monitoring, window_text
from .recommend import RecommendationSettings

log = logging.getLogger(__name__)

#: rule kinds and what each checks
KINDS = {
    "metric_below": "the headline metric of a labelled production window is below a level",
    "metric_above": "the headline metric (an error, lower is better) of a labelled production "
                    "window is above a level",
    "estimated_below": "a yes/no model's performance estimated from its scores alone "
                       "(ROC AUC, precision, recall, or money per month) in a production "
                       "window without labels is below a level",
    "psi_above": "an input's PSI in a production window is above a level",
    "money_at_risk_above": "the money the production performance fall costs per month is "
                           "above an amount",
    "challenger_better": "the challenger is significantly better than the champion "
                         "(paired 95% interval of the difference above zero)",
}
#: fewest rows a production window needs before a rule judges it (as the portfolio's health)
MIN_ROWS = 200


@dataclass(frozen=True)
class Rule:
    """One alert rule, as read from the settings file (``alerts.settings``)."""

    kind: str  # one of KINDS
    name: str  # the rule's identity in the alert keys (given, or made from its fields)
    models: tuple[str, ...] = ()  # the models it applies to; empty: every model
    level: float | None = None  # metric_*, estimated_below, psi_above
    #: estimated_below: roc_auc | precision | recall | money (per month, in the currency)
    metric: str = "roc_auc"
    #: estimated_below: only windows without any label (where the estimate is all there is)
    unlabelled_only: bool = True
    amount: float | None = None  # money_at_risk_above, in the model's currency
    inputs: tuple[str, ...] = ()  # psi_above: the inputs watched; empty: every input
    min_rows: int = MIN_ROWS  # metric_*, estimated_below, psi_above: fewest rows a window needs
    windows: int = 0  # metric_*, estimated_below, psi_above: the N most recent windows (0: all)
    #: metric_*, estimated_below: fire only when the whole 95% interval is past the level
    sure: bool = False
    channels: tuple[str, ...] = ()  # where to send; empty: every configured channel

    def applies_to(self, model: str) -> bool:
        return not self.models or model in self.models


@dataclass(frozen=True)
class Alert:
    key: str  # stable identity: what the alert is about, not its numbers
    rule: str  # the rule's name
    kind: str
    model: str
    headline: str  # one plain sentence
    evidence: tuple[str, ...]  # the numbers behind it, in words
    path: str  # the page that shows it, e.g. "/monitoring/customer-churn?version=3"
    numbers: dict = field(default_factory=dict)  # the same numbers, for machines
    channels: tuple[str, ...] = ()  # the rule's channels (empty: every configured one)


@dataclass(frozen=True)
class Evaluation:
    alerts: tuple[Alert, ...]
    #: models or rules that could not be checked, and why (one line each)
    problems: tuple[str, ...] = ()
    checked: tuple[str, ...] = ()  # the models the rules were checked on


def evaluate(deck: CachedSource, rules: tuple[Rule, ...] | list[Rule]) -> Evaluation:
    """Every alert the rules raise on the registry's models. A model that cannot be read or
    checked is a problem line; the other models are still checked."""
    alerts: list[Alert] = []
    problems: list[str] = [f"{p.model or 'registry'}: {p}" for p in deck.models().problems
                           if p.severity == "error"]
    names = [m.name for m in deck.models().items]
    for rule in rules:
        for missing in sorted(set(rule.models) - set(names)):
            problems.append(f"rule '{rule.name}': there is no model called {missing!r}.")
    checked = []
    for name in names:
        mine = [r for r in rules if r.applies_to(name)]
        if not mine:
            continue
        try:
            alerts += _model_alerts(deck, deck.model(name), mine, problems)
            checked.append(name)
        except KeyError:  # the model went away between the listing and now
            continue
        except RegistryError as e:
            problems.append(f"{name}: {e.problem}")
        except Exception:  # one model's failure never costs the others their alerts
            log.exception("cannot check the alert rules on %s", name)
            problems.append(f"{name}: the alert rules could not be checked (see the log).")
    return Evaluation(tuple(alerts), tuple(problems), tuple(checked))


def _model_alerts(deck: CachedSource, model: Model, rules: list[Rule],
                  problems: list[str]) -> list[Alert]:
    out: list[Alert] = []
    if not model.task_known:
        named = [r.name for r in rules if r.models]
        if named:
            problems.append(f"{model.name}: not checked ({', '.join(named)}): the task is "
                            f"{model.task_source}.")
        return out
    metric = headline_metric(model.task)
    monitoring = None
    for rule in rules:
        if rule.kind in ("metric_below", "metric_above"):
            hib = METRICS[metric].higher_is_better
            if hib != (rule.kind == "metric_below"):
                if rule.models:  # named on purpose: say why nothing is checked
                    problems.append(
                        f"rule '{rule.name}': {model.name}'s headline metric, "
                        f"{METRICS[metric].name}, is better when "
                        f"{'higher' if hib else 'lower'}: use kind = "
                        f"\"{'metric_below' if hib else 'metric_above'}\".")
                continue
            monitoring = monitoring or model_monitoring(deck, model.name)
            out += _metric_alerts(model, rule, *monitoring[1:])
        elif rule.kind == "estimated_below":
            if model.task != "binary":
                if rule.models:
                    problems.append(f"rule '{rule.name}': {model.name} is not a yes/no model; "
                                    "estimates without labels are made for yes/no models "
                                    "only.")
                continue
            out += _estimate_alerts(model, rule, *model_estimate(deck, model.name)[1:])
        elif rule.kind == "psi_above":
            monitoring = monitoring or model_monitoring(deck, model.name)
            out += _psi_alerts(model, rule, *monitoring[1:])
        elif rule.kind == "money_at_risk_above":
            out += _money_alerts(model, rule, model_advice(deck, model.name))
        elif rule.kind == "challenger_better":
            out += _challenger_alerts(model, rule, model_advice(deck, model.name))
    return out


# ------------------------------------------------------------------ production windows
def _recent(frame: pd.DataFrame, rule: Rule, labels: list[str]) -> pd.DataFrame:
    """The rows of ``frame`` in the rule's most recent windows (of ``labels``, oldest first)."""
    if rule.windows <= 0:
        return frame
    return frame.loc[frame["label"].isin(labels[-rule.windows:])]


def _monitoring_path(model: str, version) -> str:
    query = f"?{urlencode({'version': version})}" if version is not None else ""
    return f"/monitoring/{quote(model, safe='')}{query}"


def _metric_alerts(model: Model, rule: Rule, version, report) -> list[Alert]:
    if report is None or report.performance.empty:
        return []
    metric = report.metric
    info = METRICS[metric]
    unit = model.target_unit if info.kind == "unit" else ""
    fmt = lambda v: format_value(metric, v, unit)  # noqa: E731
    below = rule.kind == "metric_below"
    perf = _recent(report.performance, rule, list(report.performance["label"]))
    out = []
    for row in perf.itertuples():
        if row.note or row.labelled < rule.min_rows or not np.isfinite(row.value):
            continue
        past = row.value < rule.level if below else row.value > rule.level
        if rule.sure:
            bound = row.high if below else row.low
            past = past and np.isfinite(bound) and (bound < rule.level if below
                                                    else bound > rule.level)
        if not past:
            continue
        word = "below" if below else "above"
        evidence = [f"{window_text(row, metric, unit)} "
                    f"({interval_text(metric, row.low, row.high, unit)})."]
        if report.reference is not None:
            ci = interval_text(metric, report.reference_low, report.reference_high, unit)
            evidence.append(f"At evaluation v{version} scored {fmt(report.reference)} ({ci}).")
        evidence.append(f"Alert level: {info.name} {word} {fmt(rule.level)}"
                        + (" with the whole 95% interval past it." if rule.sure else "."))
        out.append(Alert(
            key=f"{rule.name}|{model.name}|v{version}|{row.window:%Y-%m-%d}",
            rule=rule.name, kind=rule.kind, model=model.name,
            headline=f"{model.name}: {info.name} in production was {fmt(row.value)} in "
                     f"{row.label}, {word} the alert level of {fmt(rule.level)}.",
            evidence=tuple(evidence), path=_monitoring_path(model.name, version),
            numbers={"model": model.name, "version": version, "window": row.label,
                     "metric": metric, "value": float(row.value), "low": _num(row.low),
                     "high": _num(row.high), "labelled_rows": int(row.labelled),
                     "evaluation": _num(report.reference), "level": rule.level},
            channels=rule.channels))
    return out


#: what each estimated quantity is called in a sentence
ESTIMATED_NAMES = {"roc_auc": "ROC AUC", "precision": "precision", "recall": "recall",
                   "money": "value per month"}


def _estimate_alerts(model: Model, rule: Rule, version, estimate) -> list[Alert]:
    if estimate is None or not estimate.available or estimate.windows.empty:
        return []
    key = rule.metric
    name = ESTIMATED_NAMES[key]
    if key == "money":
        fmt = lambda v: money(v, estimate.currency)  # noqa: E731
        ci = lambda lo, hi: f"95% interval {fmt(lo)} to {fmt(hi)}"  # noqa: E731
    else:
        fmt = lambda v: format_value(key, v)  # noqa: E731
        ci = lambda lo, hi: interval_text(key, lo, hi)  # noqa: E731
    w = estimate.windows
    unlabelled = estimate.unlabelled()
    unlabelled = unlabelled.loc[unlabelled["note"] == "", "label"]
    latest = unlabelled.iloc[-1] if len(unlabelled) else None
    w = _recent(w, rule, list(w["label"]))
    out = []
    for row in w.itertuples():
        value, low, high = (float(getattr(row, c)) for c in (key, f"{key}_low", f"{key}_high"))
        if row.note or row.rows < rule.min_rows or not np.isfinite(value):
            continue
        if rule.unlabelled_only and row.labelled > 0:
            continue
        past = value < rule.level and (not rule.sure or (np.isfinite(high)
                                                          and high < rule.level))
        if not past:
            continue
        labels = "no labels yet" if row.labelled == 0 else \
            f"{int(row.labelled):,} of {int(row.rows):,} rows labelled so far"
        # the latest window without labels: the monitoring page's own sentence about it
        first = estimate_headline(estimate) if row.label == latest else \
            (f"Estimated from the scores alone for {row.label} ({labels}, "
             f"{int(row.rows):,} rows): {name} {fmt(value)} ({ci(low, high)}).")
        evidence = [first, estimate.calibration.sentence(version)]
        if key != "roc_auc" and row.label != latest:
            evidence.append(f"At the threshold {estimate.threshold:.2f} "
                            f"({estimate.threshold_source}).")
        evidence.append(f"Alert level: estimated {name} below {fmt(rule.level)}"
                        + (" with the whole 95% interval below it." if rule.sure else "."))
        evidence.append(CONCEPT_SHIFT)
        out.append(Alert(
            key=f"{rule.name}|{model.name}|v{version}|{key}|{row.window:%Y-%m-%d}",
            rule=rule.name, kind=rule.kind, model=model.name,
            headline=f"{model.name}: estimated {name} in {row.label} is {fmt(value)}, below "
                     f"the alert level of {fmt(rule.level)} ({labels}).",
            evidence=tuple(evidence), path=_monitoring_path(model.name, version),
            numbers={"model": model.name, "version": version, "window": row.label,
                     "estimated": key, "value": value, "low": _num(low), "high": _num(high),
                     "rows": int(row.rows), "labelled_rows": int(row.labelled),
                     "threshold": estimate.threshold, "level": rule.level,
                     **({"currency": estimate.currency} if key == "money" else {})},
            channels=rule.channels))
    return out


def _psi_alerts(model: Model, rule: Rule, version, report) -> list[Alert]:
    if report is None or report.drift.empty:
        return []
    drift = report.drift.loc[report.drift["kind"].isin(("feature", "segment"))]
    if rule.inputs:
        drift = drift.loc[drift["name"].isin(rule.inputs)]
    drift = _recent(drift, rule, list(report.performance["label"]))
    out = []
    for r in drift.itertuples():
        if r.rows < rule.min_rows or not np.isfinite(r.psi) or not r.psi > rule.level:
            continue
        evidence = [f"PSI {r.psi:.3f} on {r.rows:,} rows of {r.label}, against v{version}'s "
                    f"evaluation rows: {psi_word(r.psi)} by the usual rule of thumb.",
                    GLOSSARY["psi"]]
        if np.isfinite(r.ks_pvalue):
            p = "< 0.001" if r.ks_pvalue < 0.001 else f"{r.ks_pvalue:.3f}"
            evidence.append(f"Kolmogorov–Smirnov test: statistic {r.ks_stat:.3f}, "
                            f"p-value {p}.")
        evidence.append(f"Alert level: PSI above {rule.level:g}.")
        out.append(Alert(
            key=f"{rule.name}|{model.name}|v{version}|{r.column}|{r.window:%Y-%m-%d}",
            rule=rule.name, kind=rule.kind, model=model.name,
            headline=f"{model.name}: the input '{r.name}' shifted in {r.label} (PSI "
                     f"{r.psi:.3f}, above the alert level of {rule.level:g}).",
            evidence=tuple(evidence), path=_monitoring_path(model.name, version),
            numbers={"model": model.name, "version": version, "window": r.label,
                     "input": r.name, "kind": r.kind, "psi": float(r.psi), "rows": int(r.rows),
                     "ks_pvalue": _num(r.ks_pvalue), "level": rule.level},
            channels=rule.channels))
    return out


# ------------------------------------------------------------------ the recommendations' evidence
def _money_alerts(model: Model, rule: Rule, advice) -> list[Alert]:
    e = advice.evidence
    if e is None or e.money_lost is None or not e.money_lost > rule.amount:
        return []
    # the window the amount is about: the latest with enough labelled rows (as _money_lost)
    judged = [w for w in e.windows if w[1] >= RecommendationSettings().min_window_rows]
    if not judged:
        return []
    label = judged[-1][0]
    amount = money(e.money_lost, e.currency)
    retrain = next((r for r in advice.recommendations if r.action == "retrain"), None)
    headline = f"{model.name}: {retrain.headline}" if retrain is not None else (
        f"{model.name}: production performance in {label} costs about {amount} a month "
        f"against what v{e.champion} did at evaluation.")
    evidence = list(retrain.evidence) if retrain is not None else []
    evidence.append(f"Money at risk: about {amount} a month in {label} (at the champion's "
                    "best threshold, against the same customers at evaluation's error rates).")
    evidence.append(f"Alert level: above {money(rule.amount, e.currency)} a month.")
    return [Alert(
        key=f"{rule.name}|{model.name}|v{e.champion}|{label}",
        rule=rule.name, kind=rule.kind, model=model.name, headline=headline,
        evidence=tuple(evidence), path=_monitoring_path(model.name, e.champion),
        numbers={"model": model.name, "version": e.champion, "window": label,
                 "money_per_month": float(e.money_lost), "currency": e.currency,
                 "amount": rule.amount},
        channels=rule.channels)]


def _challenger_alerts(model: Model, rule: Rule, advice) -> list[Alert]:
    e = advice.evidence
    d = e.challenger if e is not None else None
    if d is None or not d.better:
        return []
    rec = next((r for r in advice.recommendations
                if r.details.get("challenger") == d.version), None)
    headline = rec.headline if rec is not None else \
        f"The challenger v{d.version} is significantly better than v{d.other}."
    evidence = rec.evidence if rec is not None else ()
    query = urlencode({"model": model.name, "a": d.other, "b": d.version})
    return [Alert(
        key=f"{rule.name}|{model.name}|v{d.version}-vs-v{d.other}",
        rule=rule.name, kind=rule.kind, model=model.name,
        headline=f"{model.name}: {headline}", evidence=tuple(evidence),
        path=f"/compare?{query}",
        numbers={"model": model.name, "champion": d.other, "challenger": d.version,
                 "metric": d.metric, "champion_value": float(d.other_value),
                 "challenger_value": float(d.value), "difference": float(d.delta),
                 "low": float(d.low), "high": float(d.high),
                 "money_per_month": _num(e.money_challenger), "currency": e.currency},
        channels=rule.channels)]


def _num(v) -> float | None:
    return float(v) if v is not None and np.isfinite(v) else None
