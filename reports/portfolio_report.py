"""The recommendations page as a report: what to do with each model, most valuable first,
each with the evidence chart the page draws beside it."""
from __future__ import annotations

import logging

import plotly.graph_objects as go

from analysis.evidence import advice_summary, portfolio_advice, ranked
from analysis.monitoring import model_monitoring
from components.recommendation_figures import evidence_figure as draw_evidence
from registry.model import RegistryError
from sections import Section

from .images import ExportMeta, safe_name
from .report import (
    ACTION_WORD, Report, data_date, day, glossary_of, provenance, recommendation_line,
)

log = logging.getLogger(__name__)


def portfolio_report(deck) -> Report:
    """The recommendations page as a report: what to do with each model, most valuable
    first, each with its evidence chart."""
    advice = portfolio_advice(deck)
    recs = ranked(advice)
    by_model = {a.model: a for a in advice}
    summary = [advice_summary(advice)]
    summary += [f"{r.model} — {recommendation_line(r)}" for r in recs]
    summary += [f"{a.model}: no recommendation — {a.problem}" for a in advice if a.problem]
    sections = []
    glossary = []
    for r in recs:
        adv = by_model[r.model]
        try:
            fig, caption = evidence_figure(deck, r, adv)
        except Exception:  # one model's chart never costs the portfolio report
            log.exception("cannot draw the evidence for %s", r.model)
            fig, caption = None, ""
        if adv.evidence is not None:
            glossary.append(adv.evidence.metric)
        if fig is None:
            continue
        sections.append(Section(
            f"{r.model}: {ACTION_WORD[r.action].lower()}", r.headline, fig,
            tuple(r.evidence) + (f"Confidence: {r.confidence} · {r.money_text}",),
            caption, safe_name(r.model, r.action)))
    names = [m.name for m in deck.models().items]
    newest = [d for d in (data_date(deck, n) for n in names) if d]
    return Report(
        kind="portfolio", title="Model portfolio: recommendations",
        subtitle=f"{len(names)} models · what to do with each, most valuable first",
        summary=tuple(summary), sections=tuple(sections),
        glossary=glossary_of(glossary + ["confidence_interval", "paired_interval"]),
        provenance=provenance(deck, names, []),
        meta=ExportMeta(data_date=day(max(newest)) if newest else ""),
        stem="portfolio-recommendations")


def evidence_figure(deck, r, advice) -> tuple[go.Figure | None, str]:
    """The evidence chart beside a recommendation and its caption: the figure the
    recommendations page draws for it (components.recommendation_figures.evidence_figure)."""
    e = advice.evidence
    if e is None:
        return None, ""
    report = None
    if r.chart == "monitoring":
        try:
            _, _, report = model_monitoring(deck, r.model, e.champion)
        except (KeyError, RegistryError):
            report = None
    return draw_evidence(r, e, report)
