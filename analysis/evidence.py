"""Gather the evidence about one model and turn it into recommendations.

This is where the other analyses meet: paired comparisons (``analysis.compare`` /
``analysis.uncertainty``), segment metrics (``analysis.evaluation``), production monitoring
(``analysis.monitoring``) and business value (``analysis.business``). The rules themselves
live in ``analysis.recommend`` and only see the plain ``Evidence`` built here.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from registry.cached import CachedSource
from registry.model import (
    COL_PRED, COL_SCORE, COL_TRUE, FEATURE_PREFIX, Model, RegistryError, challenger_of, champion_of,
)

from . import evaluation_rows as er
from . import queries as q
from . import task_rows as tr
from .business import (
    is_complete, model_value_curve, monthly_value, value_curve, version_regression_cost,
)
from .compare import metric_difference, version_comparison
from .evaluation import segment_metrics
from .logged import headline_logged, logged_health_caveat
from .metrics import METRICS, binary_truth, headline_metric, relative_drop
from .monitoring import model_monitoring
from .reads import evaluation_frame, production_table
from .recommend import (
    Difference, Evidence, Recommendation, RecommendationSettings, SegmentResult, recommend,
)
from .uncertainty import BootstrapSettings, RowsMismatch

log = logging.getLogger(__name__)

#: lighter bootstrap for the portfolio-wide view: intervals of 95% from 400 resamples
EVIDENCE_BOOTSTRAP = BootstrapSettings(n_boot=400, max_rows=10_000)


@dataclass(frozen=True)
class ModelAdvice:
    model: str
    evidence: Evidence | None
    recommendations: tuple[Recommendation, ...]
    problem: str = ""


def model_advice(deck: CachedSource, name: str,
                 settings: RecommendationSettings = RecommendationSettings()) -> ModelAdvice:
    """Recommendations for one model, cached until its files change. A champion whose
    evaluation rows cannot be read, or evidence that fails to compute, is an answer too (no
    recommendation, and why), so that nothing keeps asking until the files change."""
    return deck.memo(("advice", name, settings), name,
                     lambda: _safe_advice(deck, name, settings))


def _safe_advice(deck: CachedSource, name: str,
                 settings: RecommendationSettings) -> ModelAdvice:
    try:
        return _advice(deck, name, settings)
    except (KeyError, RegistryError) as e:
        if isinstance(e, RegistryError) and e.problem.model == name:
            return ModelAdvice(name, None, (), str(e.problem))
        raise  # the model is gone, or the registry cannot be reached: ask again later
    except Exception:
        log.exception("cannot work out a recommendation for %s", name)
        return ModelAdvice(name, None, (), "the evidence could not be computed")


def advice_if_ready(deck: CachedSource, name: str,
                    settings: RecommendationSettings = RecommendationSettings()
                    ) -> ModelAdvice | None:
    """``model_advice``'s answer when it has already been worked out, else None (no work)."""
    return deck.peek(("advice", name, settings), name)


def portfolio_advice(deck: CachedSource,
                     settings: RecommendationSettings = RecommendationSettings()
                     ) -> list[ModelAdvice]:
    out = []
    for m in deck.models().items:
        try:
            out.append(model_advice(deck, m.name, settings))
        except RegistryError as e:
            out.append(ModelAdvice(m.name, None, (), str(e.problem)))
        except KeyError:  # the model went away between the listing and now
            continue
        except Exception:  # one model's failure never costs the others their advice
            log.exception("cannot work out a recommendation for %s", m.name)
            out.append(ModelAdvice(m.name, None, (), "the evidence could not be computed"))
    return out


def _advice(deck: CachedSource, name: str, settings: RecommendationSettings) -> ModelAdvice:
    model = deck.model(name)
    versions = deck.versions(name).items
    champ, how = champion_of(versions)
    if champ is None:
        return ModelAdvice(name, None, (), "No versions are registered yet.")
    if not model.task_known:
        return ModelAdvice(name, None, (), f"the task is {model.task_source}")
    try:
        # rows an engine keeps: their summaries (analysis.evaluation_rows), never the rows
        # (analysis.task_rows for a number or class model)
        summary = er.evaluation_summary(deck, name, champ.version)
        kept = tr.task_points(deck, name, champ.version) if summary is None else None
        champ_frame = evaluation_frame(deck, name, champ.version) \
            if summary is None and kept is None else None
    except KeyError:
        return _logged_advice(model, versions, champ)
    total = summary.rows if summary is not None else kept.rows if kept is not None else \
        int(champ_frame[COL_TRUE].notna().sum())
    metric = headline_metric(model.task)
    unit = model.target_unit if METRICS[metric].kind == "unit" else ""
    b = model.business
    currency = b.currency if b is not None else "EUR"
    parts: dict = dict(model=name, task=model.task, metric=metric, champion=champ.version,
                       unit=unit, currency=currency)

    # Challenger against champion, and champion against every earlier version.
    chall = challenger_of(versions)
    unread: list[str] = []
    if chall is not None and chall.version != champ.version:
        try:
            comp = version_comparison(deck, name, champ.version, chall.version)
            d = comp.differences.get(metric)
            if d is not None and not comp.problem:
                parts["challenger"] = _difference(d, chall.version, champ.version)
                parts["challenger_segments"] = tuple(_segment_deltas(
                    comp.segments, total, chall.version, champ.version))
                parts["money_challenger"] = _money_gain(deck, model, chall.version,
                                                        champ.version)
        except KeyError:  # the challenger has no evaluation rows: nothing to compare
            pass
        except RegistryError as e:  # a broken challenger never costs the champion its advice
            unread.append(str(e.problem))
            parts.pop("challenger", None)
            parts.pop("challenger_segments", None)
    earlier = []
    for v in versions:
        if v.version >= champ.version:
            continue
        try:
            d = metric_difference(deck, name, v.version, champ.version, metric,
                                  EVIDENCE_BOOTSTRAP)
        except (KeyError, RowsMismatch):  # no rows, or not evaluated on the same rows
            continue
        except RegistryError as e:
            unread.append(str(e.problem))
            continue
        if d is not None:
            earlier.append(_difference(d, champ.version, v.version))
    parts["earlier"] = tuple(earlier)
    worse = [e for e in earlier if e.worse]
    if worse:
        best = max(worse, key=lambda e: abs(e.delta))
        parts["money_rollback"] = _money_gain(deck, model, best.other, champ.version)

    # Segments of the champion.
    if summary is not None or kept is not None:
        seg = er.segment_table(model, tr.version_segments(deck, name, champ.version),
                               EVIDENCE_BOOTSTRAP)
    else:
        seg = segment_metrics(model, champ_frame, settings=EVIDENCE_BOOTSTRAP)
    parts["segments"] = tuple(
        SegmentResult(r.segment, str(r.value), int(r.rows), r.rows / max(total, 1),
                      float(r.estimate), float(r.low), float(r.high))
        for r in seg.itertuples() if r.note == "")
    overall = _finite(summary.points.get(metric, np.nan)) if summary is not None else \
        _finite(kept.points.get(metric, np.nan)) if kept is not None else \
        _overall(model, champ_frame, metric)
    parts["overall"] = overall

    # Production.
    try:
        _, _, report = model_monitoring(deck, name, champ.version)
    except RegistryError:
        report = None
    if report is not None and not report.performance.empty:
        p = report.performance
        parts["reference"] = report.reference
        parts["windows"] = tuple((r.label, int(r.labelled), float(r.value), float(r.low),
                                  float(r.high)) for r in p.itertuples())
        if not report.drift.empty:
            latest = report.drift["label"].iloc[-1]
            parts["latest_window"] = latest
            corr = _score_correlations(model, champ_frame if champ_frame is not None else
                                       _correlation_sample(deck, model, champ.version))
            last = report.drift.loc[(report.drift["label"] == latest)
                                    & (report.drift["kind"] == "feature")]
            parts["drifted"] = tuple((r.name, float(r.psi), corr.get(r.name, 0.0))
                                     for r in last.itertuples())
        parts["money_lost"] = _money_lost(deck, model, champ.version, p, report, settings)
        parts["last_retrain"] = _last_retrain(deck, name)
    parts["unread"] = tuple(unread)
    evidence = Evidence(**parts)
    return ModelAdvice(name, evidence, tuple(recommend(evidence, settings)))


#: without prediction rows, a challenger is worth a look when its logged headline metric is at
#: least this much (relative) better than the champion's
LOGGED_GAIN = 0.02


def _logged_advice(model: Model, versions, champ) -> ModelAdvice:
    """No prediction rows for the champion: advice from the metrics MLflow logged on held-out
    data, at low confidence, saying that a verdict needs prediction rows to be sure."""
    h = headline_logged(model, champ)
    if h is None:
        name = METRICS[headline_metric(model.task)].name
        return ModelAdvice(model.name, None, (), (
            f"v{champ.version} has no evaluation rows and logged no {name} on held-out data, "
            "so there is nothing to base a recommendation on."))
    metric = h.key
    caveat = logged_health_caveat()
    chall = challenger_of(versions)
    hc = headline_logged(model, chall) if chall is not None and \
        chall.version != champ.version else None
    if hc is not None and relative_drop(metric, hc.value, h.value) <= -LOGGED_GAIN:
        rec = Recommendation(
            model.name, "promote", f"Consider the challenger v{chall.version}: it logged a "
                                   f"better {METRICS[metric].name} than v{champ.version}.",
            (f"{METRICS[metric].name} as logged on held-out data: v{chall.version} {hc.text} "
             f"against v{champ.version} {h.text}.", caveat), "compare", confidence="low",
            details={"challenger": chall.version, "from": "logged"})
    else:
        evidence = [f"{METRICS[metric].name} as logged on held-out data: v{champ.version} "
                    f"{h.text}."]
        if hc is not None:
            evidence.append(f"The challenger v{chall.version} logged {hc.text}, not "
                            f"{LOGGED_GAIN:.0%} or more better.")
        rec = Recommendation(model.name, "keep", f"Keep v{champ.version}: nothing logged calls "
                                                 "for a change.",
                             tuple(evidence + [caveat]), "versions", confidence="low",
                             details={"from": "logged"})
    return ModelAdvice(model.name, None, (rec,))


def _last_retrain(deck: CachedSource, name: str) -> Difference | None:
    """The newest retraining that helped (analysis.history), for the retrain rule; only
    asked for when there is production evidence, since the story costs paired bootstraps."""
    from .history import retraining_story
    step = retraining_story(deck, name).last_helped
    if step is None or step.metric_change is None:
        return None
    return _difference(step.metric_change, step.version, step.previous)


def _difference(d, version: int, other: int) -> Difference:
    """analysis.uncertainty's ``b − a`` as the rules' ``version − other``."""
    return Difference(version=version, other=other, metric=d.metric, value=d.value_b,
                      other_value=d.value_a, delta=d.delta, low=d.low, high=d.high)


def _segment_deltas(segments: pd.DataFrame, total: int, version: int, other: int):
    """The segments of a comparison as the rules see them (``total``: labelled rows)."""
    for r in segments.itertuples():
        if r.note:
            continue
        d = Difference(version, other, r.metric, r.value_b, r.value_a, r.delta, r.low, r.high)
        yield SegmentResult(r.segment, str(r.value), int(r.rows), r.rows / max(total, 1),
                            float(r.value_b), np.nan, np.nan, delta=d)


def _overall(model: Model, frame: pd.DataFrame, metric: str) -> float | None:
    from .metrics import compute_metric
    return _finite(compute_metric(model, frame, metric))


def _finite(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


def _money_gain(deck, model: Model, other: int, champion: int) -> float | None:
    """Monthly value of ``other`` minus the champion's, each at its own best threshold
    (yes/no models: ``business.model_value_curve``, from an engine's summaries when it keeps
    the rows), or the saving in error cost (number models)."""
    b = model.business
    try:
        if model.task == "binary" and is_complete(b):
            return model_value_curve(deck, model.name, other, b).best_value - \
                model_value_curve(deck, model.name, champion, b).best_value
        if model.task == "regression":  # from the engine's sums when it keeps the rows
            mine, theirs = (version_regression_cost(deck, model.name, v)
                            for v in (champion, other))
            return None if mine is None or theirs is None else mine - theirs
    except (KeyError, RegistryError):
        return None
    return None


def _money_lost(deck, model: Model, champion: int, perf: pd.DataFrame, report,
                settings: RecommendationSettings) -> float | None:
    """What the performance fall costs per month in the latest judged production window.

    At the champion's best threshold on evaluation, the window's actual value is compared with
    the value the same window's customers would have given at the error rates measured at
    evaluation (same positives and negatives, evaluation's true- and false-positive rates).
    Holding the population fixed keeps a change in how many positives there are from passing
    for a change in the model.
    """
    b = model.business
    if model.task != "binary" or not is_complete(b):
        return None
    judged = perf.loc[perf["labelled"] >= settings.min_window_rows]
    if judged.empty:
        return None
    start = judged.iloc[-1]["window"]
    later = perf.loc[perf["window"] > start, "window"]
    mon = production_table(deck, model.name)
    if mon is None:  # rows kept in an engine (registry/rows.py): not read into memory here
        return None
    mon = mon.frame
    t = mon["timestamp"].dt.tz_convert("UTC").dt.tz_localize(None)
    inside = (t >= start).to_numpy().copy()
    if len(later):
        inside &= (t < later.iloc[0]).to_numpy()
    rows = mon.loc[inside]
    if "version" in rows.columns:
        rows = rows.loc[rows["version"] == report.version]
    rows = rows.loc[rows[COL_TRUE].notna()]
    if len(rows) < settings.min_window_rows:
        return None
    ref = model_value_curve(deck, model.name, champion, b)
    i = ref.best_index
    tpr = ref.tp[i] / max(ref.tp[i] + ref.fn[i], 1)
    fpr = ref.fp[i] / max(ref.fp[i] + ref.tn[i], 1)
    now = value_curve(binary_truth(rows[COL_TRUE], model.positive_label),
                      rows[COL_SCORE].to_numpy(dtype=float), b, n_boot=10)
    j = now.index_of(ref.best_threshold)
    pos, neg = now.tp[j] + now.fn[j], now.fp[j] + now.tn[j]
    as_evaluated = monthly_value(b, tpr * pos, fpr * neg, (1 - tpr) * pos, now.rows)
    return float(as_evaluated - now.value[j])


def _correlation_sample(deck, model: Model, version: int) -> pd.DataFrame:
    """A uniform random sample (``evaluation_rows.SAMPLE_ROWS``) of the evaluation rows an
    engine keeps, with the model's output (the score, or the prediction) and the numeric
    features: what ``_score_correlations`` reads of them."""
    rows = q.kept_rows_of(deck, model.name, version)
    cols = [c for c in rows.columns if c.startswith(FEATURE_PREFIX) and c in rows.numeric]
    out = COL_SCORE if model.task == "binary" else COL_PRED
    return q.rows_sample(rows, [out, *cols], er.SAMPLE_ROWS, labelled=False)[0]


def _score_correlations(model: Model, frame: pd.DataFrame) -> dict[str, float]:
    """|Spearman correlation| of each numeric feature with the model's output on the
    evaluation rows (on a random sample of them when an engine keeps them): how much the
    model's decisions move with that input."""
    out_col = COL_SCORE if model.task == "binary" else "y_pred"
    if out_col not in frame.columns:
        return {}
    out = {}
    for col in frame.columns:
        if not col.startswith(FEATURE_PREFIX):
            continue
        x = frame[col]
        if not pd.api.types.is_numeric_dtype(x):
            continue
        r = x.corr(frame[out_col].astype(float), method="spearman")
        out[col[len(FEATURE_PREFIX):]] = 0.0 if pd.isna(r) else abs(float(r))
    return out


def ranked(advice: list[ModelAdvice]) -> list[Recommendation]:
    """Every recommendation of every model, the most money first, "keep" last."""
    recs = [r for a in advice for r in a.recommendations]
    recs.sort(key=lambda r: (r.money_per_month is None, -abs(r.money_per_month or 0),
                             r.action == "keep", r.model))
    return recs


def advice_summary(advice: list[ModelAdvice]) -> str:
    """'3 actions across 4 models, most valuable first. Acting on them is worth about €283k a
    month.' (the sum only when every amount is in one currency)."""
    from .business import money

    acting = [r for r in ranked(advice) if r.action != "keep"]
    total = sum(r.money_per_month for r in acting if r.money_per_month and r.money_per_month > 0)
    currencies = {r.currency for r in acting if r.money_per_month}
    worth = (f" Acting on them is worth about {money(total, next(iter(currencies)))} a month."
             if total and len(currencies) == 1 else "")
    return f"{len(acting)} actions across {len(advice)} models, most valuable first.{worth}"
