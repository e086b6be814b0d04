"""The retraining story of one model: each version, what changed in it against the one before
(algorithm, parameters, training data, features added or dropped, run tags and logged
datasets), and what that did to the headline metric and to the money figure — with paired 95%
intervals where the two versions were evaluated on the same rows.

What changed reuses ``analysis.logged.version_changes`` (params, run tags, datasets) and
reads features from the version's ``features`` param (a comma-separated list or a JSON list)
and training data from the version's ``training_data`` (registry.model.DataInfo). The metric
difference is ``analysis.uncertainty.paired_differences``; the money difference is a paired
bootstrap of the value per month at each version's own best threshold (binary, with complete
business settings) or of the monthly error cost (regression), on the same resampled rows.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from registry.cached import CachedSource
from registry.model import COL_PRED, COL_SCORE, COL_TRUE, Model, ModelVersion, RegistryError

from . import evaluation_rows as er
from . import task_rows as tr
from .business import (
    cost_of_errors, is_complete, model_value_curve, money, monthly_value, value_curve,
)
from .language import format_delta, format_value, metric_name_in_sentence
from .logged import version_changes
from .metrics import METRICS, binary_truth, headline_metric, is_better
from .reads import evaluation_frame
from .uncertainty import (
    SECONDARY, BootstrapSettings, Difference, RowsMismatch, aligned_rows, paired_differences,
    resample_weights,
)
from .versions import metric_across_versions

FEATURES_PARAM = "features"


@dataclass(frozen=True)
class MoneyDifference:
    """``b − a`` of the money figure per month, with its paired 95% interval."""

    value_a: float
    value_b: float
    delta: float
    low: float
    high: float
    currency: str

    @property
    def significant(self) -> bool:
        return bool(np.isfinite(self.low) and (self.low > 0 or self.high < 0))


@dataclass(frozen=True)
class Step:
    """One version in the story, against the version registered before it."""

    version: int
    previous: int | None
    created_at: object
    role: str  # aliases or stage
    algorithm: str
    description: str
    changes: tuple[str, ...]  # what changed, one sentence each
    value: float = np.nan  # headline metric on its own rows
    low: float = np.nan
    high: float = np.nan
    money: float | None = None  # the money figure per month, when business settings allow
    metric_change: Difference | None = None  # this − previous, paired
    money_change: MoneyDifference | None = None
    not_paired: str = ""  # why there is no paired interval, in words
    verdict: str = ""  # "helped", "hurt", "no clear change" or ""

    @property
    def label(self) -> str:
        return f"v{self.version}"


@dataclass(frozen=True)
class Story:
    model: str
    metric: str
    money_kind: str  # "value" (worth per month), "cost" (error cost per month) or ""
    currency: str
    steps: tuple[Step, ...]  # oldest first
    problems: tuple[str, ...] = field(default_factory=tuple)
    #: False for the outline (``story_outline``): what changed, before what it did is measured
    measured: bool = True

    @property
    def last_helped(self) -> Step | None:
        """The newest retraining whose headline metric beat the version before it, with a
        paired interval that excludes no change."""
        helped = [s for s in self.steps if s.verdict == "helped"]
        return helped[-1] if helped else None


# ------------------------------------------------------------------ what changed
def features_of(v: ModelVersion) -> list[str] | None:
    """The version's features from its ``features`` param; None when it names none."""
    raw = v.params.get(FEATURES_PARAM)
    if raw is None or raw == "":
        return None
    if isinstance(raw, str) and raw.strip().startswith("["):
        try:
            items = json.loads(raw)
        except ValueError:
            items = None
        if isinstance(items, list):
            return [str(x).strip() for x in items if str(x).strip()]
    return [x.strip() for x in str(raw).split(",") if x.strip()]


def changes_between(a: ModelVersion | None, b: ModelVersion) -> tuple[str, ...]:
    """What changed from ``a`` to ``b``, one plain sentence each (``a`` None: the first)."""
    if a is None:
        out = [f"First version: {b.algorithm or 'algorithm not recorded'}."]
        feats = features_of(b)
        if feats:
            out.append(f"Features ({len(feats)}): {', '.join(feats)}.")
        if b.training_data is not None:
            out.append(_training_text(b))
        return tuple(out)
    out = []
    if (a.algorithm or "") != (b.algorithm or ""):
        out.append(f"Algorithm: {a.algorithm or 'not recorded'} → {b.algorithm or 'not recorded'}.")
    fa, fb = features_of(a), features_of(b)
    if fa is not None and fb is not None:
        added = [f for f in fb if f not in fa]
        dropped = [f for f in fa if f not in fb]
        if added:
            out.append(f"Features added: {', '.join(added)}.")
        if dropped:
            out.append(f"Features dropped: {', '.join(dropped)}.")
    ta, tb = a.training_data, b.training_data
    if ta is not None or tb is not None:
        for attr, word in (("rows", "Training rows"), ("period", "Training period"),
                           ("source", "Training data")):
            x, y = getattr(ta, attr, None), getattr(tb, attr, None)
            if x != y and (x not in (None, "") or y not in (None, "")):
                out.append(f"{word}: {_show(x)} → {_show(y)}.")
    ch = version_changes(a, b)
    params = [(k, x, y) for k, x, y in ch.params if k != FEATURES_PARAM]
    if params:
        shown = ", ".join(f"{k} {x} → {y}" for k, x, y in params[:8])
        more = f" (+{len(params) - 8} more)" if len(params) > 8 else ""
        out.append(f"Parameters: {shown}{more}.")
    for k, x, y in ch.datasets:
        out.append(f"Logged {k} datasets: {x} → {y}.")
    if not out:
        out.append("Same algorithm, parameters, features and training data as the version "
                   "before.")
    return tuple(out)


def _show(v) -> str:
    if v is None or v == "":
        return "not recorded"
    return f"{v:,}" if isinstance(v, int) else str(v)


def _training_text(v: ModelVersion) -> str:
    t = v.training_data
    parts = [f"{t.rows:,} rows" if t.rows is not None else "",
             t.period, t.source]
    return "Training data: " + "; ".join(p for p in parts if p) + "."


# ------------------------------------------------------------------ money, paired
def money_per_row(model: Model, frame: pd.DataFrame, threshold: float | None) -> np.ndarray:
    """Each labelled row's share of the money figure per month (they sum to it): binary —
    the value of acting on rows scoring at or above ``threshold``; regression — the cost of
    its absolute error."""
    b = model.business
    frame = frame.loc[frame[COL_TRUE].notna()]
    n = len(frame)
    if model.task == "binary":
        y = binary_truth(frame[COL_TRUE], model.positive_label)
        flag = frame[COL_SCORE].to_numpy(dtype=float) >= threshold
        pos = y == 1
        return monthly_value(b, flag & pos, flag & ~pos, ~flag & pos, n)
    err = np.abs(frame[COL_TRUE].to_numpy(dtype=float) - frame[COL_PRED].to_numpy(dtype=float))
    return err * b.cost_per_unit_error * b.volume_per_month / n


def paired_money_difference(per_a: np.ndarray, per_b: np.ndarray, currency: str,
                            settings: BootstrapSettings = SECONDARY,
                            population: int | None = None,
                            totals: tuple[float, float] | None = None) -> MoneyDifference:
    """``sum(per_b) − sum(per_a)`` with a paired 95% bootstrap interval: every resample draws
    the same rows for both versions. Above ``settings.max_rows`` rows, on a seeded random
    subsample of that many (each row's share scaled to stand for the rows left out), its
    spread scaled by √(m / n) as ``uncertainty`` scales it: memory stays bounded (the
    weights are ``chunk`` × rows). ``population``: the rows are the same uniform random
    sample of that many paired rows (each row's share computed over the sample) and
    ``totals`` the two versions' figures on all of them; the interval is centred on their
    difference and scaled to the population."""
    d = per_b - per_a
    rng = np.random.default_rng(settings.seed)
    sampled = population is not None and totals is not None and population > len(d)
    whole = population if sampled else len(d)
    point_a, point_b = totals if sampled else (float(per_a.sum()), float(per_b.sum()))
    sub = d
    if len(d) > settings.max_rows:
        keep = np.sort(rng.choice(len(d), settings.max_rows, replace=False))
        sub = d[keep] * (len(d) / settings.max_rows)
    draws = np.concatenate([w @ sub for w in resample_weights(len(sub), settings, rng)])
    alpha = (1 - settings.level) / 2
    lo, hi = np.quantile(draws, [alpha, 1 - alpha]) if len(d) > 1 else (np.nan, np.nan)
    point = point_b - point_a
    if whole > len(sub):  # a subsample, or a sample of more rows: scaled to all of them
        scale, centre = np.sqrt(len(sub) / whole), sub.sum()
        lo, hi = point + scale * (lo - centre), point + scale * (hi - centre)
    return MoneyDifference(float(point_a), float(point_b), float(point), float(lo), float(hi),
                           currency)


# ------------------------------------------------------------------ the story
def retraining_story(deck: CachedSource, name: str) -> Story:
    """The story of ``name``, cached until the model's files change."""
    return deck.memo(("retraining_story", name), name, lambda: build_story(deck, name))


def story_outline(deck: CachedSource, name: str) -> Story:
    """The story's versions and what changed in each, without the measurements (paired
    intervals, money): what the page shows at once while ``retraining_story`` is worked out."""
    return deck.memo(("retraining_outline", name), name,
                     lambda: build_story(deck, name, measure=False))


def _money_kind(model: Model) -> str:
    b = model.business
    if model.task == "binary" and is_complete(b):
        return "value"
    if model.task == "regression" and b is not None and b.cost_per_unit_error is not None \
            and b.volume_per_month is not None:
        return "cost"
    return ""


def build_story(deck: CachedSource, name: str, measure: bool = True) -> Story:
    model = deck.model(name)
    versions = sorted(deck.versions(name).items, key=lambda v: v.version)
    metric = headline_metric(model.task) if model.task_known else ""
    kind = _money_kind(model) if model.task_known else ""
    currency = model.business.currency if model.business is not None else "EUR"
    if not measure:
        steps, prev = [], None
        for v in versions:
            steps.append(Step(
                version=v.version, previous=prev.version if prev else None,
                created_at=v.created_at, role=", ".join(v.aliases) or (v.stage or ""),
                algorithm=v.algorithm, description=v.description,
                changes=changes_between(prev, v)))
            prev = v
        return Story(name, metric, kind, currency, tuple(steps), measured=False)
    trend = metric_across_versions(deck, name) if model.task_known else pd.DataFrame()
    by_version = {int(r.version): r for r in trend.itertuples()} if len(trend) else {}
    frames: dict[int, pd.DataFrame | er.EvaluationSummary | tr.TaskSummary | None] = {}
    problems = []

    def frame_of(v: int):
        """The version's evaluation rows, or the engine's summary of them when it keeps
        them (``analysis.evaluation_rows``, ``analysis.task_rows``: never read into memory),
        or None."""
        if v not in frames:
            try:
                frames[v] = None if not model.task_known else (
                    er.evaluation_summary(deck, name, v) or tr.task_points(deck, name, v)
                    or evaluation_frame(deck, name, v))
            except KeyError:
                frames[v] = None
            except RegistryError as e:
                frames[v] = None
                problems.append(str(e.problem))
        return frames[v]

    thresholds: dict[int, float | None] = {}

    def best_threshold(v: int) -> float | None:
        """The version's best threshold for the business settings (the model page's value
        curve, without its bootstrap band)."""
        if kind != "value":
            return None
        if v not in thresholds:
            f = frame_of(v)
            if isinstance(f, er.EvaluationSummary):
                thresholds[v] = model_value_curve(deck, name, v, model.business).best_threshold \
                    if f.rows else None
                return thresholds[v]
            f = f.loc[f[COL_TRUE].notna()] if f is not None else None
            thresholds[v] = None if f is None or f.empty else value_curve(
                binary_truth(f[COL_TRUE], model.positive_label),
                f[COL_SCORE].to_numpy(dtype=float), model.business, n_boot=2).best_threshold
        return thresholds[v]

    steps, prev = [], None
    for v in versions:
        r = by_version.get(v.version)
        value = low = high = np.nan
        if r is not None and not r.problem:
            value, low, high = r.value, r.low, r.high
        fb = frame_of(v.version)
        tb = best_threshold(v.version)
        own_money = None
        if fb is not None and kind and (kind == "cost" or tb is not None):
            own_money = _money_of(model, fb, tb)
        metric_change = money_change = None
        not_paired = ""
        if prev is not None and metric:
            fa = frame_of(prev.version)
            if fa is None or fb is None:
                not_paired = "one of the two versions has no readable evaluation rows"
            elif (kept := _kept_step(deck, model, prev.version, v.version, metric, kind,
                                     currency, best_threshold(prev.version), tb)) is not None:
                metric_change, money_change, not_paired = kept
            else:
                if not all(isinstance(f, pd.DataFrame) for f in (fa, fb)):
                    # one version's rows kept by an engine, the other's read into memory
                    # (rare: a CSV beside a large Parquet file): paired on the rows
                    fa, fb = (evaluation_frame(deck, name, x) for x in (prev.version, v.version))
                try:
                    aligned_rows(fa, fb, f"v{prev.version}", f"v{v.version}")
                    metric_change = paired_differences(
                        model, fa, fb, settings=SECONDARY, metrics=(metric,)).get(metric)
                    ta = best_threshold(prev.version)
                    if kind and (kind == "cost" or (ta is not None and tb is not None)):
                        money_change = paired_money_difference(
                            money_per_row(model, fa, ta), money_per_row(model, fb, tb),
                            currency)
                except RowsMismatch as e:
                    not_paired = str(e)
        steps.append(Step(
            version=v.version, previous=prev.version if prev else None,
            created_at=v.created_at, role=", ".join(v.aliases) or (v.stage or ""),
            algorithm=v.algorithm, description=v.description,
            changes=changes_between(prev, v), value=value, low=low, high=high,
            money=own_money, metric_change=metric_change, money_change=money_change,
            not_paired=not_paired, verdict=_verdict(metric_change)))
        prev = v
    return Story(name, metric, kind, currency, tuple(steps), tuple(problems))


def _money_of(model: Model, rows, threshold: float | None) -> float:
    """The version's money figure per month: on its rows (``money_per_row``), or for a
    yes/no model's rows an engine keeps, from the summary's counts at ``threshold``."""
    if isinstance(rows, er.EvaluationSummary):
        tp, fp, fn, _ = rows.counts_at(threshold)
        return float(monthly_value(model.business, tp, fp, fn, rows.rows))
    if isinstance(rows, tr.TaskSummary):  # a number model's: from the engine's sums
        return float(cost_of_errors(rows.points.get("mae", np.nan), model.business))
    return float(money_per_row(model, rows, threshold).sum())


def _kept_step(deck, model: Model, a: int, b: int, metric: str, kind: str, currency: str,
               ta: float | None, tb: float | None):
    """(metric change, money change, why not paired) of a retraining whose versions' rows an
    engine keeps: the exact values from both summaries, the paired intervals from the same
    random rows of both files (``compare.kept_pair``), scaled to all rows; None when the
    engine does not keep both."""
    from .compare import kept_pair, kept_task_pair, paired_task
    from .queries import sample_model
    task_pair = kept_task_pair(deck, model.name, a, b) if model.task != "binary" else None
    if task_pair is not None:  # a number or class model's rows an engine keeps
        sa, sb = task_pair[:2]
        why, fa, fb, points = paired_task(*task_pair, f"v{a}", f"v{b}")
        if why:
            return None, None, why
        change = paired_differences(model, fa, fb, 0.5, SECONDARY, metrics=(metric,),
                                    points=points, population=sa.rows).get(metric)
        money_change = paired_money_difference(
            money_per_row(model, fa, None), money_per_row(model, fb, None), currency,
            population=sa.rows, totals=(_money_of(model, sa, None), _money_of(model, sb, None))
        ) if kind == "cost" else None
        return change, money_change, ""
    pair = kept_pair(deck, model.name, a, b, f"v{a}", f"v{b}")
    if pair is None:  # not both kept by the engine: paired on the rows by the caller
        return None
    if pair.why:
        return None, None, pair.why
    m = sample_model(model)
    change = paired_differences(m, pair.sample_a, pair.sample_b, 0.5, SECONDARY,
                                metrics=(metric,),
                                points=(er.points_at(pair.a, 0.5), er.points_at(pair.b, 0.5)),
                                population=pair.a.rows).get(metric)
    money_change = None
    if kind == "value" and ta is not None and tb is not None:
        money_change = paired_money_difference(
            money_per_row(m, pair.sample_a, ta), money_per_row(m, pair.sample_b, tb), currency,
            population=pair.a.rows,
            totals=(_money_of(model, pair.a, ta), _money_of(model, pair.b, tb)))
    return change, money_change, ""


def _verdict(d: Difference | None) -> str:
    if d is None or not np.isfinite(d.delta):
        return ""
    if not d.significant:
        return "no clear change"
    return "helped" if is_better(d.metric, d.value_b, d.value_a) else "hurt"


# ------------------------------------------------------------------ words
def effect_sentence(model: Model, story: Story, step: Step) -> str:
    """What a retraining did, in one or two sentences."""
    if not story.measured:
        return MEASURING
    if step.previous is None:
        if not np.isfinite(step.value):
            return "The first version; its headline metric cannot be computed."
        return (f"The first version: {METRICS[story.metric].name} "
                f"{format_value(story.metric, step.value, _unit(model, story.metric))}.")
    d = step.metric_change
    if d is None:
        why = step.not_paired or "the headline metric cannot be computed"
        return f"No paired comparison with v{step.previous}: {why}."
    unit = _unit(model, story.metric)
    name = metric_name_in_sentence(story.metric)
    ci = (f"95% CI {format_delta(story.metric, d.low, unit)} to "
          f"{format_delta(story.metric, d.high, unit)}")
    word = {"helped": "It helped", "hurt": "It made things worse",
            "no clear change": "No clear change"}.get(step.verdict, "")
    text = (f"{word}: {name} {format_delta(story.metric, d.delta, unit)} against "
            f"v{step.previous} ({ci}, paired on the same rows).")
    m = step.money_change
    if m is not None:
        what = "value" if story.money_kind == "value" else "error cost"
        text += (f" Monthly {what}: {_signed_money(m.delta, m.currency)} (95% CI "
                 f"{_signed_money(m.low, m.currency)} to {_signed_money(m.high, m.currency)}).")
    return text


def _signed_money(v: float, currency: str) -> str:
    return ("+" if v > 0 else "") + money(v, currency)


def _unit(model: Model, metric: str) -> str:
    return model.target_unit if metric and METRICS[metric].kind == "unit" else ""


#: what the outline says where the measurements will be
MEASURING = "Working out what it did (paired on the rows both versions were evaluated on)…"


def last_helped_sentence(story: Story) -> str:
    """'The last retraining that helped: v4 (ROC AUC +0.011 against v3, …).' or ''."""
    if not story.measured:
        return "Working out which retraining helped…"
    s = story.last_helped
    if s is None or s.metric_change is None:
        return ""
    d = s.metric_change
    name = METRICS[story.metric].name
    return (f"The last retraining that helped was v{s.version}: {name} "
            f"{format_delta(story.metric, d.delta)} against v{s.previous} (95% CI "
            f"{format_delta(story.metric, d.low)} to {format_delta(story.metric, d.high)}).")
