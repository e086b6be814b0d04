"""Download controls: the menu under every chart and the report buttons of a page.

UI only. The callbacks that produce the files live in ``reports.routes`` (registered once by
``register_export(app)``); they find these pieces by the ids built here.

Every chart's menu offers PNG (1200×675 at 2× scale), SVG and PDF images rendered on the server
and the chart's data as CSV. The menu is a native ``<details>`` disclosure with real buttons,
so it works with the keyboard (Tab, Enter / Space) and screen readers announce its name.
"""
from __future__ import annotations

import json

from dash import dcc, html

CHART_FORMATS = (("png", "PNG image"), ("svg", "SVG image"), ("pdf", "PDF"), ("csv", "CSV data"))
REPORT_FORMATS = (("pptx", "PowerPoint"), ("html", "HTML report"), ("pdf", "PDF"),
                  ("md", "Markdown"))
REPORT_KINDS = ("model", "compare", "portfolio", "card")
#: the formats each kind of report offers (Markdown is the model card's own)
KIND_FORMATS = {"model": ("pptx", "html", "pdf"), "compare": ("pptx", "html", "pdf"),
                "portfolio": ("pptx", "html", "pdf"), "card": ("html", "pdf", "md")}

# Pattern-matching id types (one set per chart, keyed by the chart's key).
REF, REQUEST, DOWNLOAD, STATUS, BUSY = ("md-export-ref", "md-export-request",
                                        "md-export-download", "md-export-status",
                                        "md-export-busy")


def button_type(fmt: str) -> str:
    return f"md-export-{fmt}"


def chart_key(graph_id: str | dict) -> str:
    """A stable text key for a chart's dcc.Graph id (a string, or a pattern-matching dict)."""
    if isinstance(graph_id, dict):
        return json.dumps(graph_id, sort_keys=True, separators=(",", ":"), default=str)
    return str(graph_id)


def file_stem(graph_id: str | dict) -> str:
    """The chart's part of an export file name: 'roc-curve', 'evidence-chart-customer-churn'."""
    if isinstance(graph_id, dict):
        parts = [str(graph_id.get("type", ""))] + [str(v) for k, v in sorted(graph_id.items())
                                                     if k != "type"]
        return "-".join(p for p in parts if p)
    return str(graph_id)


def download_menu(graph_id: str | dict, title: str = "", meta: dict | None = None) -> html.Div:
    """The 'Download' disclosure of one chart, with its stores and its dcc.Download."""
    key = chart_key(graph_id)
    what = title or "this chart"
    return html.Div([
        html.Details([
            html.Summary(["Download", html.Span(f" chart: {what}", className="visually-hidden")],
                         className="btn btn-sm btn-link md-export-summary"),
            html.Div([html.Button(label, id={"type": button_type(fmt), "chart": key},
                                  type="button", n_clicks=0,
                                  className="btn btn-sm btn-outline-secondary",
                                  title=f"Download {what} as {label}")
                      for fmt, label in CHART_FORMATS],
                     role="group", className="btn-group md-export-buttons",
                     **{"aria-label": f"Download {what} as"}),
        ], className="md-export"),
        html.Span(id={"type": BUSY, "chart": key}, className="small text-muted"),
        html.Span(id={"type": STATUS, "chart": key}, className="small", role="status",
                  **{"aria-live": "polite"}),
        dcc.Store(id={"type": REF, "chart": key},
                  data={"key": key, "name": file_stem(graph_id), "meta": meta or {}}),
        dcc.Store(id={"type": REQUEST, "chart": key}),
        dcc.Download(id={"type": DOWNLOAD, "chart": key}),
    ], className="md-chart-tools")


def report_button(kind: str, **params) -> html.Div:
    """'Download a report' buttons for this page: PowerPoint deck, HTML report, PDF.

    ``kind`` is ``model`` or ``compare`` (with ``model=``) or ``portfolio``. The view's state
    (``version``, ``threshold``, ``a``, ``b``) is read from the page's address when a button is
    pressed, so the report shows what the page shows. One per page. While a report is built
    the buttons are disabled and a spinner says so. A format this kind does not offer
    (``KIND_FORMATS``) is rendered hidden: the one callback that listens to every button
    must find them all on the page."""
    if kind not in REPORT_KINDS:
        raise ValueError(f"unknown report kind {kind!r}")
    offered = KIND_FORMATS[kind]
    data = {"kind": kind, **{k: v for k, v in params.items() if v is not None}}
    return html.Div([
        html.Span("Download a report:", id="report-label", className="small fw-semibold"),
        html.Div([html.Button(label, id=f"report-{fmt}", type="button", n_clicks=0,
                              className="btn btn-sm btn-outline-dark",
                              hidden=fmt not in offered)
                  for fmt, label in REPORT_FORMATS],
                 role="group", className="btn-group", **{"aria-labelledby": "report-label"}),
        html.Span([html.Span(className="spinner-border spinner-border-sm me-1",
                             **{"aria-hidden": "true"}),
                   html.Span("Building the report… this takes a few seconds.",
                             id="report-progress")],
                  id="report-running", className="small text-muted",
                  style={"display": "none"}),
        html.Span(id="report-status", className="small", role="status",
                  **{"aria-live": "polite"}),
        dcc.Store(id="report-params", data=data),
        dcc.Store(id="report-request"),
        dcc.Download(id="report-download"),
    ], className="md-report d-flex align-items-center gap-2 flex-wrap my-2", id="report-tools")
