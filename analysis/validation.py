"""Validation and robustness: a version's metrics on every evaluation split, in words.

A version may hold several evaluation splits (docs/registry-format.md, "Evaluation splits"):
the main ``test`` split, cross-validation folds ``fold-1`` … ``fold-k``, a time-based split,
and stress sets (the test rows made harder on purpose: noise, missing values). This module
computes, with the one metric implementation (``analysis.uncertainty.bootstrap_intervals``,
which holds ``analysis.metrics`` to scikit-learn):

* the task's main metrics on each split with 95% bootstrap intervals;
* the spread across folds, the largest fold value minus the smallest, as a sentence
  ("The 5 folds agree within 0.01 ROC AUC …"); nothing with fewer than 2 folds;
* what each stress set costs against the main split, as a sentence ("With 10% of values
  missing, ROC AUC falls from 0.861 to 0.829 …").

A split whose rows an engine keeps where they lie (a large Parquet file, an external table:
``analysis.queries.kept_rows_of``) is never read into the web process: its numbers come
from the engine's summary of that split (``evaluation_rows.evaluation_summary`` of a yes/no
model, ``task_rows.task_points`` of the others: each metric on all rows, exact; its interval
from a random sample scaled to all rows), and a stress set's paired change from the same
random rows of it and of the main split (``compare.kept_differences``, rows paired by
position). Smaller splits are read into memory as before; one version may hold both.

Every sentence is written here, once; pages and reports show them as they are.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable

from registry import RegistryError
from registry.model import COL_TRUE, Model, ModelVersion, split_info

import pandas as pd

from . import evaluation_rows as er
from . import task_rows as tr
from .compare import kept_differences
from .evaluation import threshold_result, version_outline
from .language import format_value, interval_text, metric_name_in_sentence
from .metrics import METRICS, headline_metric
from .reads import evaluation_frame
from .uncertainty import (
    SECONDARY, BootstrapSettings, Difference, Interval, RowsMismatch, bootstrap_intervals,
    paired_differences,
)

#: metrics shown per split, headline first (threshold ones are at the page's threshold)
SPLIT_METRICS = {"binary": ("roc_auc", "recall", "precision"),
                 "multiclass": ("accuracy", "f1_macro"),
                 "regression": ("mae", "rmse")}
#: order of kinds on the page: the main split, other held-out splits, folds, stress sets
KIND_ORDER = {"test": 0, "validation": 1, "time": 2, "other": 3, "fold": 4, "stress": 5}


@dataclass(frozen=True)
class SplitResult:
    split: str
    kind: str
    description: str
    rows: int
    metrics: dict[str, Interval]
    #: a stress set's paired ``split − main`` change of the headline metric on the same
    #: rows; None when the rows do not pair (or for other kinds)
    change: Difference | None = None


@dataclass(frozen=True)
class Validation:
    """Everything the "Validation and robustness" section shows for one version."""

    model: str
    version: int
    main: str  # the split the rest of the page shows, which stress sets are compared with
    metrics: tuple[str, ...]  # the metrics of ``splits``, headline first
    splits: tuple[SplitResult, ...]
    fold_sentence: str  # "" with fewer than 2 folds
    stress_sentences: tuple[str, ...]
    notes: tuple[str, ...] = ()  # splits that could not be read, in words

    @property
    def headline(self) -> str:
        return self.metrics[0]


def main_split(splits) -> str:
    """The split a version's page shows by default: ``test`` when there is one (the same
    rule as the registry sources)."""
    return "test" if "test" in splits else sorted(splits)[0]


def split_metrics(model: Model, frame, threshold: float = 0.5,
                  settings: BootstrapSettings = SECONDARY) -> dict[str, Interval]:
    """The task's main metrics on one split's labelled rows, with 95% intervals."""
    frame = frame.loc[frame[COL_TRUE].notna()]
    return bootstrap_intervals(model, frame, threshold, settings, SPLIT_METRICS[model.task])


def split_values(model: Model, table, threshold: float = 0.5,
                 settings: BootstrapSettings = SECONDARY) -> tuple[int, dict[str, Interval]]:
    """(labelled rows, ``split_metrics``) of one split: ``table`` is its rows read into
    memory (a frame) or an engine's summary of them (``evaluation_rows.EvaluationSummary``,
    ``task_rows.TaskSummary``: each metric on all rows, its interval from the sample)."""
    metrics = SPLIT_METRICS[model.task]
    if isinstance(table, pd.DataFrame):
        return int(table[COL_TRUE].notna().sum()), split_metrics(model, table, threshold,
                                                                  settings)
    if model.task == "binary":
        return table.rows, er.metric_intervals(model, table, metrics, threshold, settings)
    return table.rows, tr.metric_intervals(model, table, settings, metrics)


def _spread_text(metric: str, spread: float, unit: str) -> str:
    """The fold spread rounded *up* at the precision shown, so that "within" stays true."""
    if metric == "mape":
        return f"{math.ceil(spread * 1000 - 1e-9) / 10:.1f} percentage points"
    if METRICS[metric].kind == "unit":
        return f"{math.ceil(spread * 10 - 1e-9) / 10:,.1f} {unit}".strip()
    return f"{math.ceil(spread * 100 - 1e-9) / 100:.2f}"


def fold_sentence(metric: str, values: list[float], unit: str = "") -> str:
    """"The 5 folds agree within 0.01 ROC AUC (0.842 to 0.851)." from the folds' values;
    "" with fewer than 2 folds that have a value."""
    values = [v for v in values if v is not None and math.isfinite(v)]
    if len(values) < 2:
        return ""
    name = metric_name_in_sentence(metric)
    lo, hi = min(values), max(values)
    if hi - lo == 0:
        return f"The {len(values)} folds give the same {name}, {format_value(metric, lo, unit)}."
    return (f"The {len(values)} folds agree within {_spread_text(metric, hi - lo, unit)} "
            f"{name} (from {format_value(metric, lo, unit)} to "
            f"{format_value(metric, hi, unit)}).")


def stress_sentence(description: str, split: str, reference: dict[str, Interval],
                    stressed: dict[str, Interval], metrics: tuple[str, ...],
                    main: str = "test", unit: str = "",
                    change: Difference | None = None) -> str:
    """"With 10% of values missing, ROC AUC falls from 0.861 to 0.829 and recall from …"
    against the main split; the split's name stands in for a missing description.
    ``change``: the paired difference of the headline metric when the stress set holds the
    main split's rows, which says whether the change is more than chance."""
    parts = []
    for k in metrics:
        a, b = reference.get(k), stressed.get(k)
        if a is None or b is None or not (math.isfinite(a.value) and math.isfinite(b.value)):
            continue
        name = METRICS[k].name
        if parts and name[1:2].islower():  # "recall", but "ROC AUC"
            name = name.lower()
        fa, fb = format_value(k, a.value, unit), format_value(k, b.value, unit)
        if fa == fb:
            parts.append(f"{name} stays at {fa}")
            continue
        verb = "falls" if b.value < a.value else "rises"
        parts.append(f"{name} {verb} from {fa} to {fb}")
    if not parts:
        return ""
    what = description.strip().rstrip(".") or f"on the {split!r} stress set"
    what = what[0].upper() + what[1:]
    body = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    text = f"{what}, {body} (compared with the {main!r} split)."
    if change is not None and math.isfinite(change.low) and math.isfinite(change.high):
        name = metric_name_in_sentence(change.metric)
        ci = interval_text(change.metric, change.low, change.high, unit, difference=True)
        text += (f" On the same rows, the change in {name} is more than chance alone would "
                 f"give ({ci})." if change.significant else
                 f" On the same rows, the change in {name} is within what chance alone could "
                 f"give ({ci}).")
    return text


def validate(model: Model, version: ModelVersion, frames: dict, threshold: float = 0.5,
             settings: BootstrapSettings = SECONDARY, notes: tuple[str, ...] = (),
             main_metrics: dict[str, Interval] | None = None,
             kept_pair: Callable | None = None) -> Validation:
    """The section's numbers and sentences from each split's rows (``frames``: split name →
    prediction frame, as the registry's ``evaluation(model, version, split)`` returns, or
    an engine's summary of the split's rows: ``split_values``).
    ``main_metrics``: the main split's intervals as the page's cards already show them, so
    that the same number never has two intervals on one page. ``kept_pair(main, split,
    metric, threshold, settings)``: the paired ``split − main`` difference of two splits an
    engine keeps (``compare.kept_differences``), or None."""
    metrics = SPLIT_METRICS[model.task]
    assert metrics[0] == headline_metric(model.task)
    main = main_split(frames) if frames else "test"
    results = []
    for k, (split, table) in enumerate(frames.items()):
        info = split_info(version, split)
        kind = "test" if split == main else info.kind
        if split == main and main_metrics is not None:
            rows, values = _rows(table), {m: main_metrics[m] for m in metrics
                                          if m in main_metrics}
        else:
            rows, values = split_values(model, table, threshold,
                                        replace(settings, seed=settings.seed + k))
        results.append(SplitResult(split, kind, info.description, rows, values))
    results.sort(key=lambda r: (KIND_ORDER.get(r.kind, 3), _natural(r.split)))
    unit = model.target_unit
    head = metrics[0]
    folds = [r.metrics[head].value for r in results if r.kind == "fold" and head in r.metrics]
    reference = next((r.metrics for r in results if r.split == main), {})
    results = [replace(r, change=_paired(model, frames, main, r.split, head, threshold,
                                         settings, kept_pair)) if r.kind == "stress" else r
               for r in results]
    stress = tuple(s for s in (stress_sentence(r.description, r.split, reference, r.metrics,
                                               metrics, main, unit, r.change)
                               for r in results if r.kind == "stress") if s)
    return Validation(model=model.name, version=version.version, main=main, metrics=metrics,
                      splits=tuple(results), fold_sentence=fold_sentence(head, folds, unit),
                      stress_sentences=stress, notes=tuple(notes))


def _rows(table) -> int:
    """Labelled rows of a split's frame or summary."""
    return int(table[COL_TRUE].notna().sum()) if isinstance(table, pd.DataFrame) \
        else table.rows


def _paired(model: Model, frames: dict, main: str, split: str, metric: str,
            threshold: float, settings: BootstrapSettings,
            kept_pair: Callable | None = None) -> Difference | None:
    """``split − main`` of ``metric`` on the same rows, or None when the rows differ. Two
    frames are paired in memory, two summaries by the engine (``kept_pair``); a split read
    into memory and one an engine keeps are not paired (their files differ in kind, so
    their rows are not known to be the same ones)."""
    if main not in frames:
        return None
    a, b = frames[main], frames[split]
    try:
        if isinstance(a, pd.DataFrame) and isinstance(b, pd.DataFrame):
            return paired_differences(model, a, b, threshold, settings, main, split,
                                      metrics=(metric,)).get(metric)
        if kept_pair is None or isinstance(a, pd.DataFrame) or isinstance(b, pd.DataFrame):
            return None
        return kept_pair(main, split, metric, threshold, settings)
    except RowsMismatch:
        return None


def _natural(name: str) -> tuple:
    """fold-2 before fold-10."""
    head, _, tail = name.rpartition("-")
    return (head, int(tail), "") if tail.isdigit() else (name, -1, name)


def _asked(split: str) -> str | None:
    """How to ask the registry for ``split``: None for the ``test`` split (the default one
    whenever a version has it: a file or an external ``evaluation_table``), so that its
    engine summary is the one the rest of the model page already cached."""
    return None if split == "test" else split


def evaluation_splits(deck, name: str, version: ModelVersion) -> tuple[str, ...]:
    """The version's evaluation splits: its files (``ModelVersion.splits``) and, when it has
    no ``test`` file but an external ``evaluation_table`` (the "test" rows in an engine),
    ``test`` as well."""
    if not version.splits or "test" in version.splits:
        return version.splits
    try:  # told by the registry, without opening the table
        external = deck.keeps_rows(name, version.version, "test")
    except (KeyError, RegistryError):
        external = False  # no "test" rows at all (or the evaluation section says why)
    return ("test", *version.splits) if external else version.splits


def split_table(deck, model: Model, version: ModelVersion, split: str):
    """One split's rows for ``validate``: the engine's summary when an engine keeps them
    (``evaluation_rows.evaluation_summary``, ``task_rows.task_points``), else the rows read
    into memory. KeyError when the split is gone; RegistryError when it cannot be read."""
    summary = er.evaluation_summary if model.task == "binary" else tr.task_points
    kept = summary(deck, model.name, version.version, _asked(split))
    return kept if kept is not None else \
        evaluation_frame(deck, model.name, version.version, split)


def version_validation(deck, name: str, version: int, threshold: float = 0.5
                       ) -> Validation | None:
    """``validate`` of one version on all its splits, cached until the model's files change;
    None when the version has fewer than two splits. A split whose rows cannot be read is
    left out and named in ``notes``. A split an engine keeps is not read into memory
    (``split_table``)."""
    t = round(float(threshold), 2)

    def compute():
        model = deck.model(name)
        v = deck.version(name, version)
        splits = evaluation_splits(deck, name, v)
        if len(splits) < 2:
            return None
        frames, notes = {}, []
        for split in splits:
            try:
                frames[split] = split_table(deck, model, v, split)
            except RegistryError as e:
                notes.append(f"The {split!r} split is not shown: {e.problem}")
            except KeyError:
                notes.append(f"The {split!r} split is no longer in the registry.")
        main = main_split(frames) if frames else None
        shown = None
        if main == main_split(splits):  # the split the evaluation section's cards show
            # (the cards' intervals; an outline has them without the segments' cost)
            shown = dict(version_outline(deck, name, version).metrics)
            if model.task == "binary":
                shown.update(threshold_result(deck, name, version, t).metrics)

        def kept_pair(main, split, metric, at, settings):
            got = kept_differences(deck, name, version, version, (metric,), at, settings,
                                   splits=(_asked(main), _asked(split)),
                                   labels=(f"The {main!r} split", f"the {split!r} split"))
            return None if got is None else got.get(metric)
        return validate(model, v, frames, t, notes=tuple(notes), main_metrics=shown,
                        kept_pair=kept_pair)
    return deck.memo(("validation", name, version, t), name, compute)


def validation_pending(deck, name: str, version: int, threshold: float = 0.5) -> bool:
    """Whether ``version_validation`` is not cached yet and would ask an engine to summarise
    at least one split (a page's first view then leaves the section to a callback rather
    than wait). Nothing is read or summarised here: the registry tells which splits an
    engine keeps (``keeps_rows``)."""
    if deck.peek(("validation", name, version, round(float(threshold), 2)), name) is not None:
        return False
    splits = evaluation_splits(deck, name, deck.version(name, version))
    if len(splits) < 2:
        return False
    for split in splits:
        try:
            if deck.keeps_rows(name, version, _asked(split)):
                return True  # told by the registry: no table is opened or checked here
        except (KeyError, RegistryError):
            continue  # the section names it
    return False
