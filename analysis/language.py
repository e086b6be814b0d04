"""Plain words for numbers: one-sentence meanings, a glossary, and number formatting.

Managers read these sentences; engineers read the numbers beside them. Both come from the
same values, so the words never say something the tables don't.
"""
from __future__ import annotations

import math
from datetime import datetime, timezone

from registry.model import Model

from .metrics import METRICS

GLOSSARY: dict[str, str] = {
    "psi": "PSI (population stability index): how far an input's distribution in production "
           "has moved from the evaluation data. Below 0.1 stable, 0.1 to 0.2 a moderate "
           "shift, above 0.2 a large shift.",
    "roc_auc": "ROC AUC: the chance that the model scores a randomly chosen positive case above "
               "a randomly chosen negative one. 0.5 is a coin toss, 1.0 is perfect.",
    "average_precision": "Average precision: how precise the model's alerts are on average as "
                         "it flags more and more cases. Higher is better.",
    "accuracy": "Accuracy: the share of all predictions that are right.",
    "precision": "Precision: of the cases the model flags, the share that really are positive.",
    "recall": "Recall: of the real positive cases, the share the model flags.",
    "f1": "F1 score: a single balance of precision and recall (their harmonic mean).",
    "log_loss": "Log loss: how far the predicted probabilities are from what happened; "
                "confident mistakes cost most. Lower is better.",
    "brier": "Brier score: the mean squared gap between predicted probability and outcome. "
             "Lower is better.",
    "f1_macro": "Macro F1: the F1 score of each class, averaged with every class counting "
                "the same.",
    "f1_weighted": "Weighted F1: the F1 score of each class, averaged by how common each "
                   "class is.",
    "rmse": "RMSE (root mean squared error): the typical size of a prediction error, with big "
            "errors weighing more. In the target's unit; lower is better.",
    "mae": "Mean absolute error: how far off a prediction is on average, in the target's unit. "
           "Lower is better.",
    "r2": "R²: the share of the target's variation the model explains. 1 is perfect, 0 is no "
          "better than always predicting the average.",
    "mape": "MAPE (mean absolute percentage error): the average error as a share of the true "
            "value. Lower is better.",
    "param_importance": "Parameter importance: a random forest learns to predict the metric "
                        "from the parameters, and a parameter's importance is how much worse "
                        "it predicts runs it did not see when that parameter's values are "
                        "shuffled (the drop in R²); 0 means the metric does not depend on it.",
    "spearman": "Rank correlation (Spearman): +1 when a larger parameter value always goes "
                "with a larger metric, −1 when always with a smaller one, 0 when there is no "
                "such trend.",
}


def plural(entity: str, n: float = 2) -> str:
    if not entity:
        entity = "case"
    if n == 1:
        return entity
    if entity.endswith(("s", "x", "ch", "sh")):
        return entity + "es"
    if entity.endswith("y") and entity[-2:-1] not in "aeiou":
        return entity[:-1] + "ies"
    return entity + "s"


def format_value(metric: str, value: float | None, unit: str = "") -> str:
    """A metric's value as shown on a card: ratios with 3 decimals, errors with their unit."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    info = METRICS.get(metric)
    if info is not None and info.key == "mape":
        return f"{value:.1%}"
    if info is not None and info.kind == "unit":
        return f"{value:,.1f} {unit}".strip()
    return f"{value:.3f}"


MAX_EXTRA_DIGITS = 6  # at most this many decimals more than a metric's usual ones


def _delta_scale(metric: str) -> tuple[float, int]:
    info = METRICS.get(metric)
    if info is not None and info.key == "mape":
        return 100.0, 1
    return (1.0, 1) if info is not None and info.kind == "unit" else (1.0, 3)


def format_delta(metric: str, delta: float, unit: str = "", digits: int | None = None) -> str:
    """A change on a card ('+0.012', '+1.3 points' for MAPE, '-2.5 mmol/L')."""
    info = METRICS.get(metric)
    d = _delta_scale(metric)[1] if digits is None else digits
    if info is not None and info.key == "mape":
        return f"{delta * 100:+.{d}f} points"
    if info is not None and info.kind == "unit":
        return f"{delta:+,.{d}f} {unit}".strip()
    return f"{delta:+.{d}f}"


def delta_digits(metric: str, *values: float) -> int:
    """``difference_digits`` for ``format_delta``'s scale."""
    return _enough_digits(*_delta_scale(metric), values)


def _enough_digits(factor: float, usual: int, values, base: int | None = None) -> int:
    digits = usual if base is None else base
    finite = [v * factor for v in values if v is not None and math.isfinite(v) and v != 0]
    while digits < usual + MAX_EXTRA_DIGITS and any(round(v, digits) == 0 for v in finite):
        digits += 1
    return digits


def metric_sentence(metric: str, value: float, model: Model) -> str:
    """What the value means for this model, in one sentence a non-specialist can repeat."""
    entity = model.entity or "case"
    positive = model.business.positive_means if model.business and \
        model.business.positive_means else ""
    if metric == "roc_auc":
        if positive:
            return (f"Given one {entity} who {_third_person(positive)} and one who does not, "
                    f"the model ranks the first higher {per_100(value)} times in 100.")
        return (f"Given one positive and one negative {entity}, the model scores the positive "
                f"one higher {per_100(value)} times in 100.")
    if metric == "accuracy":
        return f"The model gets {per_100(value)} of every 100 {plural(entity)} right."
    if metric == "precision":
        return (f"Of every 100 {plural(entity)} the model flags, {per_100(value)} really "
                f"are positive.")
    if metric == "recall":
        return (f"Of every 100 {plural(entity)} that really are positive, the model flags "
                f"{per_100(value)}.")
    if metric == "mae":
        unit = f" {model.target_unit}" if model.target_unit else ""
        return f"On average a prediction is off by {value:,.1f}{unit}."
    if metric == "rmse":
        unit = f" {model.target_unit}" if model.target_unit else ""
        return f"A typical prediction error is about {value:,.1f}{unit}, counting big misses more."
    if metric == "r2":
        return f"The model explains {per_100(value)}% of the variation in the outcome."
    return GLOSSARY.get(metric, METRICS[metric].name)


def per_100(value: float) -> str:
    """A share as 'N' out of 100, never rounding a not-quite-perfect value up to 100 or a
    non-zero one down to 0."""
    n = round(value * 100)
    if n >= 100 and value < 1:
        return "more than 99"
    if n <= 0 and value > 0:
        return "fewer than 1"
    return str(n)


def _third_person(phrase: str) -> str:
    """'the customer cancels within 90 days' -> 'cancels within 90 days' (drop a leading
    'the <entity>' so the sentence reads naturally)."""
    words = phrase.split()
    if len(words) > 2 and words[0].lower() in ("the", "a", "an"):
        return " ".join(words[2:])
    return phrase


def ago(when: datetime | None, now: datetime | None = None) -> str:
    """'3 days ago', 'today', 'in 2 days' – for 'last updated' lines."""
    if when is None:
        return "unknown"
    now = now or datetime.now(timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    days = (now - when).days
    if days < 0:
        return when.strftime("%d %b %Y")
    if days == 0:
        return "today"
    if days == 1:
        return "yesterday"
    if days < 60:
        return f"{days} days ago"
    if days < 730:
        return f"{days // 30} months ago"
    return f"{days // 365} years ago"


# ------------------------------------------------------------------ evaluation and comparison
GLOSSARY.update({
    "threshold": "Threshold: the score from which the model flags a case as positive. A lower "
                 "threshold flags more cases: more positives found, more false alarms.",
    "confidence_interval": "95% confidence interval: the range the value would probably fall "
                           "in on another test set of the same size (from 1,000 bootstrap "
                           "resamples of the evaluation rows).",
    "paired_interval": "Paired 95% interval: resampling the same evaluation rows for both "
                       "versions, the range the difference would probably fall in. If it "
                       "excludes zero, the difference is significant.",
})

# Differences of these metrics read best in percentage points.
POINT_METRICS = {"accuracy", "precision", "recall", "f1", "f1_macro", "f1_weighted", "mape"}


def _difference_scale(metric: str) -> tuple[float, int]:
    """(factor, usual decimals) of a difference as shown: points for shares."""
    if metric in POINT_METRICS:
        return 100.0, 1
    info = METRICS.get(metric)
    return (1.0, 2) if info is not None and info.kind == "unit" else (1.0, 3)


def difference_digits(metric: str, *values: float, base: int | None = None) -> int:
    """Decimals for a difference and its interval bounds: the usual ones, or more until no
    value that is not zero is shown as zero ('+0.0 to +6.5' beside 'significant' would read
    as a contradiction: an interval that excludes zero always shows both bounds away from
    it, with the side they are on)."""
    return _enough_digits(*_difference_scale(metric), values, base)


def format_difference(metric: str, delta: float, unit: str = "",
                      digits: int | None = None) -> str:
    """A difference between two values: percentage points for shares, else the metric's
    own scale ('+4.1 points', '+0.012', '-2.3 points' for a unit of points). ``digits``
    overrides the usual decimals (``difference_digits``)."""
    if delta is None or not math.isfinite(delta):
        return "–"
    factor, usual = _difference_scale(metric)
    d = usual if digits is None else digits
    if metric in POINT_METRICS:
        return f"{delta * factor:+.{d}f} points"
    info = METRICS.get(metric)
    if info is not None and info.kind == "unit":
        return f"{delta:+,.{d}f} {unit}".strip()
    return f"{delta:+.{d}f}"


def interval_text(metric: str, low: float, high: float, unit: str = "",
                  difference: bool = False, digits: int | None = None) -> str:
    """'95% CI 0.861 to 0.887' (values) or '95% CI +2.0 to +6.3' (differences; with more
    decimals when a bound would otherwise show as zero: '+0.03 to +6.50'; ``digits``, e.g.
    ``difference_digits`` of the difference and its bounds, to match the difference shown)."""
    if low is None or not (math.isfinite(low) and math.isfinite(high)):
        return "no interval (too few rows)"
    if difference:
        digits = difference_digits(metric, low, high, base=digits)
        lo = format_difference(metric, low, unit, digits)
        hi = format_difference(metric, high, unit, digits)
        suffix = " points" if metric in POINT_METRICS else (f" {unit}" if unit else "")
        if suffix:
            lo, hi = lo.removesuffix(suffix), hi.removesuffix(suffix)
        return f"95% CI {lo} to {hi}"
    return f"95% CI {format_value(metric, low, unit)} to {format_value(metric, high, unit)}"


def not_judged_text(segments) -> str:
    """'Not judged: region = north (5 rows: too few rows to judge); …' for the values of a
    segment table (``segment_metrics``, ``segment_differences``) that carry a note; '' when
    every value is judged."""
    rest = segments.loc[segments["note"] != ""] if len(segments) else segments
    if not len(rest):
        return ""
    return "Not judged: " + "; ".join(f"{r.segment} = {r.value} ({r.note})"
                                      for r in rest.itertuples()) + "."


def not_judged_caption() -> str:
    """The rule as a caption of every chart of segments or windows."""
    from .uncertainty import MIN_JUDGE_ROWS
    return (f"A group with fewer than {MIN_JUDGE_ROWS} labelled rows is not judged: it shows "
            "its row count instead of a number and an interval.")


#: the limit of an estimate from scores (``analysis.estimation``), in the one place the page,
#: the report and the docs' reader see it
CONCEPT_SHIFT = ("An estimate from scores assumes that the relation between inputs and outcome "
                 "is the one seen at evaluation: a change in that relation (concept shift) "
                 "does not show in it, only in the labels when they arrive.")


def estimate_caption() -> str:
    """What the estimate on the performance chart is (page and reports)."""
    return ("The dotted line and its band are the value estimated from the model's scores "
            "alone, with its 95% interval: where labels exist both are shown; where they have "
            "not arrived, the estimate is all there is. " + CONCEPT_SHIFT)


def metric_name_in_sentence(metric: str) -> str:
    """'Recall' -> 'recall' inside a sentence; names that start with an acronym stay."""
    name = METRICS[metric].name
    return name[0].lower() + name[1:] if name[1:2].islower() else name


def positives_phrase(model: Model, n: int = 2) -> tuple[str, str]:
    """How to name the positive cases: (noun phrase, verb phrase), e.g.
    ('customers who cancel within the next 90 days', 'cancel within the next 90 days');
    without business words: ('positive customers', 'are positive')."""
    entity = model.entity or "case"
    means = model.business.positive_means if model.business and \
        model.business.positive_means else ""
    if means:
        verb = _third_person(means)
        plural_verb = _plural_verb(verb)
        return (f"{plural(entity, n)} who {verb if n == 1 else plural_verb}", plural_verb)
    return f"positive {plural(entity, n)}", "are positive"


def _plural_verb(phrase: str) -> str:
    """'cancels within 90 days' -> 'cancel within 90 days' (the first word only)."""
    words = phrase.split()
    if not words:
        return phrase
    first = words[0]
    irregular = {"is": "are", "has": "have", "does": "do", "was": "were"}
    if first in irregular:
        words[0] = irregular[first]
    elif first.endswith(("ches", "shes", "sses", "xes")):
        words[0] = first[:-2]
    elif first.endswith("ies") and len(first) > 4:
        words[0] = first[:-3] + "y"
    elif first.endswith("s") and not first.endswith("ss"):
        words[0] = first[:-1]
    return " ".join(words)


def _singular(verb_phrase: str) -> str:
    """'cancel within 90 days' -> 'cancels within 90 days'; 'are positive' -> 'is positive'."""
    words = verb_phrase.split()
    back = {"are": "is", "have": "has", "do": "does", "were": "was"}
    if words:
        w = words[0]
        words[0] = back.get(w) or (w + "es" if w.endswith(("ch", "sh", "ss", "x")) else w + "s")
    return " ".join(words)


def threshold_sentence(model: Model, tp: int, fp: int, fn: int) -> str:
    """'Of 1,000 customers flagged, 820 really cancel within the next 90 days; 140 customers
    who cancel within the next 90 days are missed.'"""
    entity = model.entity or "case"
    noun, verb = positives_phrase(model)
    flagged = tp + fp
    if flagged == 0:
        first = f"At this threshold the model flags no {plural(entity)}"
    else:
        verb = verb if tp != 1 else _singular(verb)
        first = f"Of {flagged:,} {plural(entity, flagged)} flagged, {tp:,} really {verb}"
    missed = (f"{fn:,} {positives_phrase(model, fn)[0]} {'is' if fn == 1 else 'are'} missed"
              if fn else f"none of the {noun} are missed")
    return f"{first}; {missed}."


# ------------------------------------------------------------------ models of several classes
def confused_pair_sentence(pair, model: Model) -> str:
    """'7 is taken for 9 in 12 of 180 handwritten digits that really are 7 (6.7%).'"""
    entity = model.entity or "case"
    really = "is" if pair.of == 1 else "are"
    return (f"{pair.actual} is taken for {pair.predicted} in {pair.count:,} of {pair.of:,} "
            f"{plural(entity, pair.of)} that really {really} {pair.actual} ({pair.share:.1%}).")


def one_vs_rest_sentence(curves) -> str:
    """The range of the classes' one-vs-rest ROC AUCs, naming the hardest class."""
    if not curves:
        return ""
    worst = min(curves, key=lambda c: c.roc.area)
    if len(curves) == 1:
        return (f"Class {worst.label} against all the others: ROC AUC "
                f"{format_value('roc_auc', worst.roc.area)}.")
    best = max(curves, key=lambda c: c.roc.area)
    return (f"Each class against all the others: ROC AUC from "
            f"{format_value('roc_auc', worst.roc.area)} (class {worst.label}, the hardest to "
            f"tell apart) to {format_value('roc_auc', best.roc.area)} (class {best.label}).")


#: confidence and share correct further apart than this (on at least JUDGE_ROWS rows) are
#: called over- or under-confidence; closer, the sentence gives the numbers only
CONFIDENCE_GAP = 0.05
JUDGE_ROWS = 30


def confidence_sentence(c, model: Model) -> str:
    """Mean top probability against the share of rows whose top class is right."""
    if not c.rows:
        return ""
    entity = plural(model.entity or "case", c.rows)
    said = (f"On average the model gives its top class {c.mean_confidence:.1%} and is right "
            f"{c.share_correct:.1%} of the time ({c.rows:,} {entity})")
    gap = c.mean_confidence - c.share_correct
    if c.rows < JUDGE_ROWS:
        return f"{said}: too few rows to judge its confidence."
    if gap >= CONFIDENCE_GAP:
        return f"{said}: it is more sure of itself than it should be."
    if gap <= -CONFIDENCE_GAP:
        return f"{said}: it is right more often than it claims."
    return f"{said}."


def no_curve_sentence(label: str, why: str) -> str:
    """Why a class has no one-vs-rest curve."""
    return f"Class {label} has no curve: {why}."
