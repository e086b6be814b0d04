"""`/compare?model=&a=&b=` — two versions of one model on the same evaluation rows.

With no ``a``/``b``: champion against challenger, else the two newest versions. Choosing
versions puts them in the URL, so a reloaded or shared link shows the same comparison.
"""
from __future__ import annotations

from urllib.parse import urlencode

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html

from analysis.compare import comparison_outline, default_pair, version_comparison
from analysis.evaluation import parse_threshold, threshold_result, version_outline
from analysis.language import (
    GLOSSARY, difference_digits, format_difference, format_value, interval_text,
    not_judged_text,
)
from analysis.logged import logged_comparison, version_changes
from analysis.metrics import METRICS, cannot_compute
from components.cards import scroll_table
from components.export import report_button
from components.logged import changes_section, logged_compare_table
from components.messages import not_found, registry_problem
from components.section import section_view
from components.shell import model_page_heading
from registry import RegistryError
from sections.compare import (
    difference_lines, logged_verdict, overlay_sections, segment_delta_section, verdict_word,
)

from ._data import cached_model_view, checked_ref, deck, one

dash.register_page(__name__, path="/compare", name="Compare",
                   title=lambda model=None, **_: f"Compare {model or 'versions'} · ModelDeck")


def compare_href(model: str, a: int, b: int, threshold: float | None = None) -> str:
    query = {"model": model, "a": int(a), "b": int(b)}
    if threshold is not None and round(threshold, 2) != 0.5:
        query["threshold"] = f"{threshold:.2f}"
    return f"/compare?{urlencode(query)}"


def layout(model: str | None = None, a: str | None = None, b: str | None = None,
           threshold: str | None = None, **_query):
    model, a, b, threshold = one(model), one(a), one(b), one(threshold)
    try:
        d = deck()
        if not model:
            return _choose_model(d)
        m = d.model(model)
        versions = d.versions(m.name).items
    except KeyError:
        return not_found(f"There is no model called {model!r} in this registry.",
                         "/compare", "Choose a model")
    except RegistryError as e:
        return registry_problem(e.problem)
    header = [
        *model_page_heading(m.name, "Compare", f"Compare two versions of {m.name}", "h3"),
    ]
    pair = default_pair(versions)
    if pair is None:
        return html.Div(header + [dbc.Alert("This model has fewer than two versions, so there "
                                            "is nothing to compare yet.", color="info")])
    known = {v.version for v in versions}
    try:
        va = int(a) if a not in (None, "") else pair[0]
        vb = int(b) if b not in (None, "") else pair[1]
    except (TypeError, ValueError):
        va = vb = None
    t, t_message = parse_threshold(threshold)
    options = [{"label": f"v{v.version}" + (f" ({', '.join(v.aliases) or v.stage})"
                                           if v.aliases or v.stage else ""),
                "value": v.version} for v in sorted(versions, key=lambda v: -v.version)]
    bad = va not in known or vb not in known
    controls = html.Div([
        dcc.Location(id="compare-nav", refresh="callback-nav"),
        dcc.Store(id="compare-ref", data={"model": m.name, "threshold": t}),
        html.Div([html.Label("Version A (baseline)", htmlFor="compare-a", className="form-label"),
                  dcc.Dropdown(id="compare-a", options=options, clearable=False,
                               searchable=False, value=None if bad else va)],
                 style={"minWidth": "14rem"}),
        html.Div([html.Label("Version B (candidate)", htmlFor="compare-b",
                             className="form-label"),
                  dcc.Dropdown(id="compare-b", options=options, clearable=False,
                               searchable=False, value=None if bad else vb)],
                 style={"minWidth": "14rem"}),
    ], className="d-flex gap-3 flex-wrap mb-3", id="compare-controls")
    parts = header + [controls]
    if t_message:
        parts.append(dbc.Alert(t_message, color="warning"))
    if bad:
        return html.Div(parts + [dbc.Alert(
            f"{m.name} has no version {a if va not in known else b}; choose two of its "
            "versions above.", color="warning", id="verdict")])
    if va == vb:
        return html.Div(parts + [dbc.Alert("Choose two different versions to compare.",
                                           color="info", id="verdict")])
    by_number = {v.version: v for v in versions}
    changes = changes_section(version_changes(by_number[va], by_number[vb]), va, vb)
    try:
        if not m.task_known:
            raise KeyError(m.name)
        # for rows an engine keeps, everything but the segments first (they follow from
        # ``fill_segments``); the charts need each version's curves, not its segments
        comp = comparison_outline(d, m.name, va, vb, t)
        ea, eb = version_outline(d, m.name, va), version_outline(d, m.name, vb)
    except KeyError:
        return html.Div(parts + _logged_only(m, by_number[va], by_number[vb]) + [changes])
    except RegistryError as e:
        return html.Div(parts + [dbc.Alert(str(e.problem), color="warning", id="verdict")])
    parts.append(dbc.Alert(comp.verdict, color="light", className="fs-6 border",
                           id="verdict"))
    parts.append(report_button("compare", model=m.name))
    if comp.problem:
        return html.Div(parts)
    parts += [
        html.P([f"Both versions on the same {comp.rows:,} evaluation rows. Differences are "
                f"version {vb} minus version {va}; each range is a ",
                html.Abbr("paired 95% interval", title=GLOSSARY["paired_interval"]), "."]
               + ([f" Threshold-dependent metrics at threshold {t:.2f}."]
                  if m.task == "binary" else []), className="small text-muted"),
        _metric_table(comp, m, va, vb),
    ]
    if comp.unavailable:
        parts.append(html.Ul([html.Li(cannot_compute(k, why)) for k, why in
                              comp.unavailable.items()], id="compare-unavailable",
                             className="small"))
    parts += _overlays(d, m, va, vb, ea, eb, t, comp)
    if comp.segments_pending:
        parts += [html.Div(html.P("Working out how each segment changed…",
                                  className="text-muted small", role="status"),
                           id="compare-segments", **{"aria-live": "polite"}),
                  dcc.Store(id="compare-segments-ref",
                            data={"model": m.name, "a": va, "b": vb, "threshold": t})]
    else:
        parts += _segment_parts(comp, m, va, vb)
    parts.append(changes)
    return html.Div(parts)


def _segment_parts(comp, m, va: int, vb: int) -> list:
    section = segment_delta_section(comp, m, va, vb)
    if section is None:
        return []
    parts = [html.H2(section.title, className="h5 mt-4"), section_view(section, title=False)]
    if not_judged_text(comp.segments):
        parts.append(html.P(not_judged_text(comp.segments), id="segments-not-judged",
                            className="small text-muted"))
    return parts


@callback(Output("compare-segments", "children"), Input("compare-segments-ref", "data"))
def fill_segments(ref):
    """How each segment changed between two versions whose rows an engine keeps, once
    worked out (the first view left it out)."""
    ref = checked_ref("compare-segments", ref,
                      {"a": (int,), "b": (int,), "threshold": (int, float)})
    name, a, b, t = ref["model"], ref["a"], ref["b"], ref["threshold"]

    def build():
        d = deck()
        comp = version_comparison(d, name, a, b, t)
        return _segment_parts(comp, d.model(name), a, b) or \
            [html.P("These versions' rows have no segment columns.", className="small")]
    return cached_model_view(("compare-segments", name, a, b, round(float(t), 2)), name,
                             build)


def _logged_only(m, a, b):
    """Two versions of which at least one has no prediction rows: their logged metrics side
    by side, as point values."""
    table = logged_comparison(m, a, b)
    parts = [dbc.Alert(logged_verdict(m, a, b), color="info", id="verdict")]
    if table.empty:
        parts.append(html.P("The two versions logged no metric in common.",
                            id="compare-logged-table"))
    else:
        parts.append(logged_compare_table(table, a.version, b.version))
    return parts


def _choose_model(d):
    items = [html.Li(html.A(m.name, href=f"/compare?{urlencode({'model': m.name})}"))
             for m in d.models().items]
    return html.Div([html.H1("Compare two versions", className="h3"),
                     html.P("Choose a model:"), html.Ul(items, id="compare-models")])


def _metric_table(comp, model, a, b):
    head = html.Thead(html.Tr([html.Th(h, scope="col") for h in (
        "Metric", f"v{a}", f"v{b}", f"Difference (v{b} − v{a})", "95% paired interval",
        "Verdict")]))
    rows = []
    for r in comp.table().itertuples():
        info = METRICS[r.metric]
        unit = model.target_unit if info.kind == "unit" else ""
        word = verdict_word(r, b)
        rows.append(html.Tr([
            html.Th(html.Abbr(info.name, title=GLOSSARY.get(r.metric, "")), scope="row"),
            html.Td(format_value(r.metric, r.value_a, unit)),
            html.Td(format_value(r.metric, r.value_b, unit)),
            html.Td(format_difference(r.metric, r.delta, unit, digits := difference_digits(
                r.metric, r.delta, r.low, r.high))),
            html.Td(interval_text(r.metric, r.low, r.high, unit, difference=True,
                                  digits=digits).removeprefix("95% CI ")),
            html.Td(word, className="delta-better" if r.significant and r.better else
                    ("delta-worse" if r.significant else "")),
        ]))
    return scroll_table(dbc.Table([head, html.Tbody(rows)], size="sm", hover=True,
                                  id="compare-table", className="align-middle w-auto"),
                        "Both versions side by side")


def _overlays(d, m, va, vb, ea, eb, t, comp):
    ta = tb = None
    if m.task == "binary":
        ta, tb = threshold_result(d, m.name, va, t), threshold_result(d, m.name, vb, t)
    sections = overlay_sections(m, va, vb, ea, eb, ta, tb, comp,
                                difference_lines(comp, m, va, vb))
    if not sections:
        return []
    heading = {"binary": "The two versions' curves", "multiclass": "Confusion matrices",
               "regression": "Errors of the two versions"}[m.task]
    return [html.H2(heading, className="h5 mt-4"),
            dbc.Row([dbc.Col(section_view(x), lg=6) for x in sections], className="g-3")]


@callback(Output("compare-nav", "href"), Input("compare-a", "value"),
          Input("compare-b", "value"), State("compare-ref", "data"), prevent_initial_call=True)
def choose_versions(a, b, ref):
    """Put the chosen versions into the URL; the page then shows that comparison."""
    if a is None or b is None:
        return dash.no_update
    return compare_href(ref["model"], a, b, ref.get("threshold"))
