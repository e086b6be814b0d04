"""The sections of the compare page (`/compare?model=&a=&b=`) and of its report: the metric
differences in words, the two versions' curves overlaid, and the differences per segment.

Built from ``analysis.compare.version_comparison`` and both versions' evaluations;
``pages.compare`` draws them, ``reports.compare_report`` lays them out.
"""
from __future__ import annotations

from analysis.language import (
    difference_digits, format_difference, format_value, interval_text, not_judged_caption,
    not_judged_text,
)
from analysis.metrics import METRICS, cannot_compute
from components.evaluation_figures import (
    calibration_figure, confusion_matrix_figure, error_distribution_figure, gain_figure,
    pr_figure, roc_figure, segment_delta_figure,
)

from . import Section
from .model import unit_of


def verdict_word(r, b: int) -> str:
    """A row of the comparison table in one word: better, worse or no significant
    difference (for version ``b`` against the baseline)."""
    return ("no significant difference" if not r.significant else
            (f"v{b} better" if r.better else f"v{b} worse"))


def difference_lines(comp, model, a: int, b: int) -> tuple[str, ...]:
    """Each metric of the comparison in one line: both values, the difference, its paired
    interval and the verdict; then the metrics that cannot be computed, and why."""
    if comp.problem:
        return ()
    out = []
    for r in comp.table().itertuples():
        u = unit_of(model, r.metric)
        dg = difference_digits(r.metric, r.delta, r.low, r.high)
        out.append(f"{METRICS[r.metric].name}: v{a} {format_value(r.metric, r.value_a, u)}"
                   f", v{b} {format_value(r.metric, r.value_b, u)}, difference "
                   f"{format_difference(r.metric, r.delta, u, dg)} "
                   f"({interval_text(r.metric, r.low, r.high, u, True, dg)}) — "
                   f"{verdict_word(r, b)}")
    return tuple(out) + tuple(cannot_compute(k, why) for k, why in comp.unavailable.items())


def rows_sentence(comp, a: int, b: int) -> str:
    return (f"Compared on the same {comp.rows:,} evaluation rows; differences are v{b} minus "
            f"v{a}.")


def logged_verdict(model, a, b) -> str:
    """Why two versions get no verdict with paired intervals (one has no prediction rows, or
    the task is unknown): the sentence the page and the report open with."""
    missing = [f"v{x.version}" for x in (a, b) if not x.splits]
    why = ("the model's task is unknown" if not model.task_known else
           f"{' and '.join(missing)} {'has' if len(missing) == 1 else 'have'} no prediction rows")
    return (f"No verdict with paired intervals: {why}, and paired 95% intervals need the "
            "prediction rows of both versions on the same rows. Below are the metrics each "
            "version logged on held-out data, as point values.")


def overlay_sections(model, a: int, b: int, ea, eb, ta, tb, comp,
                     numbers: tuple[str, ...]) -> list[Section]:
    """The two versions' charts side by side or overlaid, by task; ``ta``/``tb`` are their
    threshold results (yes/no models), ``numbers`` the ``difference_lines``."""
    la, lb = f"v{a}", f"v{b}"
    verdict = comp.verdict.split(". ")[0].rstrip(".") + "."
    if model.task == "binary" and ea.binary is not None and eb.binary is not None:
        base = ea.binary.positives / (ea.binary.positives + ea.binary.negatives)
        return [
            Section("Ranking: the two ROC curves", verdict,
                    roc_figure([(la, ea.binary.roc), (lb, eb.binary.roc)], [(la, ta), (lb, tb)]),
                    tuple(n for n in numbers if n.startswith(("ROC AUC", "Average precision"))),
                    "Higher and further left is better; diamonds mark the threshold.",
                    "compare-roc"),
            Section("Alerts: precision against recall",
                    comp.verdict.split(". ", 1)[1] if ". " in comp.verdict else verdict,
                    pr_figure([(la, ea.binary.pr), (lb, eb.binary.pr)], base),
                    tuple(n for n in numbers if n.startswith(("Precision", "Recall",
                                                              "Accuracy"))),
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
    if model.task == "multiclass" and ea.multiclass is not None and eb.multiclass is not None:
        return [Section(f"Confusion matrix of {lab}", verdict,
                        confusion_matrix_figure(e.multiclass.confusion, e.multiclass.labels,
                                                f"Confusion matrix of {lab}"),
                        numbers, "Each row is a true class; the diagonal holds the right "
                                 "answers.", f"compare-confusion-{side}")
                for side, lab, e in (("a", la, ea), ("b", lb, eb))]
    if model.task == "regression" and ea.regression is not None and eb.regression is not None:
        unit = model.target_unit
        return [Section(f"How far off {lab}'s predictions are", verdict,
                        error_distribution_figure(e.regression.errors, unit).update_layout(
                            title_text=f"How far off {lab}'s predictions are"),
                        numbers, "Most errors should be small and centred on zero.",
                        f"compare-errors-{side}")
                for side, lab, e in (("a", la, ea), ("b", lb, eb))]
    return []


def segment_delta_section(comp, model, a: int, b: int) -> Section | None:
    """Where the two versions differ: the paired difference in each group of rows."""
    seg = comp.segments
    if comp.problem or seg.empty:
        return None
    metric = METRICS[seg["metric"].iloc[0]]
    unit = unit_of(model, metric.key)
    sig = seg.loc[seg["significant"]]
    lines = tuple(
        f"{r.segment} = {r.value}: {format_difference(r.metric, r.delta, unit, dg)}"
        f" ({interval_text(r.metric, r.low, r.high, unit, True, dg)})"
        for r in sig.itertuples()
        for dg in [difference_digits(r.metric, r.delta, r.low, r.high)])
    takeaway = (f"v{b} differs significantly from v{a} in {len(sig)} of {len(seg)} groups."
                if len(sig) else
                f"No group shows a significant difference between v{b} and v{a}.")
    rest = not_judged_text(seg)
    return Section(
        "Differences per segment", takeaway,
        segment_delta_figure(seg, metric.name, a, b, unit, metric.higher_is_better),
        lines[:8] + ((rest,) if rest else ()),
        "Each dot is one group of rows with its paired 95% interval. Grey: no significant "
        f"difference. {not_judged_caption()}", "segment-deltas")
