"""Two versions of one model on the same evaluation rows: differences with paired 95%
intervals, per metric and per segment, and a verdict sentence a manager can repeat.

A difference is *significant* when its paired interval excludes zero; otherwise the verdict
says plainly that the rows cannot tell the two versions apart.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from registry.model import (
    COL_PRED, COL_SCORE, COL_TRUE, PROBA_PREFIX, SEGMENT_PREFIX, Model, ModelVersion,
    challenger_of, champion_of,
)
from registry.rows import COL_POS

from .language import (
    difference_digits, format_difference, interval_text, metric_name_in_sentence, plural,
    positives_phrase,
)
from . import evaluation_rows as er
from . import queries as q
from . import task_rows as tr
from .evaluation import TASK_METRICS
from .metrics import (
    METRICS, headline_metric, is_better, one_outcome_reason, undefined_reason, why_undefined,
)
from .reads import evaluation_frame
from .uncertainty import (
    MIN_JUDGE_ROWS, BootstrapSettings, Difference, RowsMismatch, aligned_rows,
    paired_differences, rows_mismatch, too_few_rows,
)

SEGMENT_DIFFERENCE_COLUMNS = ["segment", "value", "rows", "metric", "value_a", "value_b",
                              "delta", "low", "high", "significant", "note"]


@dataclass(frozen=True)
class Comparison:
    model: str
    a: int
    b: int
    threshold: float
    rows: int = 0
    differences: dict[str, Difference] = field(default_factory=dict)  # b − a
    segments: pd.DataFrame = field(default_factory=pd.DataFrame)
    verdict: str = ""
    problem: str = ""  # why the versions cannot be compared, in plain words
    #: metrics of the task that these rows cannot give, with why (e.g. MAPE with a true 0)
    unavailable: dict[str, str] = field(default_factory=dict)
    #: the segments are still being worked out (a first view of rows an engine keeps:
    #: ``comparison_outline``); ``segments`` is empty until then
    segments_pending: bool = False

    def table(self) -> pd.DataFrame:
        """One row per metric: metric, value_a, value_b, delta, low, high, significant,
        better (True when b is better, None when not significant)."""
        rows = []
        for k, d in self.differences.items():
            sig = d.significant
            rows.append({"metric": k, "value_a": d.value_a, "value_b": d.value_b,
                         "delta": d.delta, "low": d.low, "high": d.high, "significant": sig,
                         "better": is_better(k, d.value_b, d.value_a) if sig else None})
        return pd.DataFrame(rows, columns=["metric", "value_a", "value_b", "delta", "low",
                                           "high", "significant", "better"])


def default_pair(versions: tuple[ModelVersion, ...]) -> tuple[int, int] | None:
    """(a, b) to compare when none are chosen: champion vs challenger, else the two newest
    (older first). None when there are fewer than two versions."""
    if len(versions) < 2:
        return None
    champ, how = champion_of(versions)
    chall = challenger_of(versions)
    if champ is not None and chall is not None and how != "newest version" \
            and chall.version != champ.version:
        return champ.version, chall.version
    newest = sorted(v.version for v in versions)[-2:]
    return newest[0], newest[1]


def compare(model: Model, a: int, frame_a: pd.DataFrame, b: int, frame_b: pd.DataFrame,
            threshold: float = 0.5,
            settings: BootstrapSettings = BootstrapSettings()) -> Comparison:
    """Version ``b`` against version ``a`` on their (shared) evaluation rows."""
    label_a, label_b = f"Version {a}", f"version {b}"
    try:
        aligned_rows(frame_a, frame_b, label_a, label_b)
    except RowsMismatch as e:
        return Comparison(model.name, a, b, threshold,
                          verdict=f"{e} Compare them on the same test set to get a verdict.",
                          problem=str(e))
    diffs = paired_differences(model, frame_a, frame_b, threshold, settings, label_a, label_b)
    segs = segment_differences(model, frame_a, frame_b, threshold, settings)
    rows = int(frame_a[COL_TRUE].notna().sum())
    labelled = frame_a.loc[frame_a[COL_TRUE].notna()]
    missing = {k: why_undefined(model, labelled, k) for k in TASK_METRICS.get(model.task, ())
               if k not in diffs or not np.isfinite(diffs[k].delta)}
    comp = Comparison(model.name, a, b, threshold, rows, diffs, segs, unavailable=missing)
    return Comparison(model.name, a, b, threshold, rows, diffs, segs,
                      verdict=verdict(model, comp), unavailable=missing)


def segment_differences(model: Model, frame_a: pd.DataFrame, frame_b: pd.DataFrame,
                        threshold: float, settings: BootstrapSettings,
                        min_rows: int = MIN_JUDGE_ROWS) -> pd.DataFrame:
    """Headline metric of both versions per segment value, with the paired interval of the
    difference; a value with fewer than ``min_rows`` rows is not judged (no numbers, ``note``
    says so). Columns: segment, value, rows, metric, value_a, value_b, delta, low, high,
    significant, note."""
    metric = headline_metric(model.task)
    keep = frame_a[COL_TRUE].notna().to_numpy()
    fa, fb = frame_a.loc[keep], frame_b.loc[keep]
    out = []
    for col in [c for c in fa.columns if c.startswith(SEGMENT_PREFIX)]:
        for value, idx in fa.groupby(fa[col].astype(str), sort=True).indices.items():
            note, d = too_few_rows(len(idx), min_rows), None
            if not note:
                d = paired_differences(model, fa.iloc[idx], fb.iloc[idx], threshold,
                                       settings, metrics=(metric,)).get(metric)
                if d is None or not np.isfinite(d.delta):
                    note = f"{METRICS[metric].name} is undefined here: " \
                           f"{why_undefined(model, fa.iloc[idx], metric)}"
                    d = None
            if d is None:
                d = Difference(metric, np.nan, np.nan, np.nan, np.nan, np.nan)
            out.append({"segment": col[len(SEGMENT_PREFIX):], "value": value,
                        "rows": len(idx), "metric": metric, "value_a": d.value_a,
                        "value_b": d.value_b, "delta": d.delta, "low": d.low, "high": d.high,
                        "significant": d.significant and not note, "note": note})
    return pd.DataFrame(out, columns=SEGMENT_DIFFERENCE_COLUMNS)


# ------------------------------------------------------------------ the verdict
def _quote(model: Model, d: Difference) -> str:
    unit = model.target_unit if METRICS[d.metric].kind == "unit" else ""
    digits = difference_digits(d.metric, d.delta, d.low, d.high)
    return (f"{metric_name_in_sentence(d.metric)} "
            f"{format_difference(d.metric, d.delta, unit, digits)} "
            f"({interval_text(d.metric, d.low, d.high, unit, difference=True, digits=digits)})")


def verdict(model: Model, comp: Comparison) -> str:
    """One or two sentences: is version b better than version a, and are we sure?"""
    if comp.problem:
        return comp.problem
    a, b = f"version {comp.a}", f"Version {comp.b}"
    entity = model.entity or "case"
    metric = headline_metric(model.task)
    h = comp.differences.get(metric)
    sentences = []
    if h is None or not np.isfinite(h.delta):
        sentences.append(f"{METRICS[metric].name} cannot be computed on these rows, so there "
                         "is no verdict on it.")
    elif not (np.isfinite(h.low) and np.isfinite(h.high)):
        unit = model.target_unit if METRICS[metric].kind == "unit" else ""
        sentences.append(
            f"{METRICS[metric].name} is {format_difference(metric, h.delta, unit)} for "
            f"{b.lower()} against {a} on these rows, but they hold too few of one outcome "
            "to tell how sure that difference is, so there is no verdict on it.")
    elif h.significant:
        up = is_better(metric, h.value_b, h.value_a)
        noun = positives_phrase(model)[0]
        what = {
            "binary": ("ranks {noun} above the others more reliably than",
                       "ranks {noun} above the others less reliably than"),
            "multiclass": (f"gets more {plural(entity)} right than",
                           f"gets fewer {plural(entity)} right than"),
            "regression": ("predicts closer to the truth than", "predicts further from the truth than"),
        }[model.task][0 if up else 1].format(noun=noun)
        sentences.append(f"{b} {what} {a}: {_quote(model, h)}.")
    else:
        sentences.append(f"No significant difference between {b.lower()} and {a}: "
                         f"{_quote(model, h)}; on these "
                         f"{comp.rows:,} {plural(entity, comp.rows)} the two cannot be told "
                         "apart.")
    if model.task == "binary":
        sentences.append(_threshold_clause(model, comp))
    return " ".join(s for s in sentences if s)


def _threshold_clause(model: Model, comp: Comparison) -> str:
    rec, prec = comp.differences.get("recall"), comp.differences.get("precision")
    if rec is None or prec is None:
        return ""
    at = f"At threshold {comp.threshold:.2f}"
    noun = positives_phrase(model)[0]
    b, a = f"version {comp.b}", f"version {comp.a}"
    if not all(np.isfinite(x) for d in (rec, prec) for x in (d.low, d.high)):
        return (f"{at}, the rows hold too few of one outcome to tell whether recall or "
                "precision changed.")
    if rec.significant:
        more = "more" if rec.delta > 0 else "fewer"
        tail = (f", with {_quote(model, prec)}" if prec.significant
                else " at the same precision (no significant change)")
        return f"{at}, {b} finds {more} {noun} than {a}: {_quote(model, rec)}{tail}."
    if prec.significant:
        word = "more" if prec.delta > 0 else "less"
        return (f"{at}, {b} finds about as many {noun} as {a} (no significant change in "
                f"recall), and its alerts are {word} precise: {_quote(model, prec)}.")
    return (f"{at}, recall and precision show no significant difference: "
            f"{_quote(model, rec)}; {_quote(model, prec)}.")


def version_comparison(deck, name: str, a: int, b: int, threshold: float = 0.5) -> Comparison:
    """``compare`` of two versions, cached until the model's files change."""
    t = round(float(threshold), 2)

    def compute():
        model = deck.model(name)
        kept = _kept_pair(deck, name, a, b) if model.task == "binary" else None
        if kept is not None:
            return compare_kept(deck, model, a, b, *kept, t)
        pair = kept_task_pair(deck, name, a, b) if model.task != "binary" else None
        if pair is not None:  # a number or class model's rows an engine keeps
            return compare_kept_task(deck, model, a, b, *pair, t)
        return compare(model, a, evaluation_frame(deck, name, a), b,
                       evaluation_frame(deck, name, b), t)
    return deck.memo(("comparison", name, a, b, t), name, compute)


def comparison_outline(deck, name: str, a: int, b: int, threshold: float = 0.5) -> Comparison:
    """What the compare page shows first of ``version_comparison``: the whole when it is
    cached or the rows are read into memory; for rows an engine keeps (any task), everything
    but the segments (each segment column costs the engine a pass per version), with
    ``segments_pending`` set, so that the page asks for the whole in a callback of its own.
    The verdict does not read the segments: it is the whole's."""
    t = round(float(threshold), 2)
    whole = deck.peek(("comparison", name, a, b, t), name)
    if whole is not None:
        return whole
    model = deck.model(name)
    if model.task == "binary":
        kept, how = _kept_pair(deck, name, a, b), compare_kept
    else:
        kept, how = kept_task_pair(deck, name, a, b), compare_kept_task
    if kept is None:
        return version_comparison(deck, name, a, b, t)
    return deck.memo(("comparison-outline", name, a, b, t), name,
                     lambda: how(deck, model, a, b, *kept, t, segments=False))


# ------------------------------------------------------------------ rows an engine keeps
def _kept_pair(deck, name: str, a: int, b: int, summary=None,
               splits: tuple[str | None, str | None] = (None, None)):
    """(summary a, summary b, rows a, rows b) when an engine keeps both versions' rows in
    files whose rows can be paired by position, else None (the rows are read into memory).
    ``summary``: how a version is summarised (a yes/no model's
    ``evaluation_rows.evaluation_summary`` by default). ``splits``: each side's split (None:
    the default split), e.g. one version's main split and a stress set (a == b)."""
    summary = summary or er.evaluation_summary
    sa, sb = summary(deck, name, a, splits[0]), summary(deck, name, b, splits[1])
    if sa is None or sb is None:
        return None
    ra, rb = q.kept_rows_of(deck, name, a, splits[0]), q.kept_rows_of(deck, name, b, splits[1])
    if ra.row_numbers is None or rb.row_numbers is None:
        return None
    return sa, sb, ra, rb


def compare_kept(deck, model: Model, a: int, b: int, sa, sb, ra, rb, threshold: float,
                 settings: BootstrapSettings = BootstrapSettings(),
                 segments: bool = True) -> Comparison:
    """``compare`` on two versions' rows that an engine keeps: each metric and each segment's
    headline metric on all rows, exact, from each version's summary
    (``analysis.evaluation_rows``); the paired intervals from the same random rows of both
    files (``queries.paired_sample``), scaled to all rows, as ``compare`` does above 5,000.
    ``segments=False``: without the segments (``Comparison.segments_pending``)."""
    label_a, label_b = f"Version {a}", f"version {b}"
    segs = [c for c in ra.columns if c.startswith(SEGMENT_PREFIX)]
    why, fa, fb = _paired_kept(sa, sb, ra, rb, label_a, label_b, segs)
    if why:
        return Comparison(model.name, a, b, threshold,
                          verdict=f"{why} Compare them on the same test set to get a verdict.",
                          problem=why)
    m = q.sample_model(model)
    diffs = paired_differences(m, fa, fb, threshold, settings, label_a, label_b,
                               points=(er.points_at(sa, threshold), er.points_at(sb, threshold)),
                               population=sa.rows)
    seg = _kept_segments(deck, model, a, b, fa, fb, threshold, settings) if segments \
        else pd.DataFrame()
    missing = {k: ("there are no labelled rows" if sa.rows == 0 else
                   one_outcome_reason(sa.rows, sa.positives))
               for k in TASK_METRICS["binary"]
               if k not in diffs or not np.isfinite(diffs[k].delta)}
    comp = Comparison(model.name, a, b, threshold, sa.rows, diffs, seg, unavailable=missing,
                      segments_pending=not segments)
    return replace(comp, verdict=verdict(model, comp))


def kept_task_pair(deck, name: str, a: int, b: int):
    """(summary a, summary b, rows a, rows b) of a number or class model when an engine
    keeps both versions' rows in files whose rows pair by position, else None."""
    return _kept_pair(deck, name, a, b, tr.task_points)


def compare_kept_task(deck, model: Model, a: int, b: int, sa, sb, ra, rb, threshold: float,
                      settings: BootstrapSettings = BootstrapSettings(),
                      segments: bool = True) -> Comparison:
    """``compare`` on a number or class model's rows that an engine keeps, as
    ``compare_kept`` does for a yes/no model: each metric and each segment's headline metric
    on all rows, exact, from each version's summary (``analysis.task_rows``); the paired
    intervals from the same random rows of both files, scaled to all rows.
    ``segments=False``: without the segments (``Comparison.segments_pending``)."""
    label_a, label_b = f"Version {a}", f"version {b}"
    segs = [c for c in ra.columns if c.startswith(SEGMENT_PREFIX)]
    why, fa, fb, points = paired_task(sa, sb, ra, rb, label_a, label_b, segs)
    if why:
        return Comparison(model.name, a, b, threshold,
                          verdict=f"{why} Compare them on the same test set to get a verdict.",
                          problem=why)
    diffs = paired_differences(model, fa, fb, threshold, settings, label_a, label_b,
                               points=points, population=sa.rows)
    seg = _kept_segments(deck, model, a, b, fa, fb, threshold, settings) if segments \
        else pd.DataFrame()
    missing = {k: undefined_reason(model.task, k, sa.rows, sa.zeros)
               for k in TASK_METRICS[model.task]
               if k not in diffs or not np.isfinite(diffs[k].delta)}
    comp = Comparison(model.name, a, b, threshold, sa.rows, diffs, seg, unavailable=missing,
                      segments_pending=not segments)
    return replace(comp, verdict=verdict(model, comp))


def paired_task(sa, sb, ra, rb, label_a: str, label_b: str, segments: list[str] = ()):
    """(why the two files' rows do not pair, or ''; the same random rows of both: y_true,
    y_pred, a class model's probability columns when both versions have the same ones, and
    the ``segments`` columns as text; each version's values on all rows of the metrics the
    sample can give)."""
    why = rows_mismatch(sa.rows, sb.rows, 0 if sa.rows != sb.rows else
                        q.unpaired_truth(ra, rb), label_a, label_b)
    if why:
        return why, None, None, None
    proba = [c for c in ra.columns if c.startswith(PROBA_PREFIX)]
    same_proba = proba == [c for c in rb.columns if c.startswith(PROBA_PREFIX)]
    points = tuple({k: v for k, v in s.points.items() if k != "log_loss" or same_proba}
                   for s in (sa, sb))
    fa, fb = q.paired_sample(ra, rb, [COL_TRUE, COL_PRED, *(proba if same_proba else []),
                                      *segments], er.SAMPLE_ROWS, sa.rows,
                             text=tuple(segments))
    return "", fa, fb, points


def _paired_kept(sa, sb, ra, rb, label_a: str, label_b: str, segments: list[str] = ()
                 ) -> tuple[str, pd.DataFrame | None, pd.DataFrame | None]:
    """(why the two files' rows do not pair, or ''; the same random rows of both: y_true
    1.0 / 0.0, y_score and the ``segments`` columns as text)."""
    why = rows_mismatch(sa.rows, sb.rows, 0 if sa.rows != sb.rows else
                        q.unpaired_rows(ra, rb), label_a, label_b)
    if why:
        return why, None, None
    fa, fb = q.paired_sample(ra, rb, [COL_POS, COL_SCORE, *segments], er.SAMPLE_ROWS,
                             sa.rows, text=tuple(segments))
    return "", *(f.rename(columns={COL_POS: COL_TRUE}) for f in (fa, fb))


@dataclass(frozen=True)
class KeptPair:
    """Two versions' evaluation rows that an engine keeps, paired by position: their
    summaries, and the same random rows of both (``_paired_kept``), or why they do not
    pair."""

    a: "er.EvaluationSummary"
    b: "er.EvaluationSummary"
    why: str
    sample_a: pd.DataFrame | None
    sample_b: pd.DataFrame | None


def kept_pair(deck, name: str, a: int, b: int, label_a: str, label_b: str) -> KeptPair | None:
    """``KeptPair`` of versions ``a`` and ``b`` when an engine keeps both (yes/no models),
    else None: the rows are read into memory. KeyError when a version has no rows."""
    if deck.model(name).task != "binary":
        return None
    kept = _kept_pair(deck, name, a, b)
    if kept is None:
        return None
    sa, sb, ra, rb = kept
    return KeptPair(sa, sb, *_paired_kept(sa, sb, ra, rb, label_a, label_b))


def metric_difference(deck, name: str, a: int, b: int, metric: str,
                      settings: BootstrapSettings = BootstrapSettings()) -> Difference | None:
    """``b − a`` of one metric at threshold 0.5 with its paired interval (not cached: for a
    caller that caches its own answer); raises RowsMismatch when the two versions were not
    evaluated on the same rows. From the engine's summaries and paired sample when it keeps
    both versions' rows (``kept_differences``), else from the rows (``paired_differences``).
    KeyError when a version has no evaluation rows."""
    label_a, label_b = f"v{a}", f"v{b}"
    kept = kept_differences(deck, name, a, b, (metric,), 0.5, settings, labels=(label_a, label_b))
    if kept is not None:
        return kept.get(metric)
    return paired_differences(deck.model(name), evaluation_frame(deck, name, a),
                              evaluation_frame(deck, name, b), settings=settings,
                              label_a=label_a, label_b=label_b,
                              metrics=(metric,)).get(metric)


def kept_differences(deck, name: str, a: int, b: int, metrics: tuple[str, ...],
                     threshold: float = 0.5,
                     settings: BootstrapSettings = BootstrapSettings(),
                     splits: tuple[str | None, str | None] = (None, None),
                     labels: tuple[str, str] = ("A", "B")) -> dict[str, Difference] | None:
    """``b − a`` of ``metrics`` at ``threshold`` with paired intervals, from the engine's
    summaries of both tables (each metric on all rows, exact) and the same random rows of
    both (``_paired_kept`` / ``paired_task``), the spread scaled to all rows, as
    ``compare_kept`` does; None when an engine does not keep both tables' rows in files
    that pair by position (the caller pairs them in memory). ``a``, ``b``: versions;
    ``splits``: their splits (None: the default), e.g. one version's main split and one of
    its stress sets. RowsMismatch when the two tables do not hold the same rows."""
    model = deck.model(name)
    if model.task != "binary":  # a number or class model
        pair = _kept_pair(deck, name, a, b, tr.task_points, splits)
        if pair is None:
            return None
        why, fa, fb, points = paired_task(*pair, *labels)
        if why:
            raise RowsMismatch(why)
        return paired_differences(model, fa, fb, threshold, settings, metrics=metrics,
                                  points=points, population=pair[0].rows)
    pair = _kept_pair(deck, name, a, b, splits=splits)
    if pair is None:
        return None
    why, fa, fb = _paired_kept(*pair, *labels)
    if why:
        raise RowsMismatch(why)
    sa, sb = pair[0], pair[1]
    return paired_differences(q.sample_model(model), fa, fb, threshold, settings,
                              metrics=metrics,
                              points=(er.points_at(sa, threshold), er.points_at(sb, threshold)),
                              population=sa.rows)


def _kept_segments(deck, model: Model, a: int, b: int, fa: pd.DataFrame, fb: pd.DataFrame,
                   threshold: float, settings: BootstrapSettings,
                   min_rows: int = MIN_JUDGE_ROWS) -> pd.DataFrame:
    """``segment_differences`` from both versions' per-segment summaries
    (``task_rows.version_segments``) and the paired sample's rows of each segment value."""
    metric = headline_metric(model.task)
    seg_a = tr.version_segments(deck, model.name, a).table
    seg_b = tr.version_segments(deck, model.name, b).table.set_index(["segment", "value"])
    out = []
    for r in seg_a.itertuples():
        value_b = seg_b["estimate"].get((r.segment, r.value), np.nan)
        note, d = too_few_rows(r.rows, min_rows), None
        if not note and seg_b["rows"].get((r.segment, r.value), 0) != r.rows:
            note = "the two versions' files put different rows in this segment"
        if not note:
            if not (np.isfinite(r.estimate) and np.isfinite(value_b)):
                why = one_outcome_reason(r.rows, r.positives) if model.task == "binary" \
                    else undefined_reason(model.task, metric, r.rows)
                note = f"{METRICS[metric].name} is undefined here: {why}"
            else:
                keep = (fa[r.segment] == r.value).to_numpy()
                d = paired_differences(
                    q.sample_model(model), fa.loc[keep], fb.loc[keep], threshold, settings,
                    metrics=(metric,), points=({metric: r.estimate}, {metric: value_b}),
                    population=r.rows).get(metric)
        if d is None:
            d = Difference(metric, np.nan, np.nan, np.nan, np.nan, np.nan)
        out.append({"segment": r.segment[len(SEGMENT_PREFIX):], "value": r.value,
                    "rows": r.rows, "metric": metric, "value_a": d.value_a,
                    "value_b": d.value_b, "delta": d.delta, "low": d.low, "high": d.high,
                    "significant": d.significant and not note, "note": note})
    return pd.DataFrame(out, columns=SEGMENT_DIFFERENCE_COLUMNS)
