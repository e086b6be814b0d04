"""A report asked for (``/export/report/<kind>/<fmt>?model=…``, the report buttons): every
parameter checked before use, and the report built; and what an exported chart's footer
names (``export_meta``), worked out from the page it was exported from."""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from analysis.compare import default_pair
from analysis.evaluation import parse_threshold
from registry.model import RegistryError, champion_of

from .compare_report import compare_report
from .images import ExportMeta
from .model_report import model_report
from .portfolio_report import portfolio_report
from .report import Report, data_date, day

REPORT_KINDS = ("model", "compare", "portfolio", "card")
REPORT_FORMATS = ("pptx", "html", "pdf", "md")
#: formats each kind offers: Markdown is the model card's alone; the card is no slide deck
KIND_FORMATS = {"model": ("pptx", "html", "pdf"), "compare": ("pptx", "html", "pdf"),
                "portfolio": ("pptx", "html", "pdf"), "card": ("html", "pdf", "md")}


class BadRequest(Exception):
    """A report or export asked for with unusable parameters: 400 (bad value) or 404
    (no such model / version). The message is safe to show."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


# ------------------------------------------------------------------ requests
@dataclass(frozen=True)
class ReportRequest:
    kind: str
    fmt: str
    model: str | None = None
    version: int | None = None
    a: int | None = None
    b: int | None = None
    threshold: float = 0.5


def _one(query: dict, key: str):
    v = query.get(key)
    if isinstance(v, (list, tuple)):
        v = v[0] if v else None
    return None if v in (None, "") else v


def _version(deck, model: str, value, what: str) -> int:
    try:
        v = int(str(value))
    except (TypeError, ValueError):
        raise BadRequest(f"{what} must be a version number, not {str(value)[:40]!r}.") from None
    if v not in {x.version for x in deck.versions(model).items}:
        raise BadRequest(f"{model} has no version {v}.", 404)
    return v


def parse_request(deck, kind, fmt, query: dict) -> ReportRequest:
    """Check every parameter of a report request: kind and format in their allow-lists, the
    model must exist, versions must be integers of that model, the threshold in 0..1."""
    if kind not in REPORT_KINDS:
        raise BadRequest(f"Unknown report {str(kind)[:40]!r}: choose one of "
                         f"{', '.join(REPORT_KINDS)}.", 404)
    if fmt not in KIND_FORMATS[kind]:
        raise BadRequest(f"Unknown format {str(fmt)[:40]!r}: choose one of "
                         f"{', '.join(KIND_FORMATS[kind])}.")
    if kind == "portfolio":
        return ReportRequest(kind, fmt)
    name = _one(query, "model")
    if name is None:
        raise BadRequest("Say which model: ?model=<name>.")
    try:
        model = deck.model(str(name))
    except KeyError:
        raise BadRequest(f"There is no model called {str(name)[:60]!r}.", 404) from None
    except RegistryError as e:
        raise BadRequest(f"{name}'s files could not be read: {e.problem}", 404) from None
    if kind == "card":
        return ReportRequest(kind, fmt, model.name)
    t, message = parse_threshold(_one(query, "threshold"))
    if message:
        raise BadRequest(message)
    if kind == "model":
        v = _one(query, "version")
        version = _version(deck, model.name, v, "version") if v is not None else None
        return ReportRequest(kind, fmt, model.name, version=version, threshold=t)
    a, b = _one(query, "a"), _one(query, "b")
    if a is None or b is None:
        pair = default_pair(deck.versions(model.name).items)
        if pair is None:
            raise BadRequest(f"{model.name} has fewer than two versions to compare.", 404)
        a = a if a is not None else pair[0]
        b = b if b is not None else pair[1]
    va, vb = _version(deck, model.name, a, "a"), _version(deck, model.name, b, "b")
    if va == vb:
        raise BadRequest("Choose two different versions to compare.")
    return ReportRequest(kind, fmt, model.name, a=va, b=vb, threshold=t)


def build_report(deck, req: ReportRequest) -> Report:
    if req.kind == "model":
        return model_report(deck, req.model, req.version, req.threshold)
    if req.kind == "compare":
        return compare_report(deck, req.model, req.a, req.b, req.threshold)
    return portfolio_report(deck)



def export_meta(deck, location: str = "", chart_meta: dict | None = None,
                chart_id: str = "") -> ExportMeta:
    """What an exported chart's footer names, worked out from the page it was exported from
    (``/models/<m>?version=``, ``/monitoring/<m>``, ``/compare?model=&a=&b=``) or a
    ``"model"`` in the chart's own id; a ``meta`` given to ``chart()`` wins. Names that are
    not in the registry are dropped."""
    chart_meta = chart_meta or {}
    parts = urlsplit(location or "")
    query = parse_qs(parts.query)
    name = chart_meta.get("model")
    version = chart_meta.get("version")
    m = re.match(r"^/(models|monitoring)/([^/?#]+)/?$", parts.path or "")
    if not name and m:
        name = m.group(2)
    if not name and parts.path == "/compare":
        name = _one(query, "model")
    if not name and chart_id:
        m2 = re.search(r'"model":"([A-Za-z0-9._-]+)"', chart_id)
        name = m2.group(1) if m2 else None
    if not name:
        return ExportMeta(data_date=str(chart_meta.get("data_date", "") or ""))
    try:
        model = deck.model(str(name))
        versions = deck.versions(model.name).items
    except (KeyError, RegistryError):
        return ExportMeta()
    known = {v.version for v in versions}
    if version is None:
        if parts.path == "/compare":
            try:
                a, b = int(_one(query, "a")), int(_one(query, "b"))
            except (TypeError, ValueError):
                a = b = None
                pair = default_pair(versions)
                if pair:
                    a, b = pair
            if a in known and b in known:
                version = f"{a} vs {b}"
        else:
            try:
                v = int(_one(query, "version"))
            except (TypeError, ValueError):
                v = None
            champ, _ = champion_of(versions)
            v = v if v in known else (champ.version if champ else None)
            version = "" if v is None else str(v)
    date = chart_meta.get("data_date") or day(data_date(deck, model.name))
    return ExportMeta(model.name, str(version or ""), str(date))
