"""Where exports are served: the callbacks behind every chart's download menu and the report
buttons, and Flask routes under ``/export/…`` for direct links.

``register_export(app)`` is the one entry point (called once in ``app.create_app``). Every
parameter is checked against an allow-list or the registry before use: formats and report
kinds from fixed lists, models that exist, versions that are integers of that model. File
names are built from those checked names only; nothing a user types becomes a path.

Chart downloads: the menu's button runs a small browser-side callback that picks up the chart
as it is drawn (after any callback updated it, e.g. a new threshold) and the page address;
the server checks that figure (``images.figure_from_browser``), works out the footer from the
address (``content.export_meta``) and answers through ``dcc.Download``.
"""
from __future__ import annotations

import io
import json
import logging
from datetime import datetime, timezone
from urllib.parse import parse_qs

import dash
from dash import MATCH, Input, Output, State, dcc
from flask import Response, request, send_file

from components.export import (
    BUSY, CHART_FORMATS, DOWNLOAD, REF, REPORT_FORMATS, REQUEST, STATUS, button_type,
)
from registry.model import RegistryError
from serving.app_source import deck, flask_app

from .branding import Branding
from .requests import BadRequest, build_report, export_meta, parse_request
from .html_report import build_html, html_to_pdf
from .chart_data import figure_csv, figure_from_browser
from .images import MIME, ExportError, ExportMeta, RendererBusy, chart_image, safe_name
from .pptx_deck import build_pptx

log = logging.getLogger(__name__)

FORMAT_WORD = dict(CHART_FORMATS) | dict(REPORT_FORMATS)

# Runs in the browser: find the chart whose menu was used (the <figure> carrying its key),
# copy its figure as drawn (typed arrays as plain lists) and the page address.
PICK_UP_CHART = """
function (png, svg, pdf, csv, ref) {
    const dc = window.dash_clientside;
    const trig = dc.callback_context.triggered;
    if (!ref || !trig || !trig.length || !trig[0].value) { return dc.no_update; }
    const pid = trig[0].prop_id;
    let fmt;
    try { fmt = JSON.parse(pid.slice(0, pid.lastIndexOf('.'))).type.replace('md-export-', ''); }
    catch (e) { return dc.no_update; }
    let box = null;
    document.querySelectorAll('figure.md-chart').forEach(function (f) {
        if (f.getAttribute('data-md-chart') === ref.key) { box = f; }
    });
    const gd = box ? box.querySelector('.js-plotly-plot') : null;
    const plain = function (v) {
        if (ArrayBuffer.isView(v)) { return Array.from(v); }
        if (Array.isArray(v)) { return v.map(plain); }
        if (v && typeof v === 'object') {
            const o = {};
            Object.keys(v).forEach(function (k) { if (k[0] !== '_') { o[k] = plain(v[k]); } });
            return o;
        }
        return v;
    };
    const where = window.location.pathname + window.location.search;
    if (!gd || !gd.data) { return {fmt: fmt, figure: null, location: where, at: Date.now()}; }
    return {fmt: fmt, figure: {data: plain(gd.data), layout: plain(gd.layout || {})},
            location: where, at: Date.now()};
}
"""


def register_export(app: dash.Dash) -> None:
    """Chart download menus, report buttons and ``/export/report/<kind>/<fmt>``."""
    server = app.server
    server.extensions.setdefault("modeldeck.branding", Branding.from_env())
    _chart_callbacks(app)
    _report_callbacks(app)
    server.add_url_rule("/export/report/<kind>/<fmt>", "export_report", _report_route)


def _deck():
    return deck()


def _branding() -> Branding:
    return flask_app().extensions.get("modeldeck.branding") or Branding()


def _today() -> str:
    return datetime.now(timezone.utc).strftime("%d %b %Y").lstrip("0")


# ------------------------------------------------------------------ one chart
def _chart_callbacks(app: dash.Dash) -> None:
    app.clientside_callback(
        PICK_UP_CHART,
        Output({"type": REQUEST, "chart": MATCH}, "data"),
        *[Input({"type": button_type(fmt), "chart": MATCH}, "n_clicks")
          for fmt, _ in CHART_FORMATS],
        State({"type": REF, "chart": MATCH}, "data"),
        prevent_initial_call=True)

    @app.callback(Output({"type": DOWNLOAD, "chart": MATCH}, "data"),
                  Output({"type": STATUS, "chart": MATCH}, "children"),
                  Input({"type": REQUEST, "chart": MATCH}, "data"),
                  State({"type": REF, "chart": MATCH}, "data"),
                  running=[(Output({"type": BUSY, "chart": MATCH}, "children"),
                            "Preparing the file…", "")],
                  prevent_initial_call=True)
    def export_chart(req, ref):
        return chart_download(req, ref)


def chart_download(req: dict | None, ref: dict | None):
    """(dcc.Download data or no_update, status message) for one chart export request."""
    req, ref = req or {}, ref or {}
    fmt = req.get("fmt")
    if fmt not in dict(CHART_FORMATS):
        return dash.no_update, "This format cannot be exported."
    try:
        if req.get("figure") is None:
            raise ExportError("The chart is not drawn yet; try again in a moment.")
        size = len(json.dumps(req["figure"], separators=(",", ":"), default=str))
        fig = figure_from_browser(req["figure"], size)
        meta = _chart_meta(req, ref)
        name = safe_name(meta.model, f"v{meta.version}" if meta.version else "",
                         ref.get("name", ""))
        data = figure_csv(fig) if fmt == "csv" else chart_image(fig, fmt, meta, _today())
    except ExportError as e:
        return dash.no_update, str(e)
    except Exception:  # never a stack trace on the page
        log.exception("chart export failed")
        return dash.no_update, "The chart could not be exported."
    filename = f"{name}.{fmt}"
    return (dcc.send_bytes(data, filename, type=MIME[fmt]),
            f"{FORMAT_WORD[fmt]} ready: {filename}")


def _chart_meta(req: dict, ref: dict) -> ExportMeta:
    location = str(req.get("location") or "")[:2000]
    meta = ref.get("meta") if isinstance(ref.get("meta"), dict) else {}
    try:
        return export_meta(_deck(), location, meta, str(ref.get("key", ""))[:500])
    except RegistryError:
        return ExportMeta.from_dict(meta)


# ------------------------------------------------------------------ reports
# Runs in the browser: which button, and the page's query string at that moment (the model
# page writes its threshold there without reloading).
PICK_UP_REPORT = """
function () {
    const dc = window.dash_clientside;
    const trig = dc.callback_context.triggered;
    if (!trig || !trig.length || !trig[0].value) { return dc.no_update; }
    const fmt = trig[0].prop_id.split('.')[0].replace('report-', '');
    return {fmt: fmt, search: window.location.search, at: Date.now()};
}
"""
#: query keys of the page's address that a report takes over
VIEW_KEYS = ("version", "threshold", "a", "b")


def _report_callbacks(app: dash.Dash) -> None:
    buttons = [f"report-{fmt}" for fmt, _ in REPORT_FORMATS]
    app.clientside_callback(PICK_UP_REPORT, Output("report-request", "data"),
                            *[Input(b, "n_clicks") for b in buttons],
                            prevent_initial_call=True)

    # A background callback (serving/jobs.py): the report is built by a job off the web
    # worker while the page polls and shows which step it is at.
    @app.callback(Output("report-download", "data"), Output("report-status", "children"),
                  Input("report-request", "data"), State("report-params", "data"),
                  background=True, interval=POLL_MS,
                  progress=[Output("report-progress", "children")],
                  progress_default=[STEPS["start"]],
                  running=[*[(Output(b, "disabled"), True, False) for b in buttons],
                           (Output("report-running", "style"), {"display": "inline"},
                            {"display": "none"})],
                  prevent_initial_call=True)
    def make_report(set_progress, req, params):
        return report_download(req, params, lambda step: set_progress([STEPS[step]]))


#: what the page says while a report is being built
STEPS = {"start": "Building the report… this takes a few seconds.",
         "data": "Working out the numbers…",
         "charts": "Drawing the charts…",
         "pdf": "Printing the PDF…"}
#: how often the page asks whether its report is ready (milliseconds)
POLL_MS = 500


def report_file(deck, kind, fmt, query: dict, branding: Branding,
                progress=None) -> tuple[bytes, str]:
    """(file bytes, file name) of one report; BadRequest for unusable parameters.
    ``progress(step)`` is told each step (a key of STEPS) as it starts."""
    progress = progress or (lambda step: None)
    req = parse_request(deck, kind, fmt, query)
    progress("data")
    if req.kind == "card":
        return card_file(deck, req, branding, progress)
    report = build_report(deck, req)
    progress("charts")
    if fmt == "pptx":
        data = build_pptx(report, branding)
    else:
        document = build_html(report, branding)
        if fmt == "pdf":
            progress("pdf")
        data = document if fmt == "html" else html_to_pdf(document)
    return data, f"{report.stem}.{fmt}"


def card_file(deck, req, branding: Branding, progress) -> tuple[bytes, str]:
    """The model card as HTML, PDF or Markdown (reports.card_report)."""
    from analysis.card import model_card

    from .card_report import card_html, card_markdown
    from .report import data_date, day
    card = model_card(deck, req.model)
    meta = ExportMeta(req.model, "" if card.champion is None else str(card.champion),
                      day(data_date(deck, req.model)))
    generated = "generated " + datetime.now(timezone.utc).strftime("%d %b %Y %H:%M UTC")
    stem = safe_name(req.model, "model-card")
    if req.fmt == "md":
        return card_markdown(card, meta, generated), f"{stem}.md"
    progress("charts")
    document = card_html(card, deck.model(req.model), branding, meta, generated)
    if req.fmt == "pdf":
        progress("pdf")
        return html_to_pdf(document), f"{stem}.pdf"
    return document, f"{stem}.html"


def report_query(params: dict | None, search: str = "") -> dict:
    """The report's parameters: the page's own (kind, model), and the view's state from its
    address (version, threshold, a, b); only those keys are taken from the address."""
    query = dict(params) if isinstance(params, dict) else {}
    for key, values in parse_qs(str(search or "").lstrip("?")).items():
        if key in VIEW_KEYS and values:
            query[key] = values[0]
    return query


def report_download(req: dict | None, params: dict | None, progress=None):
    req = req if isinstance(req, dict) else {}
    fmt = req.get("fmt")
    query = report_query(params, req.get("search", ""))
    try:
        data, filename = report_file(_deck(), query.get("kind"), fmt, query, _branding(),
                                     progress)
    except (BadRequest, ExportError) as e:
        return dash.no_update, str(e)
    except RegistryError as e:
        return dash.no_update, f"The registry could not be read: {e.problem}"
    except Exception:
        log.exception("report failed")
        return dash.no_update, "The report could not be built."
    return (dcc.send_bytes(data, filename, type=MIME[fmt]),
            f"{FORMAT_WORD[fmt]} ready: {filename}")


def _report_route(kind: str, fmt: str):
    """GET /export/report/<kind>/<fmt>?model=&version=&a=&b=&threshold=
    kind: model | compare | portfolio | card; fmt: pptx | html | pdf (card: html | pdf | md)."""
    try:
        data, filename = report_file(_deck(), kind, fmt, request.args.to_dict(flat=True),
                                     _branding())
    except BadRequest as e:
        return Response(str(e) + "\n", status=e.status, mimetype="text/plain")
    except ExportError as e:  # busy renderers: come back later, rather than run out of memory
        retry = {"Retry-After": str(e.retry_after)} if isinstance(e, RendererBusy) else {}
        return Response(str(e) + "\n", status=503, mimetype="text/plain", headers=retry)
    except RegistryError as e:
        return Response(f"The registry could not be read: {e.problem}\n", status=503,
                        mimetype="text/plain")
    return send_file(io.BytesIO(data), mimetype=MIME[fmt], as_attachment=True,
                     download_name=filename, max_age=0)
