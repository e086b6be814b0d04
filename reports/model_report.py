"""The model page as a report: health, headline metric and recommendations in words, then the
page's key sections for one version (``sections.model``, the objects the page draws) and the
production sections of the monitoring page."""
from __future__ import annotations

from analysis.estimate_sentences import estimate_headline, summary_sentences
from analysis.estimation import drawn_estimate, model_estimate
from analysis.evaluation import threshold_result, version_evaluation
from analysis.evidence import model_advice
from analysis.metrics import METRICS, cannot_compute
from analysis.monitoring import (
    model_monitoring, performance_caption, window_text,
)
from analysis.portfolio import summarize
from analysis.validation import version_validation
from analysis.versions import metric_across_versions
from components.cards import TASK_LABEL
from components.monitoring_figures import drift_heatmap, performance_over_time
from registry.model import RegistryError, champion_of
from sections import Section, for_report
from sections.model import (
    evaluation_sections, segment_section, trend_section, unit_of, validation_section,
)

from .images import ExportMeta, safe_name
from .report import Report, data_date, day, glossary_of, provenance, recommendation_line

#: glossary entries of each task's sections
TASK_GLOSSARY = {"binary": ["roc_auc", "threshold", "precision", "recall", "accuracy"],
                 "multiclass": ["accuracy", "precision", "recall", "f1_macro", "roc_auc"],
                 "regression": ["mae", "rmse", "r2"]}


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
    summary = [f"Health: {s.health.status.upper()} — {s.health.reason}",
               f"Task: {model.task_source}."]
    if s.value is not None and metric is not None:
        summary.append(f"{metric.name} of the champion v{s.champion}: {s.value_text}. "
                       f"{s.sentence}")
    advice = model_advice(deck, name)
    summary += [recommendation_line(r) for r in advice.recommendations]
    if advice.problem:
        summary.append(f"No recommendation: {advice.problem}")

    sections: list[Section | None] = []
    glossary = ([metric.key] if metric is not None else []) + ["confidence_interval"]
    ev = None
    if v is not None and model.task_known:
        try:
            ev = version_evaluation(deck, name, v)
        except KeyError:  # no prediction rows: the report shows what MLflow logged
            ev = None
        # an unreadable table is not "no rows": the report refuses, naming the file (503),
        # rather than leave out its evaluation sections without a word
    if ev is not None and ev.rows:
        tr = threshold_result(deck, name, v, threshold) if model.task == "binary" else None
        task_sections = evaluation_sections(model, v, ev, tr)
        if task_sections:
            glossary += TASK_GLOSSARY[model.task]
        sections += task_sections
        sections.append(segment_section(model, ev))
        sections.append(_validation(deck, model, v, threshold))
        summary += [cannot_compute(k, why) for k, why in ev.unavailable.items()]
    if ev is None and v is not None:  # no prediction rows: what MLflow logged, as stored
        from analysis.logged import HELD_OUT, NO_INTERVAL, logged_values
        shown = next((x for x in versions if x.version == v), None)
        for x in logged_values(model, shown) if shown is not None else []:
            if x.group == HELD_OUT and x.interval:
                ci = (f" (95% exact interval {x.low:.3f} to {x.high:.3f})" if x.low is not None
                      else f" ({NO_INTERVAL})")
                summary.append(f"v{v} logged {x.label} ({x.name}) {x.text}{ci}.")
    if metric is not None:
        sections.append(trend_section(model, metric, metric_across_versions(deck, name),
                                      s.champion))
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
        summary=tuple(summary), sections=tuple(for_report(sections)),
        glossary=glossary_of(glossary), provenance=provenance(deck, [name], extra),
        meta=ExportMeta(model.name, "" if v is None else str(v), day(data_date(deck, name))),
        stem=safe_name(model.name, f"v{v}" if v is not None else "", "report"))


def _validation(deck, model, v, t) -> Section | None:
    """The page's "Validation and robustness" section: the version on every split."""
    try:
        result = version_validation(deck, model.name, v, t)
    except (KeyError, RegistryError):
        return None
    return validation_section(model, v, result) if result is not None else None


def _monitoring_sections(deck, model, v) -> list[Section]:
    try:
        _, _, report = model_monitoring(deck, model.name, v)
    except (KeyError, RegistryError):
        return []
    if report is None or report.performance.empty:
        return []
    metric = METRICS[report.metric]
    unit = unit_of(model, metric.key)
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
