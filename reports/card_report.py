"""The model card as files: one self-contained HTML page (printed to PDF by the same Chromium
as the reports) and a Markdown file, both from ``analysis.card.ModelCard`` — the object the
card page renders, so the files say what the page says.

Registry text is Markdown written by whoever registered the model. In HTML it is rendered by
markdown-it with raw HTML disabled (``<script>`` stays text) and only http(s)/mailto links
kept, and laid out by a Jinja2 template with autoescape (``templates/card.html``); in the
Markdown file it is copied as written, with any HTML tags escaped.
"""
from __future__ import annotations

import re

import plotly.io as pio
from markdown_it import MarkdownIt
from markupsafe import Markup

from analysis.card import CardField, ModelCard, unlink_unsafe
from analysis.metrics import METRICS
from components.evaluation_figures import segment_figure

from .branding import Branding
from .html_report import CHART_CONFIG, STYLE, _plotlyjs, render
from .images import ExportMeta, footer_text

_MD = MarkdownIt("js-default", {"html": False, "linkify": False, "typographer": False})
_SAFE_LINK = re.compile(r"^(https?:|mailto:|#|/)", re.IGNORECASE)
_MD.validateLink = lambda url: bool(_SAFE_LINK.match(url.strip()))  # noqa: E731

SECTIONS = ("What it is for", "Data", "How good it is", "Where it is weaker",
            "Known limitations", "Caveats", "Business settings", "Version history")


def markdown_html(text: str) -> str:
    """Registry Markdown as HTML: raw HTML escaped, unsafe links dropped."""
    return _MD.render(unlink_unsafe(text))


def card_title(card: ModelCard) -> str:
    return f"{card.model}: model card"


def card_html(card: ModelCard, model, branding: Branding = Branding(),
              meta: ExportMeta = ExportMeta(), generated: str = "") -> bytes:
    """The card as one HTML document (``templates/card.html``, autoescaped; registry
    Markdown rendered by ``markdown_html``)."""
    style = STYLE % {"primary": branding.primary, "accent": branding.accent,
                     "text": branding.text}
    segment = ""
    if not card.segment_table.empty:
        seg = card.segment_table
        metric = METRICS[seg["metric"].iloc[0]]
        unit = model.target_unit if metric.kind == "unit" else ""
        fig = segment_figure(seg, metric.name, unit, metric.higher_is_better)
        segment = Markup(pio.to_html(fig, include_plotlyjs=False, full_html=False,
                                     config=CHART_CONFIG, div_id="md-card-segments",
                                     default_width="100%",
                                     default_height=f"{fig.layout.height or 400}px"))
    document = render("card.html", card=card, title=card_title(card), branding=branding,
                      style=Markup(style), plotlyjs=Markup(_plotlyjs()) if segment else "",
                      segment=segment, footer=footer_text(meta), generated=generated,
                      byline=" · ".join(x for x in (branding.organisation, branding.title,
                                                    generated) if x),
                      markdown=lambda text: Markup(markdown_html(text)),
                      version_head=("Version", "Alias / stage", "Created", "Algorithm",
                                    card.metric_name or "Metric", "What changed"),
                      versions=list(card.versions.itertuples()))
    return document.encode("utf-8")


# ------------------------------------------------------------------ Markdown
def _md_text(text: str) -> str:
    """Registry text kept as Markdown, with HTML tags made inert (shown, not run)."""
    return unlink_unsafe(text).replace("<", "&lt;").replace(">", "&gt;")


def _md_plain(text: str) -> str:
    """ModelDeck's own words: Markdown's special characters escaped."""
    return re.sub(r"([\\`*_{}\[\]<>#|])", r"\\\1", str(text))


def _md_field(f: CardField) -> str:
    if not f.documented:
        return f"*Not documented yet* ({_md_plain(f.how)})"
    return _md_text(f.text).replace("\n", " ") if f.markdown else _md_plain(f.text)


def _md_list(fields) -> list[str]:
    return [f"- **{_md_plain(f.label)}:** {_md_field(f)}" for f in fields]


def _md_table(header, rows) -> list[str]:
    cell = lambda x: _md_plain(x).replace("\n", " ")  # noqa: E731
    out = ["| " + " | ".join(cell(h) for h in header) + " |",
           "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cell(x) for x in r) + " |" for r in rows]
    return out


def card_markdown(card: ModelCard, meta: ExportMeta = ExportMeta(),
                  generated: str = "") -> bytes:
    lines = [f"# {_md_plain(card_title(card))}", "", _md_plain(card.subtitle), ""]
    lines += ["## What it is for", "", *_md_list(card.about), ""]
    lines += ["## Data", "", *_md_list(card.training), *_md_list(card.evaluation), ""]
    lines += ["## How good it is", "", _md_plain(card.metrics_note), ""]
    if card.metrics:
        lines += _md_table(("Metric", "Value", "95% interval", "What it means"),
                           [(m.name, m.value, m.interval, m.meaning) for m in card.metrics])
        lines.append("")
    lines += ["## Where it is weaker", "", *[f"- {_md_plain(s)}" for s in card.segments], ""]
    for title, fields in (("Known limitations", card.limitations), ("Caveats", card.caveats)):
        lines += [f"## {title}", ""]
        if len(fields) == 1 and not fields[0].documented:
            lines.append(_md_field(fields[0]))
        else:
            lines += [f"- {_md_field(f)}" for f in fields]
        lines.append("")
    lines += ["## Business settings", "", *_md_list(card.business), ""]
    lines += ["## Version history", ""]
    lines += _md_table(("Version", "Alias / stage", "Created", "Algorithm",
                        card.metric_name or "Metric", "What changed"),
                       [(r.version, r.role, r.created, r.algorithm, r.value, r.description)
                        for r in card.versions.itertuples()])
    lines += ["", "---", "", _md_plain(" · ".join(x for x in (footer_text(meta), generated)
                                                   if x)), ""]
    return "\n".join(lines).encode("utf-8")
