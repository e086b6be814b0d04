"""The data behind a chart, and a chart sent back by a browser.

``figure_table`` / ``figure_csv``: every trace's points as rows (x, y, intervals, text, the
names of the axes), the CSV a chart's download menu offers. ``figure_from_browser``: the chart
as the page drew it, checked before it reaches the server's Chromium (known trace types, no
images but inline ``data:`` URIs, a size limit).
"""
from __future__ import annotations

import base64
import copy

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .images import ExportError


# ------------------------------------------------------------------ the data behind a chart
def _values(v) -> list | None:
    if v is None:
        return None
    if isinstance(v, str):
        return None
    return list(np.asarray(v, dtype=object).ravel()) if np.ndim(v) else None


def _axis_title(fig: go.Figure, axis: str, trace) -> str:
    ref = getattr(trace, f"{axis}axis", None) or axis
    name = ref.replace("x", "xaxis").replace("y", "yaxis") if len(ref) <= 3 else ref
    try:
        title = fig.layout[name].title.text
    except (KeyError, AttributeError):
        title = None
    return title or axis


def _errors(err, centre: list) -> tuple[list, list] | None:
    if err is None or err.array is None or err.visible is False:
        return None
    plus = np.asarray(err.array, dtype=float)
    minus = np.asarray(err.arrayminus, dtype=float) if err.arrayminus is not None else plus
    c = pd.to_numeric(pd.Series(centre), errors="coerce").to_numpy(dtype=float)
    if len(plus) != len(c) or len(minus) != len(c):
        return None
    return list(c - minus), list(c + plus)


def figure_table(fig: go.Figure) -> pd.DataFrame:
    """The numbers a chart draws, one row per point (per cell for heat maps), with columns
    named after the chart's axes. Decorations without hover text (reference diagonals,
    bands) are left out."""
    frames = []
    for i, tr in enumerate(fig.data):
        if getattr(tr, "hoverinfo", None) == "skip":
            continue
        name = getattr(tr, "name", None) or f"series {i + 1}"
        if tr.type == "parcoords":
            frames.append(_parcoords_table(tr, name))
            continue
        x_title, y_title = _axis_title(fig, "x", tr), _axis_title(fig, "y", tr)
        if tr.type == "heatmap":
            z = np.asarray(tr.z, dtype=float)
            if z.ndim != 2:
                continue
            xs = _values(tr.x) or list(range(z.shape[1]))
            ys = _values(tr.y) or list(range(z.shape[0]))
            cols = {x_title: np.tile(xs, len(ys)), y_title: np.repeat(ys, len(xs)),
                    _colour_title(tr): z.ravel()}
            text = _values(tr.text)
            if text is not None and len(text) == z.size:
                cols["label"] = text
            frames.append(pd.DataFrame({"series": name, **cols}))
            continue
        x, y = _values(getattr(tr, "x", None)), _values(getattr(tr, "y", None))
        if x is None and y is None:
            continue
        n = len(x if x is not None else y)
        cols = {x_title: x if x is not None else list(range(n)),
                y_title: y if y is not None else [None] * n}
        for axis, values in (("x", cols[x_title]), ("y", cols[y_title])):
            band = _errors(getattr(tr, f"error_{axis}", None), values)
            if band is not None:
                title = x_title if axis == "x" else y_title
                cols[f"{title}: 95% low"], cols[f"{title}: 95% high"] = band
        frames.append(pd.DataFrame({"series": name, **cols}))
    if not frames:
        return pd.DataFrame(columns=["series"])
    return pd.concat(frames, ignore_index=True, sort=False)


def _parcoords_table(tr, name: str) -> pd.DataFrame:
    """One row per line of a parallel-coordinates chart, one column per axis; an axis drawn
    with text ticks (a categorical parameter) gives its text."""
    cols: dict[str, list] = {}
    for j, dim in enumerate(tr.dimensions or ()):
        values = _values(dim.values) or []
        ticks, texts = _values(dim.tickvals), _values(dim.ticktext)
        if ticks is not None and texts is not None and len(ticks) == len(texts):
            lookup = {float(t): str(x) for t, x in zip(ticks, texts)
                      if isinstance(t, (int, float))}
            values = [lookup.get(float(v), v) if isinstance(v, (int, float)) else v
                      for v in values]
        label = dim.label or f"axis {j + 1}"
        while label in cols:
            label += " "
        cols[label] = list(values)
    n = max((len(v) for v in cols.values()), default=0)
    cols = {k: v + [None] * (n - len(v)) for k, v in cols.items()}
    return pd.DataFrame({"series": [name] * n, **cols})


def _colour_title(tr) -> str:
    try:
        return tr.colorbar.title.text or "value"
    except AttributeError:
        return "value"


def figure_csv(fig: go.Figure) -> bytes:
    """The data behind ``fig`` as UTF-8 CSV (with a BOM, so spreadsheet programs read
    accents and the ≥ sign right)."""
    table = figure_table(fig)
    title = fig.layout.title.text if fig.layout.title and fig.layout.title.text else ""
    text = table.to_csv(index=False, float_format="%.6g", lineterminator="\n")
    head = f"# {title}\n" if title else ""
    return ("\ufeff" + head + text).encode("utf-8")


# ------------------------------------------------------------------ figures sent by a browser
#: trace types ModelDeck draws; anything else sent by a browser is refused
ALLOWED_TRACES = {"scatter", "scattergl", "bar", "heatmap", "histogram", "box", "violin",
                  "pie", "table", "indicator", "parcoords", "contour", "waterfall", "funnel"}
MAX_FIGURE_BYTES = 5_000_000


def figure_from_browser(obj, size_hint: int = 0) -> go.Figure:
    """A figure sent back by the page (the chart as shown, after any callback updated it),
    checked before it reaches Chromium: a dict of ``data`` and ``layout``, known trace types
    only, no images loaded from anywhere but inline ``data:`` URIs (so a crafted request
    cannot make the server's browser fetch a URL or read a local file)."""
    if size_hint > MAX_FIGURE_BYTES:
        raise ExportError("This chart is too large to export.")
    if not isinstance(obj, dict) or not isinstance(obj.get("data"), list) \
            or not isinstance(obj.get("layout", {}), dict):
        raise ExportError("The chart could not be read from the page.")
    data = []
    for trace in obj["data"]:
        if not isinstance(trace, dict):
            raise ExportError("The chart could not be read from the page.")
        kind = trace.get("type", "scatter")
        if kind not in ALLOWED_TRACES:
            raise ExportError(f"Charts of type '{kind}' cannot be exported.")
        data.append(decode_typed_arrays(
            {k: v for k, v in trace.items() if not str(k).startswith("_")}))
    layout = {k: v for k, v in obj.get("layout", {}).items() if not str(k).startswith("_")}
    layout = _without_remote_images(copy.deepcopy(layout))
    try:
        return go.Figure({"data": data, "layout": layout}, skip_invalid=True)
    except (ValueError, TypeError) as e:
        raise ExportError("The chart could not be read from the page.") from e


#: plotly.js typed-array specs ({"dtype", "bdata", "shape"}) as numpy dtypes
TYPED_ARRAYS = {"f8": "<f8", "f4": "<f4", "i1": "i1", "u1": "u1", "u1c": "u1", "i2": "<i2",
                "u2": "<u2", "i4": "<i4", "u4": "<u4"}


def decode_typed_arrays(obj):
    """Plain lists for the base64 typed arrays plotly.js keeps in a drawn figure (e.g. a
    heat map's ``z``), so the figure can be read on the server."""
    if isinstance(obj, dict):
        if set(obj) >= {"dtype", "bdata"} and obj.get("dtype") in TYPED_ARRAYS:
            try:
                raw = base64.b64decode(str(obj["bdata"]), validate=True)
                arr = np.frombuffer(raw, dtype=TYPED_ARRAYS[obj["dtype"]])
                shape = obj.get("shape")
                if shape:
                    dims = [int(x) for x in (shape.split(",") if isinstance(shape, str)
                                             else shape)]
                    arr = arr.reshape(dims)
            except (ValueError, TypeError) as e:
                raise ExportError("The chart could not be read from the page.") from e
            return arr.tolist()
        return {k: decode_typed_arrays(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode_typed_arrays(v) for v in obj]
    return obj


def _without_remote_images(layout: dict) -> dict:
    def keep(img) -> bool:
        return isinstance(img, dict) and str(img.get("source", "")).startswith("data:image/")
    if isinstance(layout.get("images"), list):
        layout["images"] = [i for i in layout["images"] if keep(i)]
    template = layout.get("template")
    if isinstance(template, dict) and isinstance(template.get("layout"), dict):
        _without_remote_images(template["layout"])
    for key in ("mapbox", "map", "geo"):
        layout.pop(key, None)
    return layout
