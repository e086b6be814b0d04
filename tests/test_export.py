"""Chart exports: the menu every chart gets, images (magic bytes, legend, footer), the data
behind a chart as CSV, checks on figures sent by a browser, footers, and validated routes."""
from __future__ import annotations

import base64
import json

import numpy as np
import plotly.graph_objects as go
import pytest
from dash import dcc, html

from analysis.evaluation import threshold_result, version_evaluation
from analysis.versions import metric_across_versions
from app import Settings, create_app
from components.evaluation_figures import (
    confusion_matrix_figure, roc_figure, versions_trend_figure,
)
from components.export import chart_key, download_menu, report_button
from components.graph import chart
from conftest import build_tiny_registry
from registry import open_source
from registry.cached import CachedSource
from reports.requests import export_meta
from reports.chart_data import figure_csv, figure_from_browser, figure_table
from reports.images import (
    ExportError, ExportMeta, chart_image, footer_text, for_export, renderer, safe_name,
)


@pytest.fixture(scope="session", autouse=True)
def close_renderer_at_the_end():
    yield
    renderer().close()


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    return build_tiny_registry(tmp_path_factory.mktemp("export") / "reg")


@pytest.fixture(scope="module")
def deck(registry):
    return CachedSource(open_source(str(registry)))


@pytest.fixture(scope="module")
def roc(deck):
    ev = version_evaluation(deck, "churn", 2)
    tr = threshold_result(deck, "churn", 2, 0.5)
    return ev, roc_figure([("v2", ev.binary.roc)], [("v2", tr)])


def _walk(component):
    yield component
    children = getattr(component, "children", None)
    for c in children if isinstance(children, list) else [children]:
        if c is not None and hasattr(c, "to_plotly_json"):
            yield from _walk(c)


# ------------------------------------------------------------------ the menu
def test_chart_call_is_unchanged_and_every_chart_gets_the_menu():
    fig = go.Figure(go.Scatter(x=[1, 2], y=[3, 4])).update_layout(title_text="Sales by month")
    out = chart(fig, id="sales", caption="What it shows")
    assert isinstance(out, html.Figure)
    graph = out.children[0]
    assert isinstance(graph, dcc.Graph) and graph.id == "sales" and graph.figure is fig
    assert isinstance(out.children[-1], html.Figcaption)
    assert out.children[-1].children == "What it shows"
    assert getattr(out, "data-md-chart") == "sales"
    ids = [c.id for c in _walk(out) if isinstance(getattr(c, "id", None), dict)]
    types = {i["type"] for i in ids}
    assert {"md-export-png", "md-export-svg", "md-export-pdf", "md-export-csv",
            "md-export-ref", "md-export-request", "md-export-download"} <= types
    assert all(i["chart"] == "sales" for i in ids)
    buttons = [c for c in _walk(out) if isinstance(c, html.Button)]
    assert [b.children for b in buttons] == ["PNG image", "SVG image", "PDF", "CSV data"]
    assert all(b.type == "button" for b in buttons)
    assert buttons[0].title == "Download Sales by month as PNG image"
    summary = next(c for c in _walk(out) if isinstance(c, html.Summary))
    assert summary.children[0] == "Download"
    assert summary.children[1].children == " chart: Sales by month"  # its accessible name
    group = next(c for c in _walk(out) if getattr(c, "role", None) == "group")
    assert getattr(group, "aria-label") == "Download Sales by month as"
    assert chart(fig, id="x", export=False).children[1] is None


def test_pattern_matching_graph_ids_get_a_stable_key():
    gid = {"type": "evidence-chart", "model": "churn", "action": "retrain"}
    key = chart_key(gid)
    assert key == '{"action":"retrain","model":"churn","type":"evidence-chart"}'
    ref = next(c for c in _walk(download_menu(gid, "t", {"model": "churn"}))
               if isinstance(c, dcc.Store) and c.id["type"] == "md-export-ref")
    assert ref.data == {"key": key, "name": "evidence-chart-retrain-churn",
                        "meta": {"model": "churn"}}


def test_report_button_holds_only_the_page_parameters():
    out = report_button("compare", model="churn", a=None)
    store = next(c for c in _walk(out) if getattr(c, "id", None) == "report-params")
    assert store.data == {"kind": "compare", "model": "churn"}
    # every page has every format's button (one callback listens to all); those its kind
    # does not offer are hidden: Markdown is the model card's alone, the card has no deck
    shown = lambda b: [c.id for c in _walk(b) if isinstance(c, html.Button)  # noqa: E731
                       and not getattr(c, "hidden", False)]
    assert [c.id for c in _walk(out) if isinstance(c, html.Button)] == \
        ["report-pptx", "report-html", "report-pdf", "report-md"]
    assert shown(out) == ["report-pptx", "report-html", "report-pdf"]
    assert shown(report_button("card", model="churn")) == \
        ["report-html", "report-pdf", "report-md"]
    with pytest.raises(ValueError):
        report_button("everything")


# ------------------------------------------------------------------ footer and layout
def test_footer_names_model_version_and_data_date():
    assert footer_text(ExportMeta("churn", "3", "26 Nov 2026")) == \
        "ModelDeck · churn v3 · data as of 26 Nov 2026"
    assert footer_text(ExportMeta("churn", "2 vs 3", "1 Jan 2026")) == \
        "ModelDeck · churn v2 vs 3 · data as of 1 Jan 2026"
    assert footer_text(ExportMeta(), exported="5 May 2026") == "ModelDeck · exported 5 May 2026"
    assert ExportMeta.from_dict({"model": "m" * 100, "other": "x"}).model == "m" * 60


def test_export_layout_keeps_title_legend_and_axes(roc):
    _, fig = roc
    out = for_export(fig, "ModelDeck · churn v2 · data as of 1 Jan 2026")
    assert (out.layout.width, out.layout.height) == (1200, 675)
    assert out.layout.title.text == fig.layout.title.text
    assert out.layout.xaxis.title.text == fig.layout.xaxis.title.text
    assert out.layout.yaxis.title.text == fig.layout.yaxis.title.text
    assert [t.name for t in out.data] == [t.name for t in fig.data]
    assert out.layout.annotations[-1].text == "ModelDeck · churn v2 · data as of 1 Jan 2026"
    assert len(fig.layout.annotations) == 0  # the page's figure is untouched
    tall = go.Figure().update_layout(height=900)
    assert for_export(tall, "f").layout.height == 900 + 34


# ------------------------------------------------------------------ the data behind a chart
def test_csv_holds_the_plotted_points_under_the_axis_titles(roc):
    ev, fig = roc
    table = figure_table(fig)
    x_title, y_title = fig.layout.xaxis.title.text, fig.layout.yaxis.title.text
    assert list(table.columns[:3]) == ["series", x_title, y_title]
    curve = table.loc[table["series"] == "v2 (AUC %.3f)" % ev.binary.roc.area]
    np.testing.assert_allclose(curve[x_title].astype(float), ev.binary.roc.x, atol=1e-12)
    np.testing.assert_allclose(curve[y_title].astype(float), ev.binary.roc.y, atol=1e-12)
    assert "a coin toss (AUC 0.5)" not in set(table["series"])  # decoration, no hover
    text = figure_csv(fig).decode("utf-8-sig").splitlines()
    assert text[0] == f"# {fig.layout.title.text}"
    assert text[1].startswith("series,")


def test_csv_of_a_heat_map_and_of_intervals(deck):
    tr = threshold_result(deck, "churn", 2, 0.5)
    table = figure_table(confusion_matrix_figure(tr.matrix, ["negative", "positive"]))
    assert list(table.columns) == ["series", "Predicted class", "Actual class", "% of actual",
                                   "label"]
    counts = {(r[2], r[1]): int(r[4]) for r in table.itertuples(index=False)}
    assert counts == {("negative", "negative"): tr.tn, ("negative", "positive"): tr.fp,
                      ("positive", "negative"): tr.fn, ("positive", "positive"): tr.tp}
    trend = metric_across_versions(deck, "churn")
    table = figure_table(versions_trend_figure(trend, "ROC AUC"))
    np.testing.assert_allclose(table["ROC AUC: 95% low"], trend["low"], atol=1e-12)
    np.testing.assert_allclose(table["ROC AUC: 95% high"], trend["high"], atol=1e-12)
    np.testing.assert_allclose(table["ROC AUC"], trend["value"], atol=1e-12)


# ------------------------------------------------------------------ figures from a browser
def test_figures_from_the_browser_are_checked():
    with pytest.raises(ExportError):
        figure_from_browser("not a figure")
    with pytest.raises(ExportError):
        figure_from_browser({"data": [{"type": "scattermapbox", "lat": [1]}], "layout": {}})
    with pytest.raises(ExportError):
        figure_from_browser({"data": []}, size_hint=10_000_000)
    fig = figure_from_browser({
        "data": [{"type": "heatmap", "_private": 1,
                  "z": {"dtype": "f8", "shape": "2, 2",
                        "bdata": base64.b64encode(np.arange(4.0).tobytes()).decode()}}],
        "layout": {"_size": 3, "images": [
            {"source": "http://169.254.169.254/latest", "x": 0, "y": 0},
            {"source": "file:///etc/passwd"},
            {"source": "data:image/png;base64,iVBORw0KGgo="}],
            "template": {"layout": {"images": [{"source": "https://example.com/x.png"}]}}}})
    assert [list(r) for r in fig.data[0].z] == [[0.0, 1.0], [2.0, 3.0]]
    assert [i.source for i in fig.layout.images] == ["data:image/png;base64,iVBORw0KGgo="]
    assert len(fig.layout.template.layout.images) == 0


def test_file_names_are_built_from_safe_parts():
    assert safe_name("churn", "v2", "roc-curve") == "churn-v2-roc-curve"
    assert safe_name("../../etc", "pass wd") == "etc-pass-wd"
    assert safe_name("", "") == "chart"
    assert "/" not in safe_name("a/b\\c:d")


# ------------------------------------------------------------------ images
@pytest.fixture(scope="module")
def images(roc):
    """The chart in each format, rendered by the process's one renderer (closed at the end of
    the test session, while pytest's output streams are still open)."""
    _, fig = roc
    meta = ExportMeta("churn", "2", "1 Apr 2026")
    before = renderer().starts  # another test module may have started (and closed) one
    out = {fmt: chart_image(fig, fmt, meta) for fmt in ("png", "svg", "pdf")}
    out["browsers started"] = renderer().starts - before
    return out


def test_images_are_valid_files_of_their_type(images):
    png = images["png"]
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (2400, 1350)  # 1200 × 675 at scale 2
    assert images["svg"].lstrip().startswith(b"<svg") and images["svg"].rstrip().endswith(
        b"</svg>")
    assert images["pdf"].startswith(b"%PDF-") and b"%%EOF" in images["pdf"][-1024:]
    assert images["browsers started"] <= 1  # one long-lived Chromium for all of them
    assert renderer().running


def test_svg_keeps_legend_title_axes_and_footer(images, roc):
    ev, fig = roc
    svg = images["svg"].decode()
    assert f"v2 (AUC {ev.binary.roc.area:.3f})" in svg  # legend
    assert "v2 at threshold 0.50" in svg
    assert fig.layout.title.text in svg
    assert fig.layout.xaxis.title.text in svg
    assert "ModelDeck · churn v2 · data as of 1 Apr 2026" in svg
    assert len(svg) < 200_000  # not W&B's 6 MB


# ------------------------------------------------------------------ footers from the page
def test_footer_is_worked_out_from_the_page_address(deck):
    d = "13 Apr 2026"  # the newest monitoring row of the tiny registry
    assert export_meta(deck, "/models/churn") == ExportMeta("churn", "2", d)
    assert export_meta(deck, "/models/churn?version=3&threshold=0.3") == \
        ExportMeta("churn", "3", d)
    assert export_meta(deck, "/models/churn?version=99").version == "2"  # champion
    assert export_meta(deck, "/compare?model=churn&a=1&b=3").version == "1 vs 3"
    assert export_meta(deck, "/compare?model=churn").version == "2 vs 3"  # default pair
    assert export_meta(deck, "/monitoring/churn").model == "churn"
    assert export_meta(deck, "/recommendations", None,
                       chart_key({"type": "evidence-chart", "model": "iris"})).model == "iris"
    assert export_meta(deck, "/models/nope") == ExportMeta()
    assert export_meta(deck, "/experiments") == ExportMeta()
    assert export_meta(deck, "/models/churn", {"version": "7", "data_date": "x"}) == \
        ExportMeta("churn", "7", "x")


# ------------------------------------------------------------------ served through the app
@pytest.fixture(scope="module")
def app(registry):
    return create_app(Settings(registry=str(registry)))


def test_chart_download_callback(app, roc):
    from reports.routes import chart_download

    _, fig = roc
    ref = {"key": "roc-curve", "name": "roc-curve", "meta": {}}
    sent = json.loads(fig.to_json())
    with app.server.test_request_context():
        data, status = chart_download({"fmt": "png", "figure": sent,
                                       "location": "/models/churn?version=2"}, ref)
        assert data["filename"] == "churn-v2-roc-curve.png" and data["base64"]
        assert base64.b64decode(data["content"]).startswith(b"\x89PNG")
        assert status == "PNG image ready: churn-v2-roc-curve.png"
        data, _ = chart_download({"fmt": "csv", "figure": sent, "location": "/x"}, ref)
        assert data["filename"] == "roc-curve.csv"
        for bad in ({"fmt": "exe", "figure": sent}, {"fmt": "svg", "figure": None},
                    {"fmt": "svg", "figure": {"data": [{"type": "scattergeo"}]}}):
            data, status = chart_download(bad, ref)
            assert data is not None and status and "Traceback" not in status
            assert not isinstance(data, dict)  # no_update: nothing downloaded


@pytest.mark.parametrize("url, status, text", [
    ("/export/report/model/xls?model=churn", 400, "Unknown format 'xls'"),
    ("/export/report/everything/pptx", 404, "Unknown report 'everything'"),
    ("/export/report/model/pptx", 400, "Say which model"),
    ("/export/report/model/pptx?model=nope", 404, "There is no model called 'nope'"),
    ("/export/report/model/pptx?model=..%2F..%2Fetc", 404, "There is no model called"),
    ("/export/report/model/html?model=churn&version=two", 400, "must be a version number"),
    ("/export/report/model/html?model=churn&version=9", 404, "churn has no version 9"),
    ("/export/report/compare/html?model=churn&a=2&b=2", 400, "two different versions"),
    ("/export/report/compare/html?model=churn&a=2&b=7", 404, "churn has no version 7"),
    ("/export/report/model/html?model=churn&threshold=2", 400, "not a threshold"),
])
def test_report_routes_validate_every_parameter(app, url, status, text):
    r = app.server.test_client().get(url)
    assert r.status_code == status
    assert r.mimetype == "text/plain" and text in r.get_data(as_text=True)


def test_report_route_serves_a_named_file(app):
    r = app.server.test_client().get("/export/report/model/html?model=price&version=2")
    assert r.status_code == 200 and r.mimetype == "text/html"
    assert r.headers["Content-Disposition"] == "attachment; filename=price-v2-report.html"
    assert b"<h1>price: model report</h1>" in r.data


def test_report_takes_the_view_from_the_address_and_nothing_else():
    from reports.routes import report_query

    q = report_query({"kind": "model", "model": "churn"},
                     "?version=3&threshold=0.30&model=other&kind=portfolio&x=1")
    assert q == {"kind": "model", "model": "churn", "version": "3", "threshold": "0.30"}
