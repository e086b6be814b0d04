"""The one place where ModelDeck's analyses read prediction rows from the cached source.

A computation in ``analysis/`` takes plain frames and domain objects; the cached
orchestrators (``version_evaluation(deck, name, version)``, ``model_estimate`` …) ask here for
the rows they hand it, and ask ``deck`` only for what the registry says about a model (its
``model``, ``versions``) and for ``memo``. Rows an engine queries in place
(``registry.rows.Rows``) are reached through ``analysis.queries.rows_of``, which turns them
into summaries. ``tests/test_layers.py`` fails when any other module of ``analysis/``,
``sections/``, ``pages/``, ``reports/`` or ``serving/`` reads rows from a source itself, so a
future change of how rows are fetched (a sample, a page, an engine) is made here once.
"""
from __future__ import annotations

import pandas as pd

from registry.model import Evaluation, Monitoring


def evaluation_table(deck, name: str, version: int, split: str | None = None) -> Evaluation:
    """The evaluation rows of ``version`` on ``split`` (default: the version's default split,
    "test" when it has one) with the notes of the registry's edge. KeyError when there are
    none; RegistryError when the table cannot be read."""
    return deck.evaluation(name, version, split)


def evaluation_frame(deck, name: str, version: int, split: str | None = None
                     ) -> pd.DataFrame:
    """``evaluation_table(...).frame``: the rows themselves."""
    return evaluation_table(deck, name, version, split).frame


def production_table(deck, name: str) -> Monitoring | None:
    """The production rows of model ``name`` read into memory, or None when it has none (or
    keeps them in an engine: ``production_rows`` reaches those)."""
    return deck.monitoring(name)


def production_rows(deck, name: str):
    """The production rows of model ``name`` as ``registry.rows.Rows`` (a table an engine
    queries, or rows in memory: ``Rows.in_memory`` says which), or None when it has none.
    Analyses that summarise them go through ``analysis.queries.rows_of`` instead."""
    return deck.rows(name)


def has_production(deck, name: str) -> bool:
    """Whether model ``name`` has production rows (without reading them)."""
    return deck.has_production(name)
