"""The model page's "What is it worth?" section: money per month against the threshold, with
the business settings editable for what-if (kept in the URL, never written to the registry).
"""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, clientside_callback, dcc, html

from analysis.business import (
    is_complete, model_value_curve, money, parse_what_if, value_sentence,
    version_regression_cost, with_overrides,
)
from components.business_figures import value_curve_figure
from components.graph import chart
from registry.model import RegistryError, challenger_of, champion_of

from ._data import cached_outputs, deck

FIELDS = [("value_tp", "Value of a positive caught", "value_true_positive"),
          ("cost_fp", "Cost of a false alarm", "cost_false_positive"),
          ("cost_fn", "Cost of a missed positive", "cost_false_negative"),
          ("volume", "Predictions per month", "volume_per_month")]


def business_section(model, version: int | None, threshold: float, query: dict):
    """The section for ``version`` of ``model`` (None when there is nothing to show)."""
    d = deck()
    versions = d.versions(model.name).items
    champ, _ = champion_of(versions)
    if champ is None:
        return None
    v = version if version in {x.version for x in versions} else champ.version
    if model.task == "regression":
        return _regression(d, model, v)
    if model.task != "binary":
        return None
    b = with_overrides(model.business, **parse_what_if(query))
    other = _other_version(versions, v, champ.version)
    inputs = []
    for key, label, field in FIELDS:
        value = getattr(b, field)
        inputs.append(dbc.Col([
            dbc.Label(f"{label}{'' if key == 'volume' else f' ({b.currency})'}",
                      html_for=f"what-if-{key}", className="small mb-0"),
            dbc.Input(id=f"what-if-{key}", type="number", min=0, step="any",
                      value=value, debounce=True, size="sm"),
        ], xs=6, md=3))
    return html.Section([
        html.H2("What is it worth?", className="h5 mt-4"),
        html.P(f"A positive means: {b.positive_means}.", className="mb-1")
        if b.positive_means else None,
        html.P("Change the amounts to see how the best threshold and the monthly value move. "
               "Changes stay in this page's address; the registry is never changed.",
               className="small text-muted"),
        dcc.Store(id="what-if-ref", data={"model": model.name, "version": v, "other": other,
                                          "currency": b.currency}),
        dcc.Store(id="what-if-url-sync"),
        dbc.Row(inputs, className="g-2 mb-2"),
        dcc.Loading(html.Div(what_if_outputs(model.name, v, other, threshold,
                                             *[getattr(b, f) for _, _, f in FIELDS]),
                             id="what-if-result"), delay_show=300),
    ], id="business-section")


def _other_version(versions, v: int, champion: int) -> int | None:
    """The version to compare money with: the champion, or (for the champion) the challenger."""
    if v != champion:
        return champion
    chall = challenger_of(versions)
    return chall.version if chall is not None and chall.version != v else None


def what_if_outputs(name: str, version: int, other: int | None, threshold: float,
                    value_tp, cost_fp, cost_fn, volume):
    d = deck()
    model = d.model(name)
    b = with_overrides(model.business, value_true_positive=value_tp,
                       cost_false_positive=cost_fp, cost_false_negative=cost_fn,
                       volume_per_month=volume)
    if not is_complete(b):
        return dbc.Alert("Enter all four amounts to see what the model is worth: the registry "
                         "has no complete business settings for this model.", color="info",
                         id="what-if-missing")
    try:
        curve = model_value_curve(d, name, version, b)
        other_curve = model_value_curve(d, name, other, b) if other is not None else None
    except (KeyError, RegistryError):
        return dbc.Alert("This version has no readable evaluation rows to value.",
                         color="warning")
    entity = model.entity or "case"
    positive = b.positive_means or ""
    parts = [
        html.Div([
            html.Span("Best threshold: ", className="fw-semibold"),
            html.Span(f"{curve.best_threshold:.2f}", id="best-threshold"),
            html.Span(" · worth about ", className="ms-1"),
            html.Span(money(curve.best_value, curve.currency), id="best-value"),
            html.Span(" a month"),
        ], className="fs-5"),
        html.P(value_sentence(curve, threshold, entity, positive), id="value-sentence"),
    ]
    if other_curve is not None:
        gain = other_curve.best_value - curve.best_value
        word = "more" if gain >= 0 else "less"
        parts.append(html.P(
            f"At each version's best threshold, v{other} would be worth "
            f"{money(abs(gain), curve.currency)} a month {word} than v{version}.",
            id="value-versus"))
    parts.append(chart(value_curve_figure(curve, threshold, other_curve, f"v{version}",
                                          f"v{other}" if other is not None else ""),
                       id="value-curve",
                       caption="Expected value per month if the model's flags are acted on, "
                               "for every threshold, with a 90% band from resampling the "
                               "evaluation rows."))
    return parts


def _regression(d, model, v):
    b = model.business
    try:
        cost = version_regression_cost(d, model.name, v)
    except (KeyError, RegistryError):
        return None
    if cost is None:
        text = ("No cost per unit of error is set for this model, so its errors cannot be "
                "priced. Add business.cost_per_unit_error and volume_per_month to model.json.")
    else:
        text = (f"At {b.cost_per_unit_error:,.2f} {b.currency} per {model.target_unit or 'unit'}"
                f" of error and {b.volume_per_month:,.0f} predictions a month, v{v}'s errors "
                f"cost about {money(cost, b.currency)} a month.")
    return html.Section([html.H2("What is it worth?", className="h5 mt-4"),
                         html.P(text, id="value-sentence")], id="business-section")


def register_callbacks() -> None:
    """Define this section's callbacks. pages/model.py calls it at import: Dash Pages runs a
    page module again for every app it builds, but a helper module like this one is imported
    only once, so callbacks declared at its top level would reach only the first app."""

    @callback(Output("what-if-result", "children"),
              [Input(f"what-if-{k}", "value") for k, _, _ in FIELDS],
              Input("threshold", "value"), State("what-if-ref", "data"), prevent_initial_call=True)
    def update_what_if(value_tp, cost_fp, cost_fn, volume, threshold, ref):
        t = 0.5 if threshold is None else float(threshold)
        args = (ref["model"], int(ref["version"]), ref["other"], t, value_tp, cost_fp, cost_fn,
                volume)
        return cached_outputs(("what-if",) + args, ref["model"], lambda: what_if_outputs(*args))

    # The what-if amounts go into the address (replaceState) so a shared link reopens them.
    clientside_callback(
        """function(value_tp, cost_fp, cost_fn, volume) {
            const params = new URLSearchParams(window.location.search);
            const pairs = {value_tp: value_tp, cost_fp: cost_fp, cost_fn: cost_fn, volume: volume};
            for (const k in pairs) {
                if (pairs[k] === null || pairs[k] === undefined || pairs[k] === '') {
                    params.delete(k);
                } else { params.set(k, String(pairs[k])); }
            }
            window.history.replaceState(null, '', window.location.pathname + '?' + params.toString());
            return params.toString();
        }""",
        Output("what-if-url-sync", "data"),
        [Input(f"what-if-{k}", "value") for k, _, _ in FIELDS], prevent_initial_call=True)
