"""The compare page as a report: the verdict, every metric's difference in words, the
overlaid curves and the per-segment differences (``sections.compare``, the objects the page
draws); two versions without prediction rows of both get their logged metrics."""
from __future__ import annotations

from analysis.compare import version_comparison
from analysis.evaluation import threshold_result, version_evaluation
from analysis.evidence import model_advice
from analysis.logged import logged_comparison, version_changes
from analysis.metrics import METRICS
from components.cards import TASK_LABEL
from sections.compare import (
    difference_lines, logged_verdict, overlay_sections, rows_sentence, segment_delta_section,
)

from .images import ExportMeta, safe_name
from .report import Report, data_date, day, glossary_of, provenance, recommendation_line


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
    summary += [recommendation_line(r) for r in advice.recommendations
                if r.details.get("challenger") in (a, b)]
    numbers = difference_lines(comp, model, a, b)
    if not comp.problem:
        summary.append(rows_sentence(comp, a, b))
    sections = []
    if not comp.problem:
        ea, eb = version_evaluation(deck, name, a), version_evaluation(deck, name, b)
        ta = tb = None
        if model.task == "binary":
            ta = threshold_result(deck, name, a, threshold)
            tb = threshold_result(deck, name, b, threshold)
        sections += overlay_sections(model, a, b, ea, eb, ta, tb, comp, numbers)
        seg = segment_delta_section(comp, model, a, b)
        if seg is not None:
            sections.append(seg)
    head = METRICS[comp.segments["metric"].iloc[0]].key if not comp.segments.empty else None
    glossary = [k for k in comp.differences] + ["paired_interval", "threshold"]
    return Report(
        kind="compare", title=f"{model.name}: v{b} against v{a}",
        subtitle=f"{TASK_LABEL.get(model.task, model.task)} · two versions on the same "
                 "evaluation rows", summary=tuple(summary), sections=tuple(sections),
        glossary=glossary_of(([head] if head else []) + glossary),
        provenance=provenance(deck, [name], [("Compared", f"v{a} (baseline) and v{b} "
                                                          "(candidate)"),
                                             ("Threshold", f"{threshold:.2f}")]),
        meta=ExportMeta(model.name, f"{a} vs {b}", day(data_date(deck, name))),
        stem=safe_name(model.name, f"v{a}-vs-v{b}", "report"))


def _logged_compare_report(deck, model, a: int, b: int) -> Report:
    """Two versions without prediction rows of both: their logged metrics (point values) and
    what changed between their runs; the same words as the compare page."""
    by = {v.version: v for v in deck.versions(model.name).items}
    table = logged_comparison(model, by[a], by[b])
    summary = [logged_verdict(model, by[a], by[b])]
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
        summary=tuple(summary), sections=(), glossary=glossary_of([]),
        provenance=provenance(deck, [model.name], [("Compared", f"v{a} (baseline) and "
                                                                f"v{b} (candidate)")]),
        meta=ExportMeta(model.name, f"{a} vs {b}", day(data_date(deck, model.name))),
        stem=safe_name(model.name, f"v{a}-vs-v{b}", "report"))
