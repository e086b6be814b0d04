"""`/models/<name>` — one model: what it is for, its champion, its versions, and how good the
chosen version is (`?version=` selects, default the champion; `?threshold=` for yes/no models).
"""
from __future__ import annotations

from urllib.parse import urlencode

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, clientside_callback, dcc, html

from analysis.evaluation import (
    parse_threshold, threshold_result, version_evaluation, version_outline,
)
from analysis.evaluation_rows import evaluation_summary
from analysis.task_rows import task_points
from analysis.language import (
    GLOSSARY, confused_pair_sentence, format_value, interval_text, no_curve_sentence,
    not_judged_text, one_vs_rest_sentence, plural,
)
from analysis.logged import logged_across_versions, logged_values
from analysis.metrics import METRICS, headline_metric
from analysis.multiclass import per_class_notes
from analysis.portfolio import summarize, summary_if_ready
from analysis.validation import evaluation_splits, validation_pending, version_validation
from analysis.versions import metric_across_versions, version_table, version_table_if_ready
from components.cards import TASK_LABEL, problems_alert, scroll_table, status_badge
from components.export import report_button
from components.graph import chart
from components.logged import logged_images_section, logged_metrics_section, logged_trend_table
from components.metric_cards import headline_card, metric_card, unavailable_card, versions_table
from components.section import TAKEAWAY_CLASS, section_view, takeaway
from registry import RegistryError
from registry.model import champion_of
from sections import by_key
from sections.model import (
    binary_sections, multiclass_sections, regression_sections, segment_section,
    threshold_section, trend_section, validation_section, validation_sentences, weakest_lines,
)

from ._business import business_section, register_callbacks
from ._data import (
    cached_model_view, cached_outputs, checked_ref, deck, model_or_message, one,
)

register_callbacks()  # the "What is it worth?" section's callbacks, for this app
dash.register_page(__name__, path_template="/models/<name>", name="Model",
                   title=lambda name=None, **_: f"{name} · ModelDeck")

# Metric cards shown without a threshold, by task; yes/no models add the threshold ones.
CARD_METRICS = {"binary": ("roc_auc", "average_precision", "log_loss", "brier"),
                "multiclass": ("accuracy", "f1_macro", "f1_weighted", "log_loss"),
                "regression": ("mae", "rmse", "r2", "mape")}
THRESHOLD_METRICS = ("precision", "recall", "accuracy", "f1")


def layout(name: str | None = None, version: str | None = None, threshold: str | None = None,
           **query):
    version, threshold = one(version), one(threshold)
    query = {k: one(v) for k, v in query.items()}
    d = deck()
    model, message = model_or_message(name)
    if model is None:
        return message
    evaluation = _evaluation_section(d, model, version, threshold)
    if _across_pending(d, model, evaluation):
        # The shown version's rows are summarised by an engine and the other versions' are
        # not yet: their numbers (health, headline, versions table, trend) come from a
        # callback, so that the first screen waits for one version only.
        status, health, across = (
            dbc.Badge("Checking…", color="light", className="status-badge text-dark",
                      id="model-status"),
            html.P("Working out this model's health and headline from all its versions…",
                   className="text-muted small", role="status"),
            html.P("Working out every version's numbers…", className="text-muted small",
                   role="status"))
        ref = dcc.Store(id="across-ref", data={"model": model.name})
    else:
        status, health, across = _across_parts(d, model)
        ref = None
    return html.Div([
        dbc.Breadcrumb(items=[{"label": "Portfolio", "href": "/"},
                              {"label": model.name, "active": True}]),
        html.Div([html.H1(model.name, className="h3 mb-0"),
                  html.Span(status, id="model-status-slot")],
                 className="d-flex align-items-center gap-3"),
        html.P(TASK_LABEL.get(model.task, "Task unknown") +
               (f" · owner: {model.owner}" if model.owner else ""), className="text-muted"),
        _task_note(model),
        html.P(model.description or "No description in the registry.", id="model-description"),
        html.Nav([html.A("Model card", href=f"/models/{model.name}/card"), " · ",
                  html.A("Retraining story", href=f"/models/{model.name}/history")],
                 id="model-links", className="small mb-2", **{"aria-label": "About this model"}),
        report_button("model", model=model.name),
        html.Div(health, id="model-health", **{"aria-live": "polite"}),
        evaluation,
        _validation_section(d, model, version, threshold),
        _worth(model, version, threshold, query),
        html.Div(across, id="model-across", **{"aria-live": "polite"}),
        ref,
    ])


def _across_pending(d, model, evaluation) -> bool:
    """Whether the numbers across versions are still to be worked out and would make the
    first screen wait for an engine's summaries of the other versions: the shown version's
    rows are kept by an engine (so, most likely, are the others') and the health or the
    versions table is not in the cache yet."""
    if summary_if_ready(d, model.name) is not None and version_table_if_ready(
            d, model.name) is not None:
        return False
    ref = _shown_version(evaluation)
    if ref is None:
        return False
    try:
        return evaluation_summary(d, model.name, ref) is not None or \
            task_points(d, model.name, ref) is not None
    except (KeyError, RegistryError):
        return False


def _shown_version(evaluation) -> int | None:
    """The version whose evaluation ``_evaluation_section`` shows (its "model-ref" store)."""
    if evaluation is None:
        return None
    for child in evaluation.children or ():
        if getattr(child, "id", None) == "model-ref":
            return child.data["version"]
    return None


def _across_parts(d, model) -> tuple:
    """(status badge, health, versions table and trend): what the page says from every
    version's numbers."""
    summary = summarize(d, model.name)
    table = version_table(d, model.name)
    metric = METRICS.get(summary.metric)
    health = [problems_alert(list(summary.notes)),
              dbc.Alert([html.Strong("Health: "), summary.health.reason],
                        color={"ok": "success", "watch": "warning", "act": "danger"}.get(
                            summary.health.status, "secondary"), className="py-2"),
              headline_card(summary, metric)]
    across = [html.H2("Versions", className="h5 mt-4"),
              versions_table(table, metric, model.target_unit),
              _trend(model, metric, metric_across_versions(d, model.name), summary.champion)
              if metric is not None and table["value"].notna().any() else None]
    return status_badge(summary.health.status, id="model-status"), health, across


@callback(Output("model-status-slot", "children"), Output("model-health", "children"),
          Output("model-across", "children"), Input("across-ref", "data"))
def fill_across(ref):
    """The parts of the page worked out from every version (``_across_parts``), once the
    engine has summarised them."""
    name = checked_ref("across", ref)["model"]
    got = cached_model_view(("across", name), name,
                            lambda: list(_across_parts(deck(), deck().model(name))))
    if isinstance(got, list) and len(got) == 3:
        return tuple(got)
    return dash.no_update, got, None  # what to say instead: the model went, or its files


def _task_note(model):
    """Where the task came from, always; for an unknown task, how to set it."""
    if not model.task_known:
        return dbc.Alert([html.Strong("Task unknown. "), model.task_source.removeprefix(
            "unknown: ").capitalize() + "."], color="info", id="task-source", className="py-2")
    word = {"binary": "yes/no", "multiclass": "one of several classes",
            "regression": "a number"}[model.task]
    return html.P(f"Task: {word}, {model.task_source}.", id="task-source",
                  className="small text-muted")


def _worth(model, version, threshold, query):
    try:
        v = int(version) if version not in (None, "") else None
    except (TypeError, ValueError):
        return None  # the evaluation section explains the bad version
    return business_section(model, v, parse_threshold(threshold)[0], query)


# ------------------------------------------------------------------ evaluation of one version
def _evaluation_section(d, model, version, threshold):
    versions = d.versions(model.name).items
    if not versions:
        return None
    champ, _ = champion_of(versions)
    known = {v.version for v in versions}
    try:
        v = int(version) if version not in (None, "") else champ.version
    except (TypeError, ValueError):
        v = None
    if v not in known:
        return dbc.Alert([f"'{version}' is not a version of {model.name}. ",
                          html.A("Show the champion", href=f"/models/{model.name}")],
                         color="warning", id="version-message")
    t, t_message = parse_threshold(threshold)
    head = [
        dcc.Location(id="model-nav", refresh="callback-nav"),
        dcc.Store(id="model-ref", data={"model": model.name, "version": v}),
        dcc.Store(id="model-url-sync"),
        html.H2(f"How good is version {v}?", className="h5 mt-4", id="evaluation-heading"),
        html.Div([
            html.Label("Version shown", htmlFor="model-version", className="form-label mb-0"),
            dcc.Dropdown(id="model-version", clearable=False, value=v, searchable=False,
                         options=[{"label": _version_label(x), "value": x.version}
                                  for x in sorted(versions, key=lambda x: -x.version)],
                         style={"minWidth": "16rem"}),
            dbc.Button("Compare two versions", id="compare-link", color="secondary",
                       outline=True, size="sm",
                       href=f"/compare?{urlencode({'model': model.name})}"),
        ], className="d-flex align-items-center gap-3 flex-wrap mb-3"),
    ]
    try:
        if not model.task_known:
            raise KeyError(model.name)
        ev = version_outline(d, model.name, v)
    except KeyError:
        return html.Div(head + _logged_parts(d, model, next(x for x in versions
                                                            if x.version == v)))
    except RegistryError as e:
        return html.Div(head + [problems_alert([e.problem], "The evaluation rows could not "
                                                            "be read")])
    if ev.rows == 0:
        return html.Div(head + [dbc.Alert(f"Version {v} has no labelled evaluation rows.",
                                          color="info")])
    parts = head + [
        html.P(f"Measured by ModelDeck on {ev.rows:,} evaluation "
               f"{plural(model.entity or 'row', ev.rows)}. Each range is a 95% bootstrap "
               "confidence interval.", className="text-muted small"),
        dbc.Alert(html.Ul([html.Li(n) for n in ev.notes], className="mb-0"), color="info",
                  className="small py-2", id="evaluation-notes") if ev.notes else None,
        dbc.Row([dbc.Col(metric_card(k, ev.metrics[k], model) if k not in ev.unavailable
                         else unavailable_card(k, ev.unavailable[k]), md=6, xl=3)
                 for k in CARD_METRICS[model.task]
                 if k in ev.metrics or k in ev.unavailable],
                className="g-3 mb-3", id="metric-cards"),
    ]
    if t_message:
        parts.append(dbc.Alert(t_message, color="warning", id="threshold-message"))
    if model.task == "binary" and ev.binary is not None:
        parts += _binary_parts(d, model, v, ev, t)
    elif model.task == "multiclass" and ev.multiclass is not None:
        parts += _multiclass_parts(model, ev)
    elif model.task == "regression" and ev.regression is not None:
        parts += _regression_parts(model, ev)
    parts += _segment_parts(model, ev)
    return html.Div(parts, id="evaluation")


def _logged_parts(d, model, version):
    """A version without prediction rows: everything MLflow holds for it."""
    v = version.version
    parts = [dbc.Alert(
        f"Version {v} has no prediction rows in the registry, so ModelDeck cannot compute "
        "its own metrics, intervals or charts. Below is what the registry holds for it: the "
        "metrics as logged, exact intervals where logged counts allow them, and the charts "
        "stored with it.", color="info", id="no-evaluation-rows")]
    parts.append(logged_metrics_section(logged_values(model, version), v))
    parts.append(logged_images_section(model.name, v, version.images, version.run_id))
    if model.task_known:
        metric = METRICS[summarize(d, model.name).metric]
        parts.append(logged_trend_table(logged_across_versions(model, d.versions(model.name)
                                                               .items), metric.name))
    return [p for p in parts if p is not None]


def _version_label(v) -> str:
    role = ", ".join(v.aliases) or (v.stage or "")
    return f"v{v.version}" + (f" ({role})" if role else "")


#: the charts of a yes/no model's scores, under the threshold's section
SCORE_CHARTS = ("roc-curve", "pr-curve", "calibration", "gain-curve", "score-distribution")


def _binary_parts(d, model, v, ev, t):
    tr = threshold_result(d, model.name, v, t)
    if ev.segments_pending:
        # A first view of rows an engine keeps: the charts below the threshold's section
        # follow from a callback (``fill_charts``), as the segments do.
        at_t, charts = threshold_section(model, tr), [
            html.P("Drawing the ROC, precision–recall, calibration, gain and score charts…",
                   className="text-muted small", role="status"),
            dcc.Store(id="charts-ref", data={"model": model.name, "version": v,
                                             "threshold": t})]
    else:
        sections = by_key(binary_sections(model, v, ev, tr))
        at_t, charts = sections["confusion-matrix"], _score_charts(sections)
    return [
        html.H2("Choosing a threshold", className="h5 mt-4"),
        html.P(["Cases scoring at or above the ",
                html.Abbr("threshold", title=GLOSSARY["threshold"]),
                " are flagged. Move it to trade missed cases against false alarms."],
               className="small"),
        html.Div([
            html.Label("Threshold", htmlFor="threshold", id="threshold-label",
                       className="form-label"),
            dcc.Slider(id="threshold", min=0.01, max=0.99, step=0.01, value=t,
                       marks={x / 10: f"{x / 10:.1f}" for x in range(1, 10)},
                       tooltip={"placement": "bottom", "always_visible": False},
                       updatemode="mouseup", allow_direct_input=False),
        ], className="threshold-control mb-2"),
        takeaway(at_t, "threshold-sentence", "lead fs-6 fw-semibold"),
        dbc.Row([
            dbc.Col(html.Div(_threshold_cards(tr, model), id="threshold-metrics",
                             className="row g-3"), lg=6),
            dbc.Col(chart(at_t.figure, id=at_t.key, caption=at_t.caption), lg=6),
        ], className="g-3"),
        html.H2("Charts of the scores", className="h5 mt-4"),
        html.Div(charts, id="score-charts", **{"aria-live": "polite"}),
    ]


def _score_charts(sections) -> list:
    return [dbc.Row([dbc.Col(section_view(sections[k]),
                             lg=12 if k == "score-distribution" else 6)
                     for k in SCORE_CHARTS], className="g-3")]


#: what a version's store at the page's threshold holds besides the model (``checked_ref``)
VERSION_AT = {"version": (int,), "threshold": (int, float)}


@callback(Output("score-charts", "children"), Input("charts-ref", "data"))
def fill_charts(ref):
    """The charts of a yes/no version's scores (``SCORE_CHARTS``) at the page's threshold,
    when the first view of rows an engine keeps left them out."""
    ref = checked_ref("charts", ref, VERSION_AT)
    name, v, t = ref["model"], ref["version"], round(float(ref["threshold"]), 2)

    def build():
        d = deck()
        model, ev = d.model(name), version_outline(d, name, v)
        if model.task != "binary" or ev.binary is None:  # the files changed meanwhile
            return html.P("This version's rows no longer give these charts; reload the page.",
                          className="small")
        return _score_charts(by_key(binary_sections(model, v, ev,
                                                    threshold_result(d, name, v, t))))
    return cached_model_view(("score-charts", name, v, t), name, build)


def _threshold_cards(tr, model):
    return [html.Div(unavailable_card(k, tr.undefined[k]) if k in tr.undefined else
                     metric_card(k, tr.metrics[k], model, id_=f"card-{k}"),
                     className="col-sm-6") for k in THRESHOLD_METRICS]


def _multiclass_parts(model, ev):
    m = ev.multiclass
    sections = by_key(multiclass_sections(model, ev.version, ev))
    notes = per_class_notes(m.per_class)
    parts = [
        html.H2("Where does it go wrong?", className="h5 mt-4"),
        dbc.Row([dbc.Col(section_view(sections[k]), lg=6)
                 for k in ("confusion-matrix", "per-class")], className="g-3"),
        html.Ul([html.Li(n) for n in notes], id="per-class-notes", className="small")
        if notes else None,
    ]
    if m.confused:
        parts += [html.H3("Most often confused", className="h6 mt-3"),
                  html.Ul([html.Li(confused_pair_sentence(p, model)) for p in m.confused],
                          id="confused-pairs")]
    charts = []
    if "class-roc" in sections:
        charts.append(dbc.Col([section_view(sections["class-roc"])] +
                              [html.P(no_curve_sentence(label, why), className="small text-muted")
                               for label, why in m.roc_missing], lg=6))
    elif m.roc_missing:  # no class could be drawn against the rest: say why for each
        charts.append(dbc.Col([html.P(one_vs_rest_sentence(m.roc),
                                      className="small fw-semibold mb-1")] +
                              [html.P(no_curve_sentence(label, why), className="small text-muted")
                               for label, why in m.roc_missing], lg=6))
    if "confidence" in sections:
        charts.append(dbc.Col(section_view(sections["confidence"],
                                           takeaway_id="confidence-sentence"), lg=6))
    if charts:
        parts += [html.H2("How sure is it, class by class?", className="h5 mt-4"),
                  dbc.Row(charts, className="g-3")]
    return parts


def _regression_parts(model, ev):
    sections = by_key(regression_sections(model, ev))
    return [
        html.H2("How far off are the predictions?", className="h5 mt-4"),
        dbc.Row([dbc.Col(section_view(sections[k]), lg=12 if k == "error-distribution" else 6)
                 for k in ("predicted-vs-actual", "residuals", "error-distribution")],
                className="g-3"),
    ]


def _segment_parts(model, ev):
    if ev.segments_pending:  # rows an engine keeps: the segments come from a callback
        return [html.Div([html.H2("Where is it weaker?", className="h5 mt-4"),
                          html.P("Working out each segment's "
                                 f"{METRICS[headline_metric(model.task)].name} on all "
                                 f"{ev.rows:,} rows…", className="text-muted small",
                                 role="status")],
                         id="segments-body", **{"aria-live": "polite"}),
                dcc.Store(id="segments-ref", data={"model": model.name,
                                                   "version": ev.version})]
    section = segment_section(model, ev)
    if section is None:
        return []
    lines = weakest_lines(model, ev.segments)
    rest = not_judged_text(ev.segments)
    return [
        html.H2("Where is it weaker?", className="h5 mt-4"),
        html.Ul([html.Li(x, **({"className": TAKEAWAY_CLASS} if x == section.takeaway else {}))
                 for x in lines], id="weakest-segments") if lines else
        takeaway(section),
        chart(section.figure, id=section.key, caption=section.caption),
        html.P(rest, id="segments-not-judged", className="small text-muted") if rest else None,
    ]


@callback(Output("segments-body", "children"), Input("segments-ref", "data"))
def fill_segments(ref):
    """The segment section of a version whose rows an engine keeps, once worked out."""
    ref = checked_ref("segments", ref, {"version": (int,)})
    name, v = ref["model"], ref["version"]

    def build():
        d = deck()
        return _segment_parts(d.model(name), version_evaluation(d, name, v)) or \
            [html.P("This version's rows have no segment columns.", className="small")]
    return cached_model_view(("segments", name, v), name, build)


def _trend(model, metric, trend, champion):
    section = trend_section(model, metric, trend, champion)
    return section_view(section, title=False) if section is not None else None


# ------------------------------------------------------------------ validation and robustness
def _validation_section(d, model, version, threshold):
    """The chosen version on each of its evaluation splits (folds, stress sets), when it has
    more than one; numbers and sentences from analysis.validation. When an engine keeps
    some of the splits' rows and the section is not cached yet, the first view shows a
    placeholder and the section follows from a callback (``fill_validation``)."""
    versions = d.versions(model.name).items
    if not versions or not model.task_known:
        return None
    try:
        v = int(version) if version not in (None, "") else champion_of(versions)[0].version
        t = parse_threshold(threshold)[0]
        if validation_pending(d, model.name, v, t):
            n = len(evaluation_splits(d, model.name, d.version(model.name, v)))
            return html.Section([
                html.Div([_validation_heading(v),
                          html.P(f"Working out version {v}'s metrics on each of its {n} "
                                 "evaluation splits…", className="text-muted small",
                                 role="status")],
                         id="validation-body", **{"aria-live": "polite"}),
                dcc.Store(id="validation-ref", data={"model": model.name, "version": v,
                                                     "threshold": t})],
                id="validation", **{"aria-labelledby": "validation-heading"})
        result = version_validation(d, model.name, v, t)
    except (TypeError, ValueError, KeyError):
        return None  # the evaluation section explains a bad or missing version
    except RegistryError as e:
        return problems_alert([e.problem], "The evaluation splits could not be read")
    if result is None:
        return None
    return html.Section(_validation_parts(model, v, t, result), id="validation",
                        **{"aria-labelledby": "validation-heading"})


def _validation_heading(v):
    return html.H2(f"Validation and robustness of version {v}", className="h5 mt-4",
                   id="validation-heading")


def _validation_parts(model, v, t, result) -> list:
    unit = model.target_unit
    section = validation_section(model, v, result)
    sentences = validation_sentences(result)
    threshold_note = (f" Recall and precision are at the threshold {t:.2f}."
                      if model.task == "binary" else "")
    head = [METRICS[k].name for k in result.metrics]
    rows = [html.Tr([html.Th(r.split, scope="row"), html.Td(r.description or r.kind),
                     html.Td(f"{r.rows:,}")] +
                    [html.Td([format_value(k, r.metrics[k].value, unit), html.Br(),
                              html.Span(interval_text(k, r.metrics[k].low, r.metrics[k].high,
                                                      unit), className="small text-muted")])
                     if k in r.metrics else html.Td("–") for k in result.metrics])
            for r in result.splits]
    return [
        _validation_heading(v),
        html.P(f"The same version measured on each of its {len(result.splits)} evaluation "
               f"splits; the rest of this page shows the {result.main!r} split. Each range is "
               f"a 95% bootstrap confidence interval.{threshold_note}",
               className="text-muted small"),
        html.Ul([html.Li(section.takeaway, className=TAKEAWAY_CLASS)] +
                [html.Li(x) for x in sentences[1:]], id="validation-sentences"),
        dbc.Alert(html.Ul([html.Li(n) for n in result.notes], className="mb-0"),
                  color="warning", className="small py-2") if result.notes else None,
        chart(section.figure, id=section.key, caption=section.caption),
        scroll_table(dbc.Table([html.Thead(html.Tr([html.Th(h, scope="col") for h in
                                                    ["Split", "What it is", "Rows"] + head])),
                                html.Tbody(rows)], size="sm", bordered=False,
                               id="validation-table", className="align-middle"),
                     "Metrics on each evaluation split"),
    ]


@callback(Output("validation-body", "children"), Input("validation-ref", "data"))
def fill_validation(ref):
    """The validation section of a version some of whose splits an engine keeps, when the
    first view left it out."""
    ref = checked_ref("validation", ref, VERSION_AT)
    name, v, t = ref["model"], ref["version"], round(float(ref["threshold"]), 2)

    def build():
        d = deck()
        result = version_validation(d, name, v, t)
        if result is None:  # the files changed meanwhile
            return html.P("This version no longer has several evaluation splits; reload the "
                          "page.", className="small")
        return _validation_parts(d.model(name), v, t, result)
    return cached_model_view(("validation-section", name, v, t), name, build)


# ------------------------------------------------------------------ callbacks
@callback(Output("confusion-matrix", "figure"), Output("threshold-metrics", "children"),
          Output("threshold-sentence", "children"),
          Input("threshold", "value"), State("model-ref", "data"), prevent_initial_call=True)
def update_threshold(value, ref):
    args = (ref["model"], int(ref["version"]), value)
    try:
        return cached_outputs(("threshold",) + args, ref["model"],
                              lambda: threshold_outputs(*args))
    except KeyError:  # the version or its rows went away while the page was open
        return (dash.no_update, dash.no_update,
                "This version's rows are no longer in the registry; reload the page.")
    except RegistryError as e:  # its table broke while the page was open
        return (dash.no_update, dash.no_update,
                f"The evaluation rows could not be read: {e.problem}")


def threshold_outputs(name: str, version: int, value):
    """The confusion matrix, threshold cards and sentence at ``value``."""
    t, _ = parse_threshold(value)
    d = deck()
    model = d.model(name)
    tr = threshold_result(d, name, version, t)
    section = threshold_section(model, tr)
    return section.figure, _threshold_cards(tr, model), section.takeaway


@callback(Output("model-nav", "href"), Input("model-version", "value"),
          State("model-ref", "data"), prevent_initial_call=True)
def choose_version(version, ref):
    if version is None or int(version) == int(ref["version"]):
        return dash.no_update
    return f"/models/{ref['model']}?{urlencode({'version': int(version)})}"


# The threshold goes into the URL without reloading the page (replaceState), so a shared
# or reloaded link shows the same threshold.
clientside_callback(
    """function(value, ref) {
        if (value === undefined || value === null) { return window.dash_clientside.no_update; }
        const params = new URLSearchParams(window.location.search);
        params.set('version', String(ref.version));
        params.set('threshold', Number(value).toFixed(2));
        window.history.replaceState(null, '', window.location.pathname + '?' + params.toString());
        return params.toString();
    }""",
    Output("model-url-sync", "data"), Input("threshold", "value"), State("model-ref", "data"),
    prevent_initial_call=True)
