"""Per-version facts for a model page: headline metric on each version's evaluation rows."""
from __future__ import annotations

import numpy as np
import pandas as pd

from registry.cached import CachedSource
from registry.model import RegistryError

from .metrics import compute_metrics, headline_metric


def version_table(deck: CachedSource, name: str) -> pd.DataFrame:
    """One row per version, newest first, cached until the model's files change.

    Columns: version, aliases, stage, created_at, algorithm, description, rows, metric,
    value (NaN when the version has no readable evaluation rows) and problem (why not).
    """
    return deck.memo(("version_table", name), name, lambda: _version_table(deck, name))


def _version_table(deck: CachedSource, name: str) -> pd.DataFrame:
    model = deck.model(name)
    metric = headline_metric(model.task)
    rows = []
    for v in deck.versions(name).items:
        value, n, problem = np.nan, 0, ""
        try:
            ev = deck.evaluation(name, v.version)
            n = len(ev.frame)
            value = compute_metrics(model, ev.frame).get(metric, np.nan)
        except KeyError:
            problem = "no evaluation rows"
        except RegistryError as e:
            problem = str(e.problem)
        rows.append({"version": v.version, "aliases": ", ".join(v.aliases), "stage": v.stage or "",
                     "created_at": v.created_at, "algorithm": v.algorithm,
                     "description": v.description, "rows": n, "metric": metric,
                     "value": value, "problem": problem})
    return pd.DataFrame(rows, columns=["version", "aliases", "stage", "created_at", "algorithm",
                                       "description", "rows", "metric", "value", "problem"])
