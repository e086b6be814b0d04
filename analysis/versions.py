"""Per-version facts for a model page: headline metric on each version's evaluation rows."""
from __future__ import annotations

import numpy as np
import pandas as pd

from registry.cached import CachedSource
from registry.model import RegistryError

from . import task_rows as tr
from .evaluation_rows import evaluation_summary, summary_metric
from .metrics import HEADLINE, compute_metric
from .reads import evaluation_frame, evaluation_table


def version_table(deck: CachedSource, name: str) -> pd.DataFrame:
    """One row per version, newest first, cached until the model's files change.

    Columns: version, aliases, stage, created_at, algorithm, description, rows, metric,
    value (NaN when the version has no readable evaluation rows), problem (why not) and
    logged (the metrics logged at training, as text).
    """
    return deck.memo(("version_table", name), name, lambda: _version_table(deck, name))


def version_table_if_ready(deck: CachedSource, name: str) -> pd.DataFrame | None:
    """``version_table``'s answer when it has already been worked out, else None (no work)."""
    return deck.peek(("version_table", name), name)


def logged_metrics(metrics, most: int = 4) -> str:
    """The metrics a version logged at training, as registered ('cv_roc_auc 0.875, …'):
    shown as logged, beside the ones ModelDeck computes from prediction rows."""
    items = sorted(metrics.items())
    text = ", ".join(f"{k} {v:.4g}" for k, v in items[:most])
    return text + (f" (+{len(items) - most} more)" if len(items) > most else "")


def _version_table(deck: CachedSource, name: str) -> pd.DataFrame:
    model = deck.model(name)
    metric = HEADLINE.get(model.task, "")
    rows = []
    for v in deck.versions(name).items:
        value, n, problem = np.nan, 0, ""
        try:
            if not model.task_known:
                raise KeyError(name)  # its rows cannot be read without a task
            summary = evaluation_summary(deck, name, v.version)
            kept = tr.task_points(deck, name, v.version) if summary is None else None
            if summary is not None:  # rows an engine keeps: their summary
                n, value = summary.rows, summary_metric(model, summary, metric).value
            elif kept is not None:  # a number or class model's rows an engine keeps
                n, value = kept.rows, tr.summary_metric(model, kept, metric).value
            else:
                ev = evaluation_table(deck, name, v.version)
                n = len(ev.frame)
                value = compute_metric(model, ev.frame, metric)
        except KeyError:
            problem = "no evaluation rows" if model.task_known else "task unknown"
        except RegistryError as e:
            problem = str(e.problem)
        rows.append({"version": v.version, "aliases": ", ".join(v.aliases), "stage": v.stage or "",
                     "created_at": v.created_at, "algorithm": v.algorithm,
                     "description": v.description, "rows": n, "metric": metric,
                     "value": value, "problem": problem, "logged": logged_metrics(v.metrics)})
    return pd.DataFrame(rows, columns=["version", "aliases", "stage", "created_at", "algorithm",
                                       "description", "rows", "metric", "value", "problem",
                                       "logged"])


def metric_across_versions(deck: CachedSource, name: str, metric: str | None = None,
                           threshold: float = 0.5, settings=None) -> pd.DataFrame:
    """``metric`` (default: the headline metric) of every registered version with its 95%
    bootstrap interval, oldest first, cached until the model's files change.

    Columns: version, label, aliases, created_at, rows, metric, value, low, high, problem.
    """
    from .uncertainty import SECONDARY
    settings = settings or SECONDARY
    return deck.memo(("metric_across_versions", name, metric, round(threshold, 2), settings),
                     name, lambda: _metric_across_versions(deck, name, metric, threshold,
                                                           settings))


def _metric_across_versions(deck, name, metric, threshold, settings) -> pd.DataFrame:
    from .uncertainty import bootstrap_intervals
    model = deck.model(name)
    metric = metric or HEADLINE.get(model.task, "")
    rows = []
    for v in sorted(deck.versions(name).items, key=lambda v: v.version) \
            if model.task_known else ():
        value = low = high = np.nan
        n, problem = 0, ""
        try:
            summary = evaluation_summary(deck, name, v.version)
            kept = tr.task_points(deck, name, v.version) if summary is None else None
            if summary is not None:  # rows an engine keeps: their summary and sample
                n = summary.rows
                ci = summary_metric(model, summary, metric, threshold, settings)
            elif kept is not None:  # a number or class model's rows an engine keeps
                n, ci = kept.rows, tr.summary_metric(model, kept, metric, settings)
            else:
                frame = evaluation_frame(deck, name, v.version)
                n = int(frame["y_true"].notna().sum())
                point = compute_metric(model, frame, metric, threshold)
                ci = bootstrap_intervals(model, frame, threshold, settings, (metric,),
                                         point={metric: point}).get(metric)
            if ci is None or not np.isfinite(ci.value):
                problem = "metric undefined on these rows"
            else:
                value, low, high = ci.value, ci.low, ci.high
        except KeyError:
            problem = "no evaluation rows"
        except RegistryError as e:
            problem = str(e.problem)
        rows.append({"version": v.version, "label": v.label, "aliases": ", ".join(v.aliases),
                     "created_at": v.created_at, "rows": n, "metric": metric, "value": value,
                     "low": low, "high": high, "problem": problem})
    return pd.DataFrame(rows, columns=["version", "label", "aliases", "created_at", "rows",
                                       "metric", "value", "low", "high", "problem"])
