"""Plain-language recommendations from the evidence about one model.

Each rule looks at numbers computed elsewhere in ``analysis/`` and, when it fires, says what to
do (promote the challenger · retrain · roll back · investigate a segment · keep), why, with
which numbers and which chart, what it is worth per month where business settings exist, and
how sure we are. Every threshold the rules use lives in ``RecommendationSettings``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .business import money
from .drift import PSI_LARGE
from .language import delta_digits, format_delta, format_value
from .metrics import METRICS

ACTIONS = ("promote", "retrain", "roll back", "investigate", "keep")


@dataclass(frozen=True)
class RecommendationSettings:
    #: retrain when a recent labelled window is this much (relative) below evaluation
    performance_tolerance: float = 0.05
    #: how many of the most recent labelled windows to look at
    recent_windows: int = 2
    #: fewest labelled rows for a window to count
    min_window_rows: int = 200
    #: retrain when a feature's PSI in the latest window reaches this …
    psi_retrain: float = PSI_LARGE
    #: … and the feature matters: |Spearman correlation with the model's score| at least this
    important_feature_corr: float = 0.1
    #: a segment counts as major when it holds at least this share of the rows
    major_segment_share: float = 0.10
    #: investigate a segment whose metric is this much (relative) below the overall value,
    #: with its 95% interval entirely below the overall value
    segment_gap: float = 0.05
    #: fewest rows for a segment to be judged
    min_segment_rows: int = 50


@dataclass(frozen=True)
class Difference:
    """A paired difference ``version − other`` of a metric on the same rows, with its 95% CI
    (positive = ``version`` scores higher)."""

    version: int
    other: int
    metric: str
    value: float  # metric of ``version``
    other_value: float
    delta: float
    low: float
    high: float

    @property
    def better(self) -> bool:
        """``version`` is significantly better than ``other``."""
        hib = METRICS[self.metric].higher_is_better
        return self.low > 0 if hib else self.high < 0

    @property
    def worse(self) -> bool:
        hib = METRICS[self.metric].higher_is_better
        return self.high < 0 if hib else self.low > 0


@dataclass(frozen=True)
class SegmentResult:
    column: str  # segment name, e.g. "region"
    value: str  # segment value, e.g. "south"
    rows: int
    share: float
    metric_value: float
    low: float
    high: float
    delta: Difference | None = None  # challenger − champion in this segment, when compared


@dataclass(frozen=True)
class Evidence:
    """Everything the rules look at for one model (champion = the version in production)."""

    model: str
    task: str
    metric: str
    champion: int
    unit: str = ""
    currency: str = "EUR"
    challenger: Difference | None = None  # challenger − champion
    challenger_segments: tuple[SegmentResult, ...] = ()
    earlier: tuple[Difference, ...] = ()  # champion − each earlier version
    reference: float | None = None  # champion's metric at evaluation
    windows: tuple[tuple[str, int, float, float, float], ...] = ()  # (label, labelled, value, low, high)
    drifted: tuple[tuple[str, float, float], ...] = ()  # (feature, psi, |corr with score|) latest window
    latest_window: str = ""
    segments: tuple[SegmentResult, ...] = ()  # champion's metric per segment
    overall: float | None = None
    money_challenger: float | None = None  # monthly value gain of promoting, each at its best threshold
    money_lost: float | None = None  # monthly value lost to the recent performance fall
    money_rollback: float | None = None  # monthly value gain of rolling back
    #: the newest retraining that beat the version before it (version − previous, paired);
    #: analysis.history's retraining story
    last_retrain: Difference | None = None
    #: evidence left out because a file could not be read (file and field, one each)
    unread: tuple[str, ...] = ()


@dataclass(frozen=True)
class Recommendation:
    model: str
    action: str  # one of ACTIONS
    headline: str
    evidence: tuple[str, ...]
    chart: str  # where the evidence is drawn: "compare", "monitoring", "segments", "versions"
    money_per_month: float | None = None
    currency: str = "EUR"
    confidence: str = "medium"  # high | medium | low
    details: dict = field(default_factory=dict)

    @property
    def money_text(self) -> str:
        return money(self.money_per_month, self.currency) + " a month" \
            if self.money_per_month is not None else "no money estimate"


def recommend(e: Evidence, s: RecommendationSettings = RecommendationSettings()) -> list[Recommendation]:
    """Every recommendation that fires for this model; "keep" when none does."""
    out = [r for r in (_promote(e, s), _retrain(e, s), _roll_back(e, s)) if r is not None]
    out += _investigate(e, s)
    if not out:
        out.append(Recommendation(
            e.model, "keep", f"Keep v{e.champion}: nothing calls for a change.",
            _keep_evidence(e), "versions", currency=e.currency, confidence="medium"))
    return out


def headline(recs: list[Recommendation]) -> Recommendation:
    """The one recommendation to show on a portfolio card: the most valuable action."""
    order = {a: i for i, a in enumerate(("roll back", "retrain", "promote", "investigate",
                                          "keep"))}
    return sorted(recs, key=lambda r: (-(abs(r.money_per_month or 0)), order[r.action]))[0]


# ------------------------------------------------------------------ rules
def _fmt(e: Evidence, v: float) -> str:
    return format_value(e.metric, v, e.unit)


def _ci(e: Evidence, d: Difference) -> str:
    digits = delta_digits(e.metric, d.delta, d.low, d.high)
    return (f"{format_delta(e.metric, d.delta, e.unit, digits)} (95% CI "
            f"{format_delta(e.metric, d.low, e.unit, digits)} to "
            f"{format_delta(e.metric, d.high, e.unit, digits)})")


def _promote(e: Evidence, s: RecommendationSettings) -> Recommendation | None:
    d = e.challenger
    if d is None:
        return None
    name = METRICS[e.metric].name
    evidence = [f"{name}: v{d.version} {_fmt(e, d.value)} against v{d.other} "
                f"{_fmt(e, d.other_value)}, a difference of {_ci(e, d)} on the same rows."]
    worse_segments = [g for g in e.challenger_segments
                      if g.share >= s.major_segment_share and g.delta is not None
                      and g.delta.worse]
    if not d.better:
        if d.worse:
            return Recommendation(
                e.model, "keep", f"Don't promote the challenger v{d.version}: it is worse than "
                                 f"v{e.champion}.",
                tuple(evidence), "compare", currency=e.currency, confidence="high",
                details={"challenger": d.version})
        return Recommendation(
            e.model, "keep", f"Don't promote the challenger v{d.version} yet: it is not "
                             f"significantly better than v{e.champion}.",
            tuple(evidence + ["The 95% interval includes no difference at all."]), "compare",
            currency=e.currency, confidence="medium", details={"challenger": d.version})
    if worse_segments:
        segs = ", ".join(f"{g.column} = {g.value}" for g in worse_segments)
        return Recommendation(
            e.model, "investigate", f"Check v{d.version} before promoting: better overall but "
                                    f"worse for {segs}.",
            tuple(evidence + [f"Significantly worse in {segs} (a major segment)."]), "compare",
            money_per_month=None, currency=e.currency, confidence="medium",
            details={"challenger": d.version})
    worth = (f" — worth about {money(e.money_challenger, e.currency)} a month"
             if e.money_challenger is not None and e.money_challenger > 0 else "")
    if e.money_challenger is not None:
        evidence.append(f"At each version's best threshold, v{d.version} is worth "
                        f"{money(e.money_challenger, e.currency)} a month more.")
    confidence = "high" if all(g.delta is not None for g in e.challenger_segments) or \
        not e.challenger_segments else "medium"
    return Recommendation(
        e.model, "promote", f"Promote the challenger v{d.version}{worth}.", tuple(evidence),
        "compare", money_per_month=e.money_challenger, currency=e.currency,
        confidence=confidence, details={"challenger": d.version})


def _retrain(e: Evidence, s: RecommendationSettings) -> Recommendation | None:
    if e.reference is None and not e.drifted:
        return None
    name = METRICS[e.metric].name
    hib = METRICS[e.metric].higher_is_better
    recent = [w for w in e.windows if w[1] >= s.min_window_rows and np.isfinite(w[2])]
    recent = recent[-s.recent_windows:]
    fallen = []
    for label, n, value, low, high in recent:
        drop = (e.reference - value) / abs(e.reference) if hib else \
            (value - e.reference) / abs(e.reference)
        if drop >= s.performance_tolerance:
            fallen.append((label, n, value, low, high, drop))
    important = [(f, p, c) for f, p, c in e.drifted
                 if p >= s.psi_retrain and c >= s.important_feature_corr]
    if not fallen and not important:
        return None
    evidence = []
    for label, n, value, low, high, drop in fallen:
        evidence.append(f"{name} in {label}: {_fmt(e, value)} (95% CI {_fmt(e, low)} to "
                        f"{_fmt(e, high)}) on {n:,} labelled rows, against {_fmt(e, e.reference)} "
                        f"at evaluation ({drop:.0%} worse).")
    for f, p, c in important:
        evidence.append(f"'{f}' shifted strongly in {e.latest_window} (PSI {p:.2f}) and it "
                        f"moves with the model's score (correlation {c:.2f}).")
    if fallen:
        what = (f"{name} fell {fallen[-1][5]:.0%} below evaluation in {fallen[-1][0]}")
        confidence = "high" if all(
            (w[4] < e.reference) if hib else (w[3] > e.reference) for w in fallen) else "medium"
    else:
        what = f"important inputs drifted ({', '.join(f for f, _, _ in important)})"
        confidence = "low"
    worth = (f"; the fall costs about {money(e.money_lost, e.currency)} a month"
             if e.money_lost is not None and e.money_lost > 0 else "")
    details = {}
    if e.last_retrain is not None:
        d = e.last_retrain
        evidence.append(f"The last retraining that helped was v{d.version}: {name} "
                        f"{_ci(e, d)} against v{d.other} on the same rows (see the retraining "
                        "story).")
        details["last_helped"] = d.version
    return Recommendation(
        e.model, "retrain", f"Retrain v{e.champion}: {what}{worth}.", tuple(evidence),
        "monitoring", money_per_month=e.money_lost, currency=e.currency, confidence=confidence,
        details=details)


def _roll_back(e: Evidence, s: RecommendationSettings) -> Recommendation | None:
    worse = [d for d in e.earlier if d.worse]
    if not worse:
        return None
    best = max(worse, key=lambda d: abs(d.delta))
    name = METRICS[e.metric].name
    evidence = [f"{name}: champion v{best.version} {_fmt(e, best.value)} against v{best.other} "
                f"{_fmt(e, best.other_value)}, a difference of {_ci(e, best)} on the same rows."]
    worth = (f" — worth about {money(e.money_rollback, e.currency)} a month"
             if e.money_rollback is not None and e.money_rollback > 0 else "")
    return Recommendation(
        e.model, "roll back", f"Roll back to v{best.other}: it beats the champion "
                              f"v{best.version}{worth}.",
        tuple(evidence), "versions", money_per_month=e.money_rollback, currency=e.currency,
        confidence="high", details={"to": best.other})


def _investigate(e: Evidence, s: RecommendationSettings) -> list[Recommendation]:
    if e.overall is None or not e.segments:
        return []
    hib = METRICS[e.metric].higher_is_better
    out = []
    name = METRICS[e.metric].name
    for g in e.segments:
        if g.rows < s.min_segment_rows or not np.isfinite(g.metric_value):
            continue
        gap = (e.overall - g.metric_value) / abs(e.overall) if hib else \
            (g.metric_value - e.overall) / abs(e.overall)
        clear = (g.high < e.overall) if hib else (g.low > e.overall)
        if gap >= s.segment_gap and clear:
            out.append((gap, g))
    if not out:
        return []
    gap, g = max(out, key=lambda t: t[0])
    evidence = [f"{name} for {g.column} = {g.value}: {_fmt(e, g.metric_value)} (95% CI "
                f"{_fmt(e, g.low)} to {_fmt(e, g.high)}) on {g.rows:,} rows, against "
                f"{_fmt(e, e.overall)} overall ({gap:.0%} worse)."]
    if len(out) > 1:
        others = ", ".join(f"{o.column} = {o.value}" for _, o in sorted(out, key=lambda t: -t[0])[1:4])
        evidence.append(f"Also clearly below the rest: {others}.")
    return [Recommendation(
        e.model, "investigate", f"Look into {g.column} = {g.value}: the model is "
                                f"{gap:.0%} worse there than overall.",
        tuple(evidence), "segments", currency=e.currency, confidence="medium",
        details={"segment": g.column, "value": g.value})]


def _keep_evidence(e: Evidence) -> tuple[str, ...]:
    out = []
    if e.reference is not None:
        out.append(f"{METRICS[e.metric].name} at evaluation: {_fmt(e, e.reference)}.")
    if e.windows:
        label, n, value, _, _ = e.windows[-1]
        if np.isfinite(value):
            out.append(f"Latest labelled production window ({label}): {_fmt(e, value)} on "
                       f"{n:,} rows.")
    if e.challenger is None:
        out.append("No challenger is registered.")
    return tuple(out)
