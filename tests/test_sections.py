"""A page and its report say the same things: every section of the model and compare reports
is drawn on its page with the same takeaway, caption and figure (both come from one
``sections`` object), on every model of the sample registry."""
from __future__ import annotations

import dash
import pytest
from dash import dcc, html

from analysis.compare import default_pair
from app import Settings, create_app
from registry import SAMPLE_REGISTRY
from reports.compare_report import compare_report
from reports.model_report import model_report

MODELS = ["breast-cancer", "customer-churn", "diabetes-progression", "digits"]
#: sections of the model report drawn on the monitoring page, not the model page
MONITORING_KEYS = {"performance-over-time", "drift-heatmap"}


@pytest.fixture(scope="module")
def app():
    return create_app(Settings(registry=str(SAMPLE_REGISTRY)))


def _walk(component):
    if isinstance(component, (list, tuple)):
        for c in component:
            yield from _walk(c)
    elif hasattr(component, "to_plotly_json"):
        yield component
        yield from _walk(getattr(component, "children", None))


def _text(component) -> str:
    if component is None:
        return ""
    if isinstance(component, (str, int, float)):
        return str(component)
    if isinstance(component, (list, tuple)):
        return "".join(_text(c) for c in component)
    return _text(getattr(component, "children", None))


def _page(layout):
    """(takeaway sentences, {chart id: (figure, caption)}) of a page layout."""
    takeaways = [_text(c) for c in _walk(layout)
                 if "md-takeaway" in (getattr(c, "className", None) or "").split()]
    charts = {}
    for c in _walk(layout):
        if isinstance(c, html.Figure):
            graphs = [g for g in _walk(c.children) if isinstance(g, dcc.Graph)]
            captions = [_text(x) for x in _walk(c.children) if isinstance(x, html.Figcaption)]
            if graphs:
                charts[graphs[0].id] = (graphs[0].figure, captions[0] if captions else "")
    return takeaways, charts


def _same(section, takeaways, charts):
    assert section.key in charts, (section.key, sorted(charts))
    figure, caption = charts[section.key]
    assert caption == section.caption
    assert figure.layout.title.text == section.figure.layout.title.text
    assert [t.name for t in figure.data] == [t.name for t in section.figure.data]
    if section.takeaway:
        assert section.takeaway in takeaways, (section.key, section.takeaway, takeaways)


@pytest.mark.parametrize("name", MODELS)
def test_the_model_page_and_its_report_say_the_same(app, name):
    from pages._data import deck
    layout = dash.page_registry["pages.model"]["layout"]
    with app.server.test_request_context(f"/models/{name}"):
        takeaways, charts = _page(layout(name=name))
        report = model_report(deck(), name)
    shared = [s for s in report.sections if s.key not in MONITORING_KEYS]
    assert len(shared) >= 3
    for section in shared:
        _same(section, takeaways, charts)
    # the page's takeaways are the report's, not sentences of their own
    assert set(takeaways) <= {s.takeaway for s in report.sections}


@pytest.mark.parametrize("name", MODELS)
def test_the_compare_page_and_its_report_say_the_same(app, name):
    from pages._data import deck
    layout = dash.page_registry["pages.compare"]["layout"]
    with app.server.test_request_context(f"/compare?model={name}"):
        d = deck()
        a, b = default_pair(d.versions(name).items)
        page = layout(model=name)
        takeaways, charts = _page(page)
        report = compare_report(d, name, a, b)
    verdict = next(c for c in _walk(page) if getattr(c, "id", None) == "verdict")
    assert _text(verdict) == report.summary[0]
    assert report.sections
    for section in report.sections:
        _same(section, takeaways, charts)
