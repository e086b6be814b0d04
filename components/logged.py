"""What a version holds in MLflow when it has no prediction rows: its logged metrics with
their meanings and intervals, the evaluator's own chart images, the logged metric across
versions, two versions' logged metrics side by side, and what changed between their runs.

Pure UI pieces: they take results of ``analysis.logged`` and return Dash components.
"""
from __future__ import annotations

from urllib.parse import quote

import dash_bootstrap_components as dbc
from dash import html

from analysis.language import GLOSSARY
from analysis.logged import group_label

#: how the evaluator's images are named (mlflow.evaluate's default evaluator and autolog)
IMAGE_NAMES = {
    "confusion_matrix": "Confusion matrix",
    "roc_curve_plot": "ROC curve",
    "precision_recall_curve_plot": "Precision-recall curve",
    "calibration_curve_plot": "Calibration curve",
    "lift_curve_plot": "Lift curve",
    "training_confusion_matrix": "Confusion matrix on training data",
    "training_roc_curve": "ROC curve on training data",
    "training_precision_recall_curve": "Precision-recall curve on training data",
}


def image_href(model: str, version: int, path: str) -> str:
    """The read-only route that serves one stored image (app.create_app registers it)."""
    return f"/registry-image/{quote(model, safe='')}/{int(version)}/{quote(path, safe='')}"


def logged_metrics_section(values, version: int, id_: str = "logged-metrics"):
    """One table per group of logged metrics: held-out data first, training data apart."""
    if not values:
        return html.P(f"Version {version} logged no metrics.", id=id_)
    groups: dict[str, list] = {}
    for v in values:
        groups.setdefault(v.group, []).append(v)
    parts = []
    for group, rows in groups.items():
        parts.append(html.H3(f"Metrics {group_label(group)}", className="h6 mt-3"))
        head = html.Thead(html.Tr([html.Th(h, scope="col") for h in (
            "Metric", "Stored in MLflow as", "Value", "95% interval", "What it means")]))
        body = []
        for v in rows:
            interval = (f"{v.low:.3f} to {v.high:.3f} (exact, from the logged counts)"
                        if v.low is not None else (v.interval or "—"))
            body.append(html.Tr([
                html.Th(html.Abbr(v.label, title=GLOSSARY.get(v.key or "", v.label)),
                        scope="row"),
                html.Td([html.Code(v.name), html.Span(f" = {v.value!r}",
                                                      className="small text-muted")],
                        className="logged-as"),
                html.Td(v.text, className="logged-value"),
                html.Td(interval, className="small"),
                html.Td(v.meaning, className="small"),
            ], **{"data-metric": v.name}))
        parts.append(dbc.Table([head, html.Tbody(body)], size="sm", hover=True,
                               responsive=True, className="align-middle",
                               id=f"{id_}-{_slug(group)}"))
    return html.Div(parts, id=id_)


def logged_images_section(model: str, version: int, images, run_id: str | None):
    """The chart images stored with the version's run, each with where it came from."""
    if not images:
        return None
    cols = []
    for im in sorted(images, key=lambda i: (i.path.startswith("training_"), i.path)):
        stem = im.path.rsplit(".", 1)[0]
        title = IMAGE_NAMES.get(stem, stem.replace("_", " ").capitalize())
        who = ("drawn by scikit-learn autolog on the training data"
               if im.path.startswith("training_") else "drawn by mlflow.evaluate")
        if im.size > 5 * 1024 * 1024:
            body = html.P(f"{im.path} is {im.size / 1e6:.1f} MB, too large to show here.",
                          className="small")
        else:
            body = html.Img(src=image_href(model, version, im.path), alt=f"{title} of v{version}",
                            className="img-fluid border")
        cols.append(dbc.Col(html.Figure([
            body,
            html.Figcaption(f"{title}: {im.path}, {who}, stored with run {run_id}.",
                            className="small text-muted"),
        ], className="logged-image"), lg=6))
    return html.Div([
        html.H3("Charts stored with this version", className="h6 mt-3"),
        html.P("Images as MLflow stored them; ModelDeck draws its own charts once the version "
               "has prediction rows.", className="small text-muted"),
        dbc.Row(cols, className="g-3"),
    ], id="logged-images")


def logged_trend_table(table, metric_name: str, id_: str = "logged-by-version"):
    """The headline metric each version logged on held-out data (point values)."""
    if table.empty or table["value"].isna().all():
        return None
    head = html.Thead(html.Tr([html.Th(h, scope="col") for h in (
        "Version", "Alias", f"{metric_name} (as logged)")]))
    body = [html.Tr([html.Th(r.label, scope="row"), html.Td(r.aliases or "—"),
                     html.Td(r.text if r.problem == "" else r.problem)])
            for r in table.itertuples()]
    return html.Div([
        html.H3(f"{metric_name} of every version, as logged", className="h6 mt-3"),
        html.P("Point values from mlflow.evaluate on held-out data; intervals need "
               "prediction rows.", className="small text-muted"),
        dbc.Table([head, html.Tbody(body)], size="sm", className="w-auto", id=id_),
    ])


def logged_compare_table(table, a: int, b: int):
    head = html.Thead(html.Tr([html.Th(h, scope="col") for h in (
        "Metric", "Logged as", f"v{a}", f"v{b}", f"Difference (v{b} − v{a})", "Which is better")]))
    body = []
    for r in table.itertuples():
        word = ("—" if r.better is None or r.better != r.better else
                (f"v{b} (point values only)" if r.better else f"v{a} (point values only)"))
        body.append(html.Tr([html.Th(r.label, scope="row"), html.Td(html.Code(r.name)),
                             html.Td(r.text_a), html.Td(r.text_b), html.Td(f"{r.delta:+.4g}"),
                             html.Td(word, className="small")]))
    return dbc.Table([head, html.Tbody(body)], size="sm", hover=True, responsive=True,
                     id="compare-logged-table", className="align-middle w-auto")


def changes_section(changes, a: int, b: int):
    """Params, run tags and datasets that differ between the two versions' runs."""
    parts = [html.H2(f"What changed from v{a} to v{b}", className="h5 mt-4")]
    any_change = False
    for title, rows in (("Parameters", changes.params), ("Run tags", changes.tags),
                        ("Datasets (mlflow.log_input), by context", changes.datasets)):
        if not rows:
            continue
        any_change = True
        head = html.Thead(html.Tr([html.Th(h, scope="col") for h in ("", f"v{a}", f"v{b}")]))
        body = [html.Tr([html.Th(k, scope="row"), html.Td(x), html.Td(y)]) for k, x, y in rows]
        parts += [html.H3(title, className="h6 mt-2"),
                  dbc.Table([head, html.Tbody(body)], size="sm", className="w-auto",
                            id=f"changes-{_slug(title.split()[0])}")]
    if not any_change:
        parts.append(html.P("The two versions' runs have the same parameters, tags and "
                            "datasets.", className="small"))
    return html.Div(parts, id="version-changes")


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-") or "x"


__all__ = ["changes_section", "image_href", "logged_compare_table",
           "logged_images_section", "logged_metrics_section", "logged_trend_table"]
