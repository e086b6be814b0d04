"""Choosing runs to compare: a selection packed into a short link (``encode_runs`` /
``decode_runs``, ``selection_query``), the best runs by a metric, the chosen rows with labels,
a chart axis per column, and runs side by side (only the fields that differ)."""
from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .metrics import METRICS
from .run_table import MAX_COMPARE, RunsTable, cell_text, is_missing


# ------------------------------------------------------------------ selections
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]+$")
_PACKED = "~"


def encode_runs(run_ids) -> str:
    """A run selection as a URL value: the ids joined by commas when short and plain, else
    ``~`` + base64url(zlib(JSON list)). Needs no server storage, so it survives a restart."""
    ids = [str(r) for r in run_ids]
    plain = ",".join(ids)
    if len(plain) <= 300 and all(_SAFE_ID.match(r) for r in ids):
        return plain
    packed = zlib.compress(json.dumps(ids, separators=(",", ":")).encode(), 9)
    return _PACKED + base64.urlsafe_b64encode(packed).decode().rstrip("=")


def decode_runs(value: str | None) -> list[str]:
    """The run ids of ``encode_runs``; ValueError with a plain message for anything else."""
    if not value:
        return []
    if not isinstance(value, str):
        raise ValueError("the run list must be text")
    if value.startswith(_PACKED):
        raw = value[1:]
        try:
            data = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
            z = zlib.decompressobj()
            text = z.decompress(data, 8_000_000)
            if z.unconsumed_tail:
                raise ValueError("the run list is too long")
            ids = json.loads(text)
        except (binascii.Error, zlib.error, UnicodeDecodeError, json.JSONDecodeError):
            raise ValueError("the run list in the link is damaged") from None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ValueError("the run list in the link is damaged")
    else:
        ids = [r for r in value.split(",") if r]
    if len(ids) > MAX_COMPARE:
        raise ValueError(f"at most {MAX_COMPARE:,} runs can be compared at once "
                         f"(the link has {len(ids):,})")
    return list(dict.fromkeys(ids))


SHORT_RUNS = 300  # characters of run ids that stay in a link as they are


def selection_query(experiment: str, run_ids, store=None) -> dict:
    """The query of a link to these runs: their ids when short and plain (``runs=``), else
    the id of the selection stored in ModelDeck's own link store (``sel=``, see
    ``registry.links``), so that no request line grows with the number of runs."""
    from registry.links import link_store
    value = encode_runs(run_ids)
    if value.startswith(_PACKED) or len(value) > SHORT_RUNS:
        return {"experiment": experiment,
                "sel": (store or link_store()).save(experiment, [str(r) for r in run_ids])}
    return {"experiment": experiment, "runs": value}


LOWER_WORDS = ("loss", "error", "rmse", "mse", "mae", "mape", "brier", "time", "latency",
               "duration", "perplexity")


def lower_is_better(metric: str) -> bool:
    key = metric[len("metrics."):] if metric.startswith("metrics.") else metric
    info = METRICS.get(key)
    if info is not None:
        return not info.higher_is_better
    return any(w in key.lower() for w in LOWER_WORDS)


def top_runs(table: RunsTable, positions: np.ndarray, metric: str, n: int) -> list[str]:
    """Run ids of the ``n`` best runs by ``metric`` among ``positions`` (runs without it are
    left out); best means lowest for losses and errors."""
    if metric not in table.metrics:
        raise KeyError(metric)
    values = table.frame[metric].to_numpy(dtype=float)[positions]
    keep = positions[~np.isnan(values)]
    values = values[~np.isnan(values)]
    order = np.argsort(values if lower_is_better(metric) else -values, kind="stable")
    return table.frame["run_id"].to_numpy()[keep[order[:max(0, int(n))]]].tolist()


def selection(table: RunsTable, run_ids) -> tuple[pd.DataFrame, list[str]]:
    """The rows of the given runs, in the given order, and the ids that were not found."""
    ids = list(run_ids)
    f = table.frame
    found = f.loc[f["run_id"].isin(ids)]
    order = {r: i for i, r in enumerate(ids)}
    found = found.iloc[np.argsort(found["run_id"].map(order).to_numpy(), kind="stable")]
    present = set(found["run_id"])
    missing = [r for r in ids if r not in present]
    return found.reset_index(drop=True), missing


def run_labels(sub: pd.DataFrame) -> list[str]:
    """A short unique label per run: its name, or its id when names repeat or are empty."""
    names = sub["name"].fillna("").astype(str)
    dup = names.duplicated(keep=False) | (names == "")
    return [r if d else n for n, r, d in zip(names, sub["run_id"].astype(str), dup)]


# ------------------------------------------------------------------ axes of a chart
@dataclass(frozen=True)
class Axis:
    """One column as numbers for a chart; text columns become codes with their labels."""

    column: str
    label: str
    values: np.ndarray
    numeric: bool
    ticktext: tuple[str, ...] = ()  # text columns: the label of code 0, 1, ...


def axis(sub: pd.DataFrame, col: str) -> Axis:
    s = sub[col]
    label = short_name(col)
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return Axis(col, label, s.to_numpy(dtype=float, na_value=np.nan), True)
    text = s.map(lambda v: "(none)" if is_missing(v) else cell_text(v))
    cats = sorted(text.unique())
    codes = text.map({c: i for i, c in enumerate(cats)}).to_numpy(dtype=float)
    return Axis(col, label, codes, False, tuple(cats))


def short_name(col: str) -> str:
    for p in ("params.", "metrics.", "tags."):
        if col.startswith(p):
            return col[len(p):]
    return col


# ------------------------------------------------------------------ side by side
def side_by_side(sub: pd.DataFrame, params, metrics, tags, only_differences: bool = True,
                 max_runs: int = 20) -> tuple[pd.DataFrame, int]:
    """Fields as rows, runs as columns (their labels), values as text; with
    ``only_differences`` only the rows whose value is not the same in every run. Returns the
    table and how many fields are the same everywhere. At most ``max_runs`` runs."""
    sub = sub.iloc[:max_runs]
    labels = run_labels(sub)
    fields = ["status"] + list(params) + list(metrics) + list(tags)
    rows, same = [], 0
    for col in fields:
        if col not in sub.columns:
            continue
        values = [_cell(v, col) for v in sub[col]]
        differs = len(set(values)) > 1
        same += not differs
        if differs or not only_differences:
            rows.append([col, differs] + values)
    table = pd.DataFrame(rows, columns=["field", "differs"] + labels)
    return table, same


def _cell(v, col: str) -> str:
    if is_missing(v):
        return "—"
    if isinstance(v, float):
        return f"{v:.6g}" if col.startswith("metrics.") else cell_text(v)
    return cell_text(v)


