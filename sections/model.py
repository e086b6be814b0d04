"""The sections of the model page (`/models/<name>`) and of its report: how good one version
is (by task), where it is weaker, how it holds up on every split, and every version's metric.

Each builder takes analysis results (``analysis.evaluation``, ``analysis.validation``,
``analysis.versions``) and returns ``Section`` objects; ``pages.model`` draws them and
``reports.model_report`` lays out those marked ``in_report``.
"""
from __future__ import annotations

import numpy as np

from analysis.language import (
    confidence_sentence, confused_pair_sentence, format_value, interval_text, metric_sentence,
    no_curve_sentence, not_judged_caption, not_judged_text, one_vs_rest_sentence, plural,
    positives_phrase, threshold_sentence,
)
from analysis.metrics import METRICS
from analysis.multiclass import per_class_notes
from components.evaluation_figures import (
    CLASS_ROC_CAPTION, CONFIDENCE_CAPTION, calibration_figure, confidence_figure,
    confusion_matrix_figure, error_distribution_figure, gain_figure, one_vs_rest_roc_figure,
    per_class_figure, pr_figure, predicted_vs_actual_figure, residuals_figure, roc_figure,
    score_distribution_figure, segment_figure, versions_trend_figure,
)
from components.validation_figures import CAPTION as SPLITS_CAPTION, split_lines, splits_figure

from . import Section

THRESHOLD_CAPTION = ("Counts of each combination of what really happened and what the model "
                     "predicted at this threshold.")


def unit_of(model, metric: str) -> str:
    """The model's target unit for a metric measured in it (MAE, RMSE), else ""."""
    return model.target_unit if METRICS[metric].kind == "unit" else ""


def evaluation_sections(model, v: int, ev, tr=None) -> list[Section]:
    """The charts of one version's evaluation for its task, in page order; ``tr`` is the
    ``threshold_result`` of a yes/no model at the chosen threshold."""
    if model.task == "binary" and ev.binary is not None and tr is not None:
        return binary_sections(model, v, ev, tr)
    if model.task == "multiclass" and ev.multiclass is not None:
        return multiclass_sections(model, v, ev)
    if model.task == "regression" and ev.regression is not None:
        return regression_sections(model, ev)
    return []


# ------------------------------------------------------------------ yes/no models
def threshold_section(model, tr) -> Section:
    """What happens at the chosen threshold: the confusion matrix and the sentence that says
    how many are flagged, right and missed."""
    numbers = tuple(f"{METRICS[k].name} at threshold {tr.threshold:.2f}: "
                    + (f"undefined: {tr.undefined[k]}" if k in tr.undefined else
                       f"{format_value(k, tr.metrics[k].value)} "
                       f"({interval_text(k, tr.metrics[k].low, tr.metrics[k].high)})")
                    for k in ("precision", "recall", "accuracy") if k in tr.metrics)
    return Section(
        f"What happens at threshold {tr.threshold:.2f}",
        threshold_sentence(model, tr.tp, tr.fp, tr.fn),
        confusion_matrix_figure(tr.matrix, ["negative", "positive"],
                                f"Confusion matrix at threshold {tr.threshold:.2f}",
                                plural(model.entity or "row")),
        numbers, THRESHOLD_CAPTION, "confusion-matrix")


def binary_sections(model, v: int, ev, tr) -> list[Section]:
    b = ev.binary
    label = f"v{v}"
    auc, ap = ev.metrics.get("roc_auc"), ev.metrics.get("average_precision")
    numbers = []
    if auc is not None:
        numbers.append(f"ROC AUC: {format_value('roc_auc', auc.value)} "
                       f"({interval_text('roc_auc', auc.low, auc.high)})")
        if ap is not None:
            numbers.append(f"Average precision: {format_value('average_precision', ap.value)} "
                           f"({interval_text('average_precision', ap.low, ap.high)})")
    gain = b.gain
    i = int(np.argmin(np.abs(np.asarray(gain.x) - 0.2))) if len(gain.x) else None
    noun = positives_phrase(model)[0]
    return [
        Section("How well it ranks",
                metric_sentence("roc_auc", auc.value, model) if auc is not None else "",
                roc_figure([(label, b.roc)], [(label, tr)]), tuple(numbers),
                "The higher and further left the curve, the better. The diamond is the "
                "chosen threshold.", "roc-curve", in_report=auc is not None),
        threshold_section(model, tr),
        Section("Precision against recall", "",
                pr_figure([(label, b.pr)], b.positives / (b.positives + b.negatives)), (),
                "Precision is the share of alerts that are right; recall the share of "
                "positives found.", "pr-curve", in_report=False),
        Section("Calibration", "", calibration_figure([(label, b.calibration)]), (),
                "Points on the dotted line mean a predicted 30% really happens 30% of the "
                "time.", "calibration", in_report=False),
        Section("Who to contact first",
                f"Contacting the top {gain.x[i]:.0%} of scores reaches {gain.y[i]:.0%} of the "
                f"{noun}." if i is not None else "",
                gain_figure([(label, gain)]),
                (f"Top {gain.x[i]:.0%} of rows: {gain.y[i]:.1%} of positives found",
                 f"Positives in the evaluation rows: {b.positives:,} of "
                 f"{b.positives + b.negatives:,}") if i is not None else (),
                f"How many of the {noun} you reach by contacting the highest-scoring ones "
                "first.", "gain-curve", in_report=i is not None),
        Section("Where the scores fall", "",
                score_distribution_figure(b.scores, tr.threshold, "negative", "positive"), (),
                "Where the scores of real positives and negatives fall.",
                "score-distribution", in_report=False),
    ]


# ------------------------------------------------------------------ one of several classes
def multiclass_sections(model, v: int, ev) -> list[Section]:
    m = ev.multiclass
    acc = ev.metrics.get("accuracy")
    entity = plural(model.entity or "row")
    numbers: tuple[str, ...] = ()
    if acc is not None:
        numbers = (f"Accuracy: {format_value('accuracy', acc.value)} "
                   f"({interval_text('accuracy', acc.low, acc.high)})",)
    pc = m.per_class.sort_values("recall")
    worst = pc.iloc[0] if len(pc) else None
    out = [
        Section("Where it goes wrong",
                metric_sentence("accuracy", acc.value, model) if acc is not None else "",
                confusion_matrix_figure(m.confusion, m.labels, entity=entity),
                numbers + tuple(confused_pair_sentence(p, model) for p in m.confused),
                "Each row is a true class; the diagonal holds the right answers.",
                "confusion-matrix"),
        Section("Each class",
                f"Class {worst['label']} is recognised least often: "
                f"{format_value('recall', worst['recall'])} recall." if worst is not None
                else "",
                per_class_figure(m.per_class),
                tuple(f"Class {r.label}: precision {_defined('precision', r.precision)}, "
                      f"recall {_defined('recall', r.recall)}" for r in pc.head(5).itertuples())
                + tuple(per_class_notes(m.per_class)),
                "Precision: how often a predicted class is right. Recall: how often a true "
                "class is recognised.", "per-class", in_report=worst is not None),
    ]
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


# ------------------------------------------------------------------ a number
def regression_sections(model, ev) -> list[Section]:
    r = ev.regression
    unit = model.target_unit
    mae, rmse = ev.metrics.get("mae"), ev.metrics.get("rmse")
    numbers = tuple(f"{METRICS[k].name}: {format_value(k, c.value, unit)} "
                    f"({interval_text(k, c.low, c.high, unit)})"
                    for k, c in (("mae", mae), ("rmse", rmse)) if c is not None)
    return [
        Section("How far off the predictions are",
                metric_sentence("mae", mae.value, model) if mae is not None else "",
                predicted_vs_actual_figure(r.actual_vs_predicted, unit), numbers,
                "Points on the dotted line are perfect predictions.", "predicted-vs-actual"),
        Section("Errors at every level", "", residuals_figure(r.residuals, unit), (),
                "Errors should scatter evenly around zero at every level.", "residuals",
                in_report=False),
        Section("The size of the errors",
                metric_sentence("rmse", rmse.value, model) if rmse is not None else "",
                error_distribution_figure(r.errors, unit), numbers,
                "Most errors should be small and centred on zero.", "error-distribution"),
    ]


# ------------------------------------------------------------------ segments
def weakest_lines(model, seg) -> list[str]:
    """One sentence per segment column: its weakest group, with the metric and interval."""
    metric = METRICS[seg["metric"].iloc[0]]
    unit = unit_of(model, metric.key)
    return [f"Weakest {r.segment}: {r.value}, with {metric.name} "
            f"{format_value(metric.key, r.estimate, unit)} "
            f"({interval_text(metric.key, r.low, r.high, unit)}, {r.rows:,} rows)."
            for r in seg.loc[seg["weakest"]].itertuples()]


def segment_section(model, ev) -> Section | None:
    """Where the version is weaker: its metric in each group of rows."""
    seg = ev.segments
    if seg.empty:
        return None
    metric = METRICS[seg["metric"].iloc[0]]
    lines = weakest_lines(model, seg)
    rest = not_judged_text(seg)
    return Section(
        "Where it is weaker", lines[0] if lines else "No segment is clearly weaker.",
        segment_figure(seg, metric.name, unit_of(model, metric.key), metric.higher_is_better),
        tuple(lines) + ((rest,) if rest else ()),
        "Each dot is one group of rows, with its 95% interval; the weakest of each segment is "
        f"red. {not_judged_caption()}", "segment-chart")


# ------------------------------------------------------------------ every split
def validation_sentences(result) -> list[str]:
    """What the folds and stress sets say, in words (analysis.validation)."""
    return [s for s in (result.fold_sentence,) + result.stress_sentences if s]


def validation_section(model, v: int, result) -> Section:
    """The version on each of its evaluation splits (``analysis.validation``)."""
    sentences = validation_sentences(result)
    unit = model.target_unit
    return Section(
        "Validation and robustness", sentences[0] if sentences else
        f"Version {v} measured on each of its {len(result.splits)} evaluation splits.",
        splits_figure(result, unit=unit), tuple(sentences[1:]) + split_lines(result, unit),
        SPLITS_CAPTION, "validation-chart")


# ------------------------------------------------------------------ every version
def trend_section(model, metric, trend, champion) -> Section | None:
    """The headline metric of every version with evaluation rows
    (``analysis.versions.metric_across_versions``)."""
    if not trend["value"].notna().any():
        return None
    unit = unit_of(model, metric.key)
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
