"""A report as one self-contained HTML file: plotly.js inlined, charts interactive, and it
opens offline (no script, style, font or image is fetched from anywhere).

Laid out by a Jinja2 template (``reports/templates/report.html``) with autoescape on: every
piece of text is HTML-escaped (registry text included); the only markup is the template's and
what this module marks as such (the figures and the inlined plotly.js).
The same report can be printed to PDF by Chromium (``html_to_pdf``).
"""
from __future__ import annotations

import html
import tempfile
from functools import lru_cache
from pathlib import Path

import plotly.io as pio
from jinja2 import Environment, PackageLoader
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from .branding import Branding
from .report import Report
from .images import ExportError, footer_text, renderer

CHART_CONFIG = {"displaylogo": False, "responsive": True,
                "modeBarButtonsToRemove": ["select2d", "lasso2d"],
                "toImageButtonOptions": {"format": "png", "width": 1200, "height": 675,
                                         "scale": 2}}


@lru_cache(maxsize=1)
def _plotlyjs() -> str:
    return get_plotlyjs()


STYLE = """
:root { --md-primary: %(primary)s; --md-accent: %(accent)s; --md-text: %(text)s; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: var(--md-text);
       margin: 0; line-height: 1.45; }
header.md-head { border-top: 10px solid var(--md-primary); padding: 1.5rem 2rem 1rem;
                 display: flex; gap: 1.25rem; align-items: center; }
header.md-head img { width: 64px; height: 64px; }
header.md-head h1 { color: var(--md-primary); margin: 0; font-size: 1.9rem; }
header.md-head p { margin: .25rem 0 0; color: #495057; }
main { padding: 0 2rem 2rem; max-width: 1280px; }
h2 { color: var(--md-primary); font-size: 1.35rem; margin: 2rem 0 .5rem; }
section.md-chart { border-top: 1px solid #dee2e6; page-break-inside: avoid; break-inside: avoid; }
p.md-takeaway { font-weight: 600; font-size: 1.1rem; border-left: 5px solid var(--md-accent);
                padding-left: .6rem; }
.md-row { display: flex; gap: 1.5rem; flex-wrap: wrap; align-items: flex-start; }
.md-figure { flex: 1 1 760px; min-width: 320px; }
.md-numbers { flex: 0 1 340px; font-size: .95rem; }
.md-numbers h3 { font-size: 1rem; margin: 0 0 .3rem; }
.md-caption { color: #495057; font-size: .9rem; margin-top: .25rem; }
.md-footer-line { color: #495057; font-size: .8rem; }
dl.md-glossary dt { font-weight: 600; margin-top: .5rem; }
dl.md-glossary dd { margin: 0 0 0 1rem; }
table.md-provenance { border-collapse: collapse; }
table.md-provenance th, table.md-provenance td { border-bottom: 1px solid #dee2e6;
    padding: .3rem .8rem .3rem 0; text-align: left; vertical-align: top; }
footer.md-foot { padding: 1rem 2rem; color: #495057; font-size: .85rem; border-top: 1px solid #dee2e6; }
@media print { main { max-width: none; } .md-figure { flex-basis: 100%%; } }
"""


def build_html(report: Report, branding: Branding = Branding()) -> bytes:
    """The report as one HTML document (``templates/report.html``)."""
    style = STYLE % {"primary": branding.primary, "accent": branding.accent,
                     "text": branding.text}
    charts = [Markup(pio.to_html(s.figure, include_plotlyjs=False, full_html=False,
                                 config=CHART_CONFIG, div_id=f"md-chart-{i}",
                                 default_width="100%",
                                 default_height=f"{s.figure.layout.height or 400}px"))
              for i, s in enumerate(report.sections)]
    byline = " · ".join(x for x in (branding.organisation, branding.title,
                                    "generated " + report.generated_text) if x)
    document = render("report.html", report=report, branding=branding,
                      sections=list(zip(report.sections, charts)), style=Markup(style),
                      plotlyjs=Markup(_plotlyjs()), byline=byline,
                      footer=footer_text(report.meta))
    return document.encode("utf-8")


def render(template: str, **context) -> str:
    """One of this package's templates (``reports/templates``), every value autoescaped."""
    return _environment().get_template(template).render(**context)


def _escaped(value) -> Markup:
    """Every value a template prints, escaped unless this module marked it as markup (the
    figures plotly.io wrote, the inlined plotly.js and the style sheet)."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape("" if value is None else str(value), quote=True))


@lru_cache(maxsize=1)
def _environment() -> Environment:
    """Templates of this package, with autoescape on (registry text is never markup)."""
    return Environment(loader=PackageLoader("reports", "templates"), autoescape=True,
                       finalize=_escaped, trim_blocks=False, keep_trailing_newline=True)


def html_to_pdf(document: bytes, timeout: float = 90) -> bytes:
    """Print the HTML report to PDF (A4, charts drawn as vectors) in a tab of the process's
    one Chromium (``images.renderer()``), within the render slots every export shares.

    The HTML goes to a private temporary folder the server creates; no name in it comes from
    a request."""
    with tempfile.TemporaryDirectory(prefix="modeldeck-pdf-") as tmp:
        src = Path(tmp) / "report.html"
        src.write_bytes(document)
        data = renderer().print_pdf(src.as_uri(), timeout)
    if not data.startswith(b"%PDF"):
        raise ExportError("Chromium could not print the report to PDF.")
    return data
