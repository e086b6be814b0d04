"""Prediction tables (evaluation and monitoring), checked and normalised once, when read.

``prepare_predictions`` is the edge for tables as ``registry.schema`` is for JSON documents:
a table that cannot be used raises RegistryError naming the file and the column; a table that
can be used with care comes back normalised, with notes in plain words saying what was done.
The rules are documented in docs/registry-format.md ("Limits and normalisation"):

* yes/no labels: ``y_true`` may hold 0/1, booleans, or any two values of which one equals
  ``positive_label`` (compared as text: ``"1"`` matches 1, 1.0 and true; ``"yes"`` matches
  "Yes"); more than two distinct values, or text labels with no ``positive_label``, are errors.
* Rows whose prediction is NaN or infinite, or (evaluation) whose true value is missing, are
  counted and left out with a note; a table left with no rows is an error.
* A segment column with more than ``MAX_SEGMENT_GROUPS`` values keeps the largest groups and
  puts the rest in ``other``; numbers and empty cells in segment columns become text.
* Monitoring: ``timestamp`` and ``version`` are required; rows without a readable time or a
  whole version number are left out with a note; ``y_true`` may be absent (no labels yet).
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .model import (
    COL_PRED, COL_SCORE, COL_TIME, COL_TRUE, COL_VERSION, FEATURE_PREFIX, PROBA_PREFIX,
    SEGMENT_PREFIX, Model, Problem, RegistryError,
)

MAX_SEGMENT_GROUPS = 20  # groups kept per segment column (the largest), the rest is "other"
OTHER = "other"
MISSING = "(missing)"
_TRUE_WORDS = {"true": "1", "false": "0"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


# ------------------------------------------------------------------ labels
def label_key(value) -> str:
    """A class value as the text it is compared by: booleans and whole numbers as ``"1"`` /
    ``"0"``, other numbers as Python writes them, text stripped and in lower case
    (``"True"`` / ``"false"`` as ``"1"`` / ``"0"``)."""
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return str(int(v)) if np.isfinite(v) and v.is_integer() and abs(v) < 2**53 else repr(v)
    text = _CONTROL.sub("", str(value)).strip().lower()
    if text in _TRUE_WORDS:
        return _TRUE_WORDS[text]
    try:
        return label_key(float(text))
    except ValueError:
        return text


def positive_mask(y_true, positive_label: str | None) -> np.ndarray:
    """Which rows are positives (0/1), the positive class being ``positive_label``
    (default 1 / true), compared with ``label_key``. Missing values count as negative."""
    y = pd.Series(np.asarray(y_true, dtype=object) if not isinstance(y_true, pd.Series)
                  else y_true)
    target = label_key(positive_label if positive_label is not None else 1)
    if pd.api.types.is_bool_dtype(y):
        return (y.to_numpy() == (target == "1")).astype(int) if target in ("0", "1") \
            else np.zeros(len(y), dtype=int)
    if pd.api.types.is_numeric_dtype(y):
        try:
            t = float(target)
        except ValueError:
            return np.zeros(len(y), dtype=int)
        return (y.to_numpy(dtype=float) == t).astype(int)
    codes, uniques = pd.factorize(y, use_na_sentinel=True)
    hits = np.array([label_key(u) == target for u in uniques] + [False], dtype=bool)
    return hits[codes].astype(int)  # code -1 (missing) picks the trailing False


# ------------------------------------------------------------------ the check
def prepare_predictions(frame: pd.DataFrame, model: Model, rel: str, evaluation: bool
                        ) -> tuple[pd.DataFrame, list[str]]:
    """The table ready for analysis, and notes on what was normalised or left out.
    Raises RegistryError naming ``rel`` and the column when the table cannot be used."""
    name = model.name
    notes: list[str] = []
    n_read = len(frame)

    def fail(col: str, message: str):
        raise RegistryError(Problem(rel, col, message, model=name))

    dup = frame.columns[frame.columns.duplicated()]
    if len(dup):
        fail(str(dup[0]), "appears more than once as a column")
    if n_read == 0:
        fail("", "has no rows")
    frame = frame.reset_index(drop=True)
    drop = np.zeros(len(frame), dtype=bool)
    reasons: list[tuple[str, int]] = []

    def exclude(mask: np.ndarray, why: str):
        new = mask & ~drop
        if new.any():
            reasons.append((why, int(new.sum())))
            drop[:] |= mask

    if not evaluation:
        for col in (COL_TIME, COL_VERSION):
            if col not in frame.columns:
                fail(col, "required column is missing")
        times = _times(frame[COL_TIME], fail)
        if times.isna().all():
            fail(COL_TIME, "no row has a readable time (ISO 8601, e.g. 2026-03-01T12:00:00Z)")
        exclude(times.isna().to_numpy(), f"no readable {COL_TIME}")
        version = pd.to_numeric(frame[COL_VERSION], errors="coerce").to_numpy(dtype=float)
        whole = np.isfinite(version) & (np.mod(version, 1) == 0) & (np.abs(version) < 2**53)
        if not whole.any():
            fail(COL_VERSION, "must hold whole version numbers")
        exclude(~whole, f"no whole number in {COL_VERSION}")
        frame = frame.assign(**{COL_TIME: times,
                                COL_VERSION: np.where(whole, version, -1).astype(np.int64)})

    if COL_TRUE not in frame.columns:
        if evaluation:
            fail(COL_TRUE, "required column is missing")
        frame = frame.assign(**{COL_TRUE: np.full(len(frame), np.nan)})
    truth_missing = frame[COL_TRUE].isna().to_numpy()
    if evaluation:
        if truth_missing.all():
            fail(COL_TRUE, "no row has a true value")
        exclude(truth_missing, f"no {COL_TRUE}")

    if model.task == "binary":
        frame = _binary(frame, model, rel, fail, exclude, truth_missing, notes)
    elif model.task == "multiclass":
        frame = _multiclass(frame, fail, exclude)
    else:
        frame = _regression(frame, fail, exclude, evaluation)

    if drop.any():
        if drop.all():
            fail(reasons[0][0].split()[-1], "no row is usable: " + _reasons(reasons))
        frame = frame.loc[~drop].reset_index(drop=True)
        notes.append(f"{rel}: {int(drop.sum()):,} of {n_read:,} rows left out "
                     f"({_reasons(reasons)}).")
    frame, seg_notes = _segments(frame, rel)
    notes += seg_notes
    frame = _features(frame)
    if evaluation:
        notes += _thin_data_notes(frame, model, rel)
    return frame, notes


def _reasons(reasons: list[tuple[str, int]]) -> str:
    return "; ".join(f"{n:,} with {why}" for why, n in reasons)


def _numeric(frame: pd.DataFrame, col: str, fail, what: str) -> np.ndarray:
    s = frame[col]
    if pd.api.types.is_bool_dtype(s):
        return s.to_numpy(dtype=float)
    if not pd.api.types.is_numeric_dtype(s):
        parsed = pd.to_numeric(s, errors="coerce")
        if (parsed.isna() & s.notna()).any():
            bad = s[parsed.isna() & s.notna()].iloc[0]
            fail(col, f"must hold {what}; found {str(bad)[:40]!r}")
        s = parsed
    return s.to_numpy(dtype=float)


def _binary(frame, model, rel, fail, exclude, truth_missing, notes):
    if COL_SCORE not in frame.columns:
        fail(COL_SCORE, "required column is missing (probability of the positive class)")
    score = _numeric(frame, COL_SCORE, fail, "numbers between 0 and 1")
    finite = np.isfinite(score)
    exclude(~finite, f"a NaN or infinite {COL_SCORE}")
    if finite.any() and (score[finite].min() < 0 or score[finite].max() > 1):
        fail(COL_SCORE, "must hold probabilities between 0 and 1 "
                        f"(found {score[finite].min():.3g} to {score[finite].max():.3g})")
    check_binary_labels(pd.unique(frame.loc[~truth_missing, COL_TRUE]), model, fail)
    return frame.assign(**{COL_SCORE: score})


def check_binary_labels(labels, model: Model, fail) -> str:
    """The labels of a yes/no model's rows are two at most, one of them the positive class
    (``fail(column, message)`` raises otherwise); returns the positive class's key. One rule
    for tables read into pandas and for tables an engine checks (``row_checks``)."""
    keys = sorted({label_key(v) for v in labels})
    if len(keys) > 2:
        shown = ", ".join(repr(k) for k in keys[:5])
        fail(COL_TRUE, f"holds {len(keys)} different values ({shown}); a yes/no model needs "
                       "two")
    target = label_key(model.positive_label if model.positive_label is not None else 1)
    if len(keys) == 2 and target not in keys:
        if model.positive_label is None:
            fail(COL_TRUE, f"holds the labels {keys[0]!r} and {keys[1]!r}; name the one that "
                           "counts as positive in model.json's 'positive_label'")
        fail(COL_TRUE, f"holds the labels {keys[0]!r} and {keys[1]!r}, neither of which is "
                       f"model.json's positive_label {model.positive_label!r}")
    return target


def _multiclass(frame, fail, exclude):
    proba = [c for c in frame.columns if c.startswith(PROBA_PREFIX)]
    if COL_PRED not in frame.columns and not proba:
        fail(COL_PRED, f"required column is missing (or '{PROBA_PREFIX}<class>' columns)")
    if proba:
        values = {c: _numeric(frame, c, fail, "probabilities (numbers)") for c in proba}
        p = np.column_stack(list(values.values()))
        exclude(~np.isfinite(p).all(axis=1), "a NaN or infinite probability")
        exclude(np.isfinite(p).all(axis=1) & ((p < 0).any(axis=1) | (p.sum(axis=1) <= 0)),
                "negative probabilities or probabilities that sum to 0")
        frame = frame.assign(**values)
    if COL_PRED in frame.columns:
        exclude(frame[COL_PRED].isna().to_numpy(), f"no {COL_PRED}")
    return frame


def _regression(frame, fail, exclude, evaluation):
    if COL_PRED not in frame.columns:
        fail(COL_PRED, "required column is missing")
    pred = _numeric(frame, COL_PRED, fail, "numbers")
    truth = _numeric(frame, COL_TRUE, fail, "numbers")
    exclude(~np.isfinite(pred), f"a NaN or infinite {COL_PRED}")
    exclude(np.isinf(truth), f"an infinite {COL_TRUE}")
    return frame.assign(**{COL_PRED: pred, COL_TRUE: truth})


def _times(col: pd.Series, fail) -> pd.Series:
    """ISO 8601 times (or a table's own time type) as UTC nanosecond times; times that cannot
    be read, or lie outside 1678–2261 (what nanosecond times hold), become missing."""
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col) \
            and col.notna().any():
        fail(COL_TIME, "must hold ISO 8601 times (e.g. 2026-03-01T12:00:00Z), not numbers")
    if pd.api.types.is_datetime64_any_dtype(col):
        out = col
    else:
        text = col.astype("string")
        out = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    if getattr(out.dt, "tz", None) is None:
        out = out.dt.tz_localize("UTC")
    if out.dt.unit != "ns":
        lo, hi = pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC")
        out = out.where((out > lo) & (out < hi)).dt.as_unit("ns")
    return out


def _segments(frame: pd.DataFrame, rel: str) -> tuple[pd.DataFrame, list[str]]:
    """Segment columns as text groups, at most ``MAX_SEGMENT_GROUPS`` per column."""
    notes, changed = [], {}
    for col in [c for c in frame.columns if c.startswith(SEGMENT_PREFIX)]:
        s = frame[col]
        counts = s.value_counts(dropna=False)
        plain = (s.dtype == object or isinstance(s.dtype, pd.StringDtype)
                 or isinstance(s.dtype, pd.CategoricalDtype)) and not s.isna().any()
        if plain and len(counts) <= MAX_SEGMENT_GROUPS:
            continue
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
        text = np.array([_group_text(u) for u in uniques] + [MISSING], dtype=object)
        values = text[codes]
        if len(counts) > MAX_SEGMENT_GROUPS:
            keep = set(pd.Series(values).value_counts().index[:MAX_SEGMENT_GROUPS - 1])
            values = np.where(pd.Series(values).isin(keep).to_numpy(), values, OTHER)
            notes.append(f"{rel}: column '{col}' has {len(counts):,} different values; the "
                         f"{MAX_SEGMENT_GROUPS - 1} largest groups are shown and the rest "
                         f"are grouped as '{OTHER}'.")
        changed[col] = values
    return (frame.assign(**changed) if changed else frame), notes


def _group_text(v) -> str:
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)[:80]


def _features(frame: pd.DataFrame) -> pd.DataFrame:
    """Feature columns as numbers where they hold numbers, else as text."""
    changed = {}
    for col in [c for c in frame.columns if c.startswith(FEATURE_PREFIX)]:
        s = frame[col]
        if pd.api.types.is_bool_dtype(s):
            changed[col] = s.astype(float)
        elif pd.api.types.is_numeric_dtype(s):
            v = s.to_numpy(dtype=float)
            if not np.isfinite(v[~np.isnan(v)]).all():
                changed[col] = np.where(np.isinf(v), np.nan, v)
        elif not (s.dtype == object or isinstance(s.dtype, pd.StringDtype)
                  or isinstance(s.dtype, pd.CategoricalDtype)):
            changed[col] = s.astype(str)
    return frame.assign(**changed) if changed else frame


def _thin_data_notes(frame: pd.DataFrame, model: Model, rel: str) -> list[str]:
    n = len(frame)
    out = []
    if n < 30:
        out.append(f"{rel}: only {n} row{'s' if n != 1 else ''}, so every number is very "
                   "uncertain.")
    if model.task == "binary":
        y = positive_mask(frame[COL_TRUE], model.positive_label)
        if y.sum() in (0, n):
            which = "positive" if y.sum() == n else "negative"
            out.append(f"{rel}: every row is {which}, so ROC AUC, average precision and the "
                       "curves cannot be computed (they need both outcomes).")
    elif model.task == "multiclass" and frame[COL_TRUE].nunique() < 2:
        out.append(f"{rel}: every row has the same true class, so the per-class figures "
                   "say little.")
    elif model.task == "regression" and np.ptp(frame[COL_TRUE].to_numpy(float)) == 0:
        out.append(f"{rel}: every true value is the same, so R² cannot be computed.")
    return out
