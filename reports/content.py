"""What goes into a report: a model, two versions compared, or the whole portfolio.

A ``Report`` is plain content — an executive summary in plain words, chart sections each with
a one-line takeaway and its numbers, a glossary and the data's provenance — that
``reports.pptx_deck`` and ``reports.html_report`` lay out. Every number comes from the same
cached analysis functions the pages call, every chart from the same figure factories with the
same arguments, and every sentence from ``analysis.language`` / ``analysis.recommend``: a
report says exactly what the page says.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.compare import default_pair, version_comparison
from analysis.estimation import (
    drawn_estimate, estimate_headline, model_estimate, summary_sentences,
)
from analysis.evaluation import (
    parse_threshold, per_class_notes, threshold_result, version_evaluation,
)
from analysis.evidence import advice_summary, model_advice, portfolio_advice, ranked
from analysis.language import (
    GLOSSARY, confidence_sentence, confused_pair_sentence, difference_digits,
    format_difference, format_value, interval_text, metric_sentence, no_curve_sentence,
    not_judged_caption, not_judged_text, one_vs_rest_sentence, plural, positives_phrase,
    threshold_sentence,
)
from analysis.metrics import METRICS, cannot_compute
from analysis.monitoring import (
    model_monitoring, performance_caption, window_text,
)
from analysis.portfolio import summarize
from registry.model import champion_of
from analysis.validation import version_validation
from analysis.versions import metric_across_versions, version_table
from components.cards import TASK_LABEL
from components.evaluation_figures import (
    CLASS_ROC_CAPTION, CONFIDENCE_CAPTION, calibration_figure, confidence_figure,
    confusion_matrix_figure, error_distribution_figure, gain_figure, one_vs_rest_roc_figure,
    per_class_figure, pr_figure, predicted_vs_actual_figure, roc_figure, segment_delta_figure,
    segment_figure, versions_trend_figure,
)
from components.monitoring_figures import drift_heatmap, performance_over_time
from components.recommendation_figures import evidence_figure as draw_evidence
from components.validation_figures import CAPTION as SPLITS_CAPTION, split_lines, splits_figure
from registry.model import COL_TIME, RegistryError
from registry.naming import display_name

from .images import ExportMeta, safe_name

log = logging.getLogger(__name__)

REPORT_KINDS = ("model", "compare", "portfolio", "card")
REPORT_FORMATS = ("pptx", "html", "pdf", "md")
#: formats each kind offers: Markdown is the model card's alone; the card is no slide deck
KIND_FORMATS = {"model": ("pptx", "html", "pdf"), "compare": ("pptx", "html", "pdf"),
                "portfolio": ("pptx", "html", "pdf"), "card": ("html", "pdf", "md")}
ACTION_WORD = {"promote": "Promote", "retrain": "Retrain", "roll back": "Roll back",
               "investigate": "Investigate", "keep": "Keep"}


@dataclass(frozen=True)
class Section:
    """One key chart: a slide in the deck, a section in the HTML report."""

    title: str  # short heading ("How well it ranks customers")
    takeaway: str  # one line a manager can repeat
    figure: go.Figure
    numbers: tuple[str, ...] = ()  # the numbers behind the takeaway, as the page shows them
    caption: str = ""  # how to read the chart
    key: str = ""  # file-name part ("roc-curve")


@dataclass(frozen=True)
class Report:
    kind: str
    title: str
    subtitle: str
    summary: tuple[str, ...]  # the executive summary, one sentence per line
    sections: tuple[Section, ...]
    glossary: tuple[tuple[str, str], ...]  # (term, meaning)
    provenance: tuple[tuple[str, str], ...]  # (what, value)
    meta: ExportMeta = ExportMeta()
    stem: str = "report"  # file name without extension
    generated_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def generated_text(self) -> str:
        return self.generated_at.strftime("%d %b %Y %H:%M UTC")


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


# ------------------------------------------------------------------ export footers
def data_date(deck, name: str) -> datetime | None:
    """How recent a model's data is: its newest production row, or its newest version's
    creation (when its evaluation rows were logged); the model's own update time as a last
    resort."""
    def compute():
        model = deck.model(name)
        times = [v.created_at for v in deck.versions(name).items if v.created_at]
        if not times and model.updated_at:
            times.append(model.updated_at)
        try:
            mon = deck.monitoring(name)
        except RegistryError:
            mon = None
        if mon is not None and COL_TIME in mon.frame.columns and len(mon.frame):
            times.append(pd.Timestamp(mon.frame[COL_TIME].max()).to_pydatetime())
        times = [t if t.tzinfo else t.replace(tzinfo=timezone.utc) for t in times]
        return max(times) if times else None
    return deck.memo(("data_date", name), name, compute)


def day(when: datetime | None) -> str:
    return when.strftime("%d %b %Y").lstrip("0") if when else ""


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


# ------------------------------------------------------------------ shared pieces
def _unit(model, metric: str) -> str:
    return model.target_unit if METRICS[metric].kind == "unit" else ""


def _glossary(keys) -> tuple[tuple[str, str], ...]:
    out, seen = [], set()
    for k in keys:
        if k in GLOSSARY and k not in seen:
            seen.add(k)
            term, _, meaning = GLOSSARY[k].partition(": ")
            out.append((term, meaning or GLOSSARY[k]))
    return tuple(out)


def _recommendation_line(r) -> str:
    money_part = f"; {r.money_text}" if r.money_per_month is not None else ""
    return f"{ACTION_WORD[r.action]}: {r.headline} (confidence {r.confidence}{money_part})"


def _versions_text(versions) -> str:
    out = []
    for v in sorted(versions, key=lambda v: v.version):
        role = ", ".join(v.aliases) or (v.stage or "")
        out.append(f"v{v.version}" + (f" ({role})" if role else ""))
    return ", ".join(out)


def _provenance(deck, model_names: list[str], extra: list[tuple[str, str]]) -> tuple:
    rows = [("Registry", display_name(deck.uri))]
    for name in model_names:
        try:
            versions = deck.versions(name).items
        except (KeyError, RegistryError):
            continue
        table = version_table(deck, name)
        evaluated = ", ".join(f"v{r.version}: {r.rows:,} rows" for r in
                              table.sort_values("version").itertuples() if r.rows)
        rows.append((f"{name}: versions", _versions_text(versions) or "none"))
        rows.append((f"{name}: evaluation rows", evaluated or "none"))
        when = data_date(deck, name)
        if when:
            rows.append((f"{name}: newest data", day(when)))
    rows += extra
    rows.append(("Generated at", datetime.now(timezone.utc).strftime("%d %b %Y %H:%M UTC")))
    rows.append(("Generated by", "ModelDeck, from the registry's evaluation and production "
                                 "rows; metrics computed with scikit-learn"))
    return tuple(rows)


# ------------------------------------------------------------------ a model
def model_report(deck, name: str, version: int | None = None,
                 threshold: float = 0.5) -> Report:
    """The model page as a report: health, headline metric, recommendations, and its key
    charts for ``version`` (default the champion)."""
    model = deck.model(name)
    versions = deck.versions(name).items
    champ, _ = champion_of(versions)
    v = version if version is not None else (champ.version if champ else None)
    s = summarize(deck, name)
    metric = METRICS.get(s.metric)
    unit = _unit(model, metric.key) if metric is not None else ""
    summary = [f"Health: {s.health.status.upper()} — {s.health.reason}",
               f"Task: {model.task_source}."]
    if s.value is not None and metric is not None:
        summary.append(f"{metric.name} of the champion v{s.champion}: {s.value_text}. "
                       f"{s.sentence}")
    advice = model_advice(deck, name)
    summary += [_recommendation_line(r) for r in advice.recommendations]
    if advice.problem:
        summary.append(f"No recommendation: {advice.problem}")

    sections: list[Section] = []
    glossary = ([metric.key] if metric is not None else []) + ["confidence_interval"]
    ev = None
    if v is not None and model.task_known:
        try:
            ev = version_evaluation(deck, name, v)
        except (KeyError, RegistryError):
            ev = None
    if ev is not None and ev.rows:
        if model.task == "binary" and ev.binary is not None:
            sections += _binary_sections(deck, model, v, ev, threshold)
            glossary += ["roc_auc", "threshold", "precision", "recall", "accuracy"]
        elif model.task == "multiclass" and ev.multiclass is not None:
            sections += _multiclass_sections(model, v, ev)
            glossary += ["accuracy", "precision", "recall", "f1_macro", "roc_auc"]
        elif model.task == "regression" and ev.regression is not None:
            sections += _regression_sections(model, v, ev)
            glossary += ["mae", "rmse", "r2"]
        seg = _segment_section(model, v, ev)
        if seg is not None:
            sections.append(seg)
        val = _validation_section(deck, model, v, threshold)
        if val is not None:
            sections.append(val)
        summary += [cannot_compute(k, why) for k, why in ev.unavailable.items()]
    if ev is None and v is not None:  # no prediction rows: what MLflow logged, as stored
        from analysis.logged import HELD_OUT, NO_INTERVAL, logged_values
        shown = next((x for x in versions if x.version == v), None)
        for x in logged_values(model, shown) if shown is not None else []:
            if x.group == HELD_OUT and x.interval:
                ci = (f" (95% exact interval {x.low:.3f} to {x.high:.3f})" if x.low is not None
                      else f" ({NO_INTERVAL})")
                summary.append(f"v{v} logged {x.label} ({x.name}) {x.text}{ci}.")
    trend = _trend_section(deck, model, metric, unit, s.champion) if metric else None
    if trend is not None:
        sections.append(trend)
    sections += _monitoring_sections(deck, model, v)

    vt = "" if v is None else f" · version {v}" + (" (champion)" if champ and v == champ.version
                                                   else "")
    extra = [("Threshold", f"{threshold:.2f}")] if model.task == "binary" else []
    if ev is not None:
        extra.insert(0, (f"Evaluation rows of v{v}", f"{ev.rows:,} labelled rows"))
    return Report(
        kind="model", title=f"{model.name}: model report",
        subtitle=f"{TASK_LABEL.get(model.task, model.task)}{vt}"
                 + (f" · {model.description}" if model.description else ""),
        summary=tuple(summary), sections=tuple(sections), glossary=_glossary(glossary),
        provenance=_provenance(deck, [name], extra),
        meta=ExportMeta(model.name, "" if v is None else str(v), day(data_date(deck, name))),
        stem=safe_name(model.name, f"v{v}" if v is not None else "", "report"))


def _binary_sections(deck, model, v, ev, t) -> list[Section]:
    tr = threshold_result(deck, model.name, v, t)
    label = f"v{v}"
    auc = ev.metrics.get("roc_auc")
    ap = ev.metrics.get("average_precision")
    out = []
    if auc is not None:
        numbers = [f"ROC AUC: {format_value('roc_auc', auc.value)} "
                   f"({interval_text('roc_auc', auc.low, auc.high)})"]
        if ap is not None:
            numbers.append(f"Average precision: {format_value('average_precision', ap.value)} "
                           f"({interval_text('average_precision', ap.low, ap.high)})")
        out.append(Section(
            "How well it ranks", metric_sentence("roc_auc", auc.value, model),
            roc_figure([(label, ev.binary.roc)], [(label, tr)]), tuple(numbers),
            "The higher and further left the curve, the better. The diamond is the chosen "
            "threshold.", "roc-curve"))
    numbers = [f"{METRICS[k].name} at threshold {tr.threshold:.2f}: "
               + (f"undefined: {tr.undefined[k]}" if k in tr.undefined else
                  f"{format_value(k, tr.metrics[k].value)} "
                  f"({interval_text(k, tr.metrics[k].low, tr.metrics[k].high)})")
               for k in ("precision", "recall", "accuracy") if k in tr.metrics]
    entity = plural(model.entity or "row")
    out.append(Section(
        f"What happens at threshold {tr.threshold:.2f}",
        threshold_sentence(model, tr.tp, tr.fp, tr.fn),
        confusion_matrix_figure(tr.matrix, ["negative", "positive"],
                                f"Confusion matrix at threshold {tr.threshold:.2f}", entity),
        tuple(numbers), "Counts of each combination of what really happened and what the model "
                        "predicted at this threshold.", "confusion-matrix"))
    b = ev.binary
    gain = b.gain
    i = int(np.argmin(np.abs(np.asarray(gain.x) - 0.2))) if len(gain.x) else None
    if i is not None:
        out.append(Section(
            "Who to contact first",
            f"Contacting the top {gain.x[i]:.0%} of scores reaches {gain.y[i]:.0%} of the "
            f"{positives_phrase(model)[0]}.",
            gain_figure([(label, gain)]),
            (f"Top {gain.x[i]:.0%} of rows: {gain.y[i]:.1%} of positives found",
             f"Positives in the evaluation rows: {b.positives:,} of "
             f"{b.positives + b.negatives:,}"),
            "How many positives you reach by contacting the highest-scoring ones first.",
            "gain-curve"))
    return out


def _multiclass_sections(model, v, ev) -> list[Section]:
    m = ev.multiclass
    acc = ev.metrics.get("accuracy")
    entity = plural(model.entity or "row")
    numbers = ()
    takeaway = ""
    if acc is not None:
        takeaway = metric_sentence("accuracy", acc.value, model)
        numbers = (f"Accuracy: {format_value('accuracy', acc.value)} "
                   f"({interval_text('accuracy', acc.low, acc.high)})",)
    pc = m.per_class.sort_values("recall")
    worst = pc.iloc[0] if len(pc) else None
    numbers += tuple(confused_pair_sentence(p, model) for p in m.confused)
    out = [Section("Where it goes wrong", takeaway,
                   confusion_matrix_figure(m.confusion, m.labels, entity=entity), numbers,
                   "Each row is a true class; the diagonal holds the right answers.",
                   "confusion-matrix")]
    if worst is not None:
        out.append(Section(
            "Each class", f"Class {worst['label']} is recognised least often: "
                          f"{format_value('recall', worst['recall'])} recall.",
            per_class_figure(m.per_class),
            tuple(f"Class {r.label}: precision {_defined('precision', r.precision)}, "
                  f"recall {_defined('recall', r.recall)}" for r in pc.head(5).itertuples())
            + tuple(per_class_notes(m.per_class)),
            "Precision: how often a predicted class is right. Recall: how often a true class "
            "is recognised.", "per-class"))
    if m.roc:
        out.append(Section(
            "Each class against the rest", one_vs_rest_sentence(m.roc),
            one_vs_rest_roc_figure(m.roc, entity),
            tuple(f"Class {c.label}: ROC AUC {format_value('roc_auc', c.roc.area)} "
                  f"({c.positives:,} of {c.positives + c.negatives:,} rows)"
                  for c in sorted(m.roc, key=lambda c: c.roc.area)[:8])
            + tuple(no_curve_sentence(label, why) for label, why in m.roc_missing),
            CLASS_ROC_CAPTION, "class-roc"))
    c = m.confidence
    if c is not None and c.rows:
        out.append(Section(
            "How sure it is", confidence_sentence(c, model),
            confidence_figure([(f"v{v}", c)]),
            tuple(f"{r.bin_left:.0%}–{r.bin_right:.0%} sure: right in "
                  f"{r.share_correct:.1%} of {int(r.rows):,} rows"
                  for r in c.table.itertuples()),
            CONFIDENCE_CAPTION, "confidence"))
    return out


def _defined(metric: str, value: float) -> str:
    return "undefined" if not np.isfinite(value) else format_value(metric, value)


def _regression_sections(model, v, ev) -> list[Section]:
    r = ev.regression
    unit = model.target_unit
    out = []
    mae, rmse = ev.metrics.get("mae"), ev.metrics.get("rmse")
    numbers = tuple(f"{METRICS[k].name}: {format_value(k, c.value, unit)} "
                    f"({interval_text(k, c.low, c.high, unit)})"
                    for k, c in (("mae", mae), ("rmse", rmse)) if c is not None)
    out.append(Section(
        "How far off the predictions are",
        metric_sentence("mae", mae.value, model) if mae is not None else "",
        predicted_vs_actual_figure(r.actual_vs_predicted, unit), numbers,
        "Points on the dotted line are perfect predictions.", "predicted-vs-actual"))
    out.append(Section(
        "The size of the errors",
        metric_sentence("rmse", rmse.value, model) if rmse is not None else "",
        error_distribution_figure(r.errors, unit), numbers,
        "Most errors should be small and centred on zero.", "error-distribution"))
    return out


def _segment_section(model, v, ev) -> Section | None:
    seg = ev.segments
    if seg.empty:
        return None
    metric = METRICS[seg["metric"].iloc[0]]
    unit = _unit(model, metric.key)
    lines = [f"Weakest {r.segment}: {r.value}, with {metric.name} "
             f"{format_value(metric.key, r.estimate, unit)} "
             f"({interval_text(metric.key, r.low, r.high, unit)}, {r.rows:,} rows)."
             for r in seg.loc[seg["weakest"]].itertuples()]
    rest = not_judged_text(seg)
    return Section(
        "Where it is weaker", lines[0] if lines else "No segment is clearly weaker.",
        segment_figure(seg, metric.name, unit, metric.higher_is_better),
        tuple(lines) + ((rest,) if rest else ()),
        "Each dot is one group of rows, with its 95% interval; the weakest of each segment is "
        f"red. {not_judged_caption()}", "segment-chart")


def _validation_section(deck, model, v, t) -> Section | None:
    """The page's "Validation and robustness" section: the version on every split."""
    try:
        result = version_validation(deck, model.name, v, t)
    except (KeyError, RegistryError):
        return None
    if result is None:
        return None
    sentences = tuple(s for s in (result.fold_sentence,) + result.stress_sentences if s)
    unit = model.target_unit
    return Section(
        "Validation and robustness", sentences[0] if sentences else
        f"Version {v} measured on each of its {len(result.splits)} evaluation splits.",
        splits_figure(result, unit=unit), sentences[1:] + split_lines(result, unit),
        SPLITS_CAPTION, "validation-chart")


def _trend_section(deck, model, metric, unit, champion) -> Section | None:
    trend = metric_across_versions(deck, model.name)
    if not trend["value"].notna().any():
        return None
    numbers = tuple(f"{r.label}{' (' + r.aliases + ')' if r.aliases else ''}: "
                    f"{format_value(metric.key, r.value, unit)} "
                    f"({interval_text(metric.key, r.low, r.high, unit)})"
                    for r in trend.dropna(subset=["value"]).itertuples())
    row = trend.loc[trend["version"] == champion]
    if len(row) and np.isfinite(row["value"].iloc[0]):
        r = row.iloc[0]
        takeaway = (f"The champion v{champion} scores {format_value(metric.key, r['value'], unit)}"
                    f" {metric.name} ({interval_text(metric.key, r['low'], r['high'], unit)}).")
    else:
        takeaway = f"{metric.name} of every version with evaluation rows."
    return Section(
        "Every version", takeaway,
        versions_trend_figure(trend, metric.name, unit, metric.higher_is_better), numbers,
        f"{metric.name} of each version, computed by ModelDeck from its evaluation rows, with "
        "95% bootstrap intervals. The champion is blue, the challenger orange.",
        "metric-by-version")


def _monitoring_sections(deck, model, v) -> list[Section]:
    try:
        _, _, report = model_monitoring(deck, model.name, v)
    except (KeyError, RegistryError):
        return []
    if report is None or report.performance.empty:
        return []
    metric = METRICS[report.metric]
    unit = _unit(model, metric.key)
    # the monitoring page's sentences and chart, with the estimate for windows without labels
    est = model_estimate(deck, model.name, v)[2] if model.task == "binary" else None
    sentences = summary_sentences(report, est, unit)
    estimate = drawn_estimate(est, report.metric)
    headline = estimate_headline(est, report.metric)
    p = report.performance
    numbers = tuple(window_text(r, metric.key, unit) for r in p.itertuples()
                    if r.labelled > 0)[-6:]
    out = [Section(
        "In production", sentences[0] if sentences else "",
        performance_over_time(p, metric.name, report.reference, report.reference_low,
                              report.reference_high, unit, report.window_kind, estimate),
        numbers + tuple(sentences[1:2]) + ((headline,) if headline else ()),
        performance_caption(metric.name, report.window_kind, estimate is not None),
        "performance-over-time")]
    if not report.drift.empty:
        top = report.top_drift(3)
        drift_line = next((s for s in sentences if "shift" in s), "")
        out.append(Section(
            "Is the input data changing?", drift_line or "Drift of each input against "
                                                      "evaluation.",
            drift_heatmap(report.drift),
            tuple(f"{r.name} in {r.label}: PSI {r.psi:.2f}" for r in top.itertuples()),
            "PSI compares each input's distribution in a window with the evaluation data: "
            "below 0.1 stable, 0.1–0.2 moderate, above 0.2 a large shift.", "drift-heatmap"))
    return out


# ------------------------------------------------------------------ two versions
def _logged_compare_report(deck, model, a: int, b: int) -> Report:
    """Two versions without prediction rows of both: their logged metrics (point values) and
    what changed between their runs; the same words as the compare page."""
    from analysis.logged import logged_comparison, version_changes
    by = {v.version: v for v in deck.versions(model.name).items}
    table = logged_comparison(model, by[a], by[b])
    summary = [f"No verdict with paired intervals: they need the prediction rows of both "
               f"versions. Metrics as logged on held-out data, v{a} against v{b}:"]
    summary += [f"{r.label} ({r.name}): v{a} {r.text_a}, v{b} {r.text_b}"
                for r in table.itertuples()]
    ch = version_changes(by[a], by[b])
    summary += [f"{kind} {k}: {x} → {y}" for kind, rows in (("Parameter", ch.params),
                                                           ("Run tag", ch.tags),
                                                           ("Datasets", ch.datasets))
                for k, x, y in rows]
    return Report(
        kind="compare", title=f"{model.name}: v{b} against v{a}",
        subtitle=f"{TASK_LABEL.get(model.task, 'Task unknown')} · metrics as logged",
        summary=tuple(summary), sections=(), glossary=_glossary([]),
        provenance=_provenance(deck, [model.name], [("Compared", f"v{a} (baseline) and "
                                                                 f"v{b} (candidate)")]),
        meta=ExportMeta(model.name, f"{a} vs {b}", day(data_date(deck, model.name))),
        stem=safe_name(model.name, f"v{a}-vs-v{b}", "report"))


def compare_report(deck, name: str, a: int, b: int, threshold: float = 0.5) -> Report:
    """The compare page as a report: the verdict, the metric table, the overlaid curves and
    the per-segment differences."""
    model = deck.model(name)
    try:
        if not model.task_known:
            raise KeyError(name)
        comp = version_comparison(deck, name, a, b, threshold)
    except KeyError:
        return _logged_compare_report(deck, model, a, b)
    summary = [comp.verdict]
    advice = model_advice(deck, name)
    summary += [_recommendation_line(r) for r in advice.recommendations
                if r.details.get("challenger") in (a, b)]
    numbers = []
    if not comp.problem:
        for r in comp.table().itertuples():
            u = _unit(model, r.metric)
            word = ("no significant difference" if not r.significant else
                    (f"v{b} better" if r.better else f"v{b} worse"))
            dg = difference_digits(r.metric, r.delta, r.low, r.high)
            numbers.append(f"{METRICS[r.metric].name}: v{a} {format_value(r.metric, r.value_a, u)}"
                           f", v{b} {format_value(r.metric, r.value_b, u)}, difference "
                           f"{format_difference(r.metric, r.delta, u, dg)} "
                           f"({interval_text(r.metric, r.low, r.high, u, True, dg)}) — "
                           f"{word}")
        summary.append(f"Compared on the same {comp.rows:,} evaluation rows; differences are "
                       f"v{b} minus v{a}.")
        numbers += [cannot_compute(k, why) for k, why in comp.unavailable.items()]
    sections: list[Section] = []
    if not comp.problem:
        ea, eb = version_evaluation(deck, name, a), version_evaluation(deck, name, b)
        sections += _compare_overlays(deck, model, a, b, ea, eb, threshold, comp,
                                      tuple(numbers))
        if not comp.segments.empty:
            metric = METRICS[comp.segments["metric"].iloc[0]]
            unit = _unit(model, metric.key)
            seg = comp.segments
            sig = seg.loc[seg["significant"]]
            lines = tuple(
                f"{r.segment} = {r.value}: "
                f"{format_difference(r.metric, r.delta, unit, dg)}"
                f" ({interval_text(r.metric, r.low, r.high, unit, True, dg)})"
                for r in sig.itertuples()
                for dg in [difference_digits(r.metric, r.delta, r.low, r.high)])
            takeaway = (f"v{b} differs significantly from v{a} in {len(sig)} of {len(seg)} "
                        "groups." if len(sig) else
                        f"No group shows a significant difference between v{b} and v{a}.")
            rest = not_judged_text(seg)
            sections.append(Section(
                "Differences per segment", takeaway,
                segment_delta_figure(seg, metric.name, a, b, unit, metric.higher_is_better),
                lines[:8] + ((rest,) if rest else ()),
                "Each dot is one group of rows with its paired 95% interval. Grey: no "
                f"significant difference. {not_judged_caption()}", "segment-deltas"))
    head = METRICS[comp.segments["metric"].iloc[0]].key if not comp.segments.empty else None
    glossary = [k for k in comp.differences] + ["paired_interval", "threshold"]
    return Report(
        kind="compare", title=f"{model.name}: v{b} against v{a}",
        subtitle=f"{TASK_LABEL.get(model.task, model.task)} · two versions on the same "
                 "evaluation rows", summary=tuple(summary), sections=tuple(sections),
        glossary=_glossary(([head] if head else []) + glossary),
        provenance=_provenance(deck, [name], [("Compared", f"v{a} (baseline) and v{b} "
                                                           "(candidate)"),
                                              ("Threshold", f"{threshold:.2f}")]),
        meta=ExportMeta(model.name, f"{a} vs {b}", day(data_date(deck, name))),
        stem=safe_name(model.name, f"v{a}-vs-v{b}", "report"))


def _compare_overlays(deck, m, a, b, ea, eb, t, comp, numbers) -> list[Section]:
    la, lb = f"v{a}", f"v{b}"
    verdict = comp.verdict.split(". ")[0].rstrip(".") + "."
    if m.task == "binary" and ea.binary is not None and eb.binary is not None:
        ta, tb = threshold_result(deck, m.name, a, t), threshold_result(deck, m.name, b, t)
        base = ea.binary.positives / (ea.binary.positives + ea.binary.negatives)
        auc = [n for n in numbers if n.startswith(("ROC AUC", "Average precision"))]
        at_t = [n for n in numbers if n.startswith(("Precision", "Recall", "Accuracy"))]
        return [
            Section("Ranking: the two ROC curves", verdict,
                    roc_figure([(la, ea.binary.roc), (lb, eb.binary.roc)], [(la, ta), (lb, tb)]),
                    tuple(auc), "Higher and further left is better; diamonds mark the "
                                "threshold.", "compare-roc"),
            Section("Alerts: precision against recall",
                    comp.verdict.split(". ", 1)[1] if ". " in comp.verdict else verdict,
                    pr_figure([(la, ea.binary.pr), (lb, eb.binary.pr)], base), tuple(at_t),
                    "Higher is better.", "compare-pr"),
            Section("Calibration", "Closer to the dotted line is better calibrated.",
                    calibration_figure([(la, ea.binary.calibration),
                                        (lb, eb.binary.calibration)]),
                    tuple(n for n in numbers if n.startswith(("Brier", "Log loss"))),
                    "Do predicted probabilities come true?", "compare-calibration"),
            Section("Who to contact first", "Higher is better: more positives reached for the "
                                            "same effort.",
                    gain_figure([(la, ea.binary.gain), (lb, eb.binary.gain)]), (),
                    "Cumulative gain of each version.", "compare-gain"),
        ]
    if m.task == "multiclass" and ea.multiclass is not None and eb.multiclass is not None:
        return [Section(f"Confusion matrix of {lab}", verdict,
                        confusion_matrix_figure(e.multiclass.confusion, e.multiclass.labels,
                                                f"Confusion matrix of {lab}"),
                        numbers, "Each row is a true class; the diagonal holds the right "
                                 "answers.", f"compare-confusion-{side}")
                for side, lab, e in (("a", la, ea), ("b", lb, eb))]
    if m.task == "regression" and ea.regression is not None and eb.regression is not None:
        unit = m.target_unit
        return [Section(f"How far off {lab}'s predictions are", verdict,
                        error_distribution_figure(e.regression.errors, unit).update_layout(
                            title_text=f"How far off {lab}'s predictions are"),
                        numbers, "Most errors should be small and centred on zero.",
                        f"compare-errors-{side}")
                for side, lab, e in (("a", la, ea), ("b", lb, eb))]
    return []


# ------------------------------------------------------------------ the portfolio
def portfolio_report(deck) -> Report:
    """The recommendations page as a report: what to do with each model, most valuable
    first, each with its evidence chart."""
    advice = portfolio_advice(deck)
    recs = ranked(advice)
    by_model = {a.model: a for a in advice}
    summary = [advice_summary(advice)]
    summary += [f"{r.model} — {_recommendation_line(r)}" for r in recs]
    summary += [f"{a.model}: no recommendation — {a.problem}" for a in advice if a.problem]
    sections = []
    glossary = []
    for r in recs:
        adv = by_model[r.model]
        try:
            fig, caption = evidence_figure(deck, r, adv)
        except Exception:  # one model's chart never costs the portfolio report
            log.exception("cannot draw the evidence for %s", r.model)
            fig, caption = None, ""
        if adv.evidence is not None:
            glossary.append(adv.evidence.metric)
        if fig is None:
            continue
        sections.append(Section(
            f"{r.model}: {ACTION_WORD[r.action].lower()}", r.headline, fig,
            tuple(r.evidence) + (f"Confidence: {r.confidence} · {r.money_text}",),
            caption, safe_name(r.model, r.action)))
    names = [m.name for m in deck.models().items]
    newest = [d for d in (data_date(deck, n) for n in names) if d]
    return Report(
        kind="portfolio", title="Model portfolio: recommendations",
        subtitle=f"{len(names)} models · what to do with each, most valuable first",
        summary=tuple(summary), sections=tuple(sections),
        glossary=_glossary(glossary + ["confidence_interval", "paired_interval"]),
        provenance=_provenance(deck, names, []),
        meta=ExportMeta(data_date=day(max(newest)) if newest else ""),
        stem="portfolio-recommendations")


def evidence_figure(deck, r, advice) -> tuple[go.Figure | None, str]:
    """The evidence chart beside a recommendation and its caption: the figure the
    recommendations page draws for it (components.recommendation_figures.evidence_figure)."""
    e = advice.evidence
    if e is None:
        return None, ""
    report = None
    if r.chart == "monitoring":
        try:
            _, _, report = model_monitoring(deck, r.model, e.champion)
        except (KeyError, RegistryError):
            report = None
    return draw_evidence(r, e, report)
