"""The experiments of the folder format as tables: ``runs.jsonl`` (one run a line) as the flat
runs table, and ``history`` as the metric-history table, each checked line by line — a bad
line costs that run, with a warning naming the line, never the experiment.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .base import Listing
from .model import Problem, RegistryError
from .schema import RunDoc, loads, parse

RUN_FIXED = ("run_id", "experiment", "name", "status", "start_time", "end_time")
MAX_RUN_LINE_BYTES = 2**20  # one line of runs.jsonl
MAX_RUNS_BYTES = 256 * 2**20  # all of runs.jsonl


def parse_runs(experiment: str, rel: str, data: bytes | None) -> Listing[pd.DataFrame]:
    """The runs of ``runs.jsonl`` (at ``rel``, holding ``data``; None: no file) as a table,
    and a warning for each line skipped or run id repeated."""
    rows, problems = [], []
    for n, line in enumerate((data or b"").split(b"\n"), start=1):
        if not line.strip():
            continue
        where = f"line {n}"
        if len(line) > MAX_RUN_LINE_BYTES:
            problems.append(Problem(rel, where, f"is longer than {MAX_RUN_LINE_BYTES:,} "
                                    "bytes; run skipped", severity="warning"))
            continue
        try:
            doc, warnings = parse(RunDoc, loads(line, rel, where=where), rel,
                                  field_prefix=f"{where}: ")
        except RegistryError as e:
            field = e.problem.field[len(where) + 2:] if e.problem.field.startswith(
                where + ": ") else ""
            problems.append(Problem(rel, where, (f"{field}: " if field else "") +
                                    f"{e.problem.message}; run skipped",
                                    severity="warning"))
            continue
        problems += warnings
        rows.append(_flatten_run(doc, experiment))
    frame = pd.DataFrame(rows)
    if frame.empty:
        frame = pd.DataFrame(columns=list(RUN_FIXED))
    for col in ("start_time", "end_time"):
        frame[col] = pd.to_datetime(frame[col], utc=True, errors="coerce")
    dup = frame["run_id"].duplicated(keep="first")
    for rid in frame.loc[dup, "run_id"]:
        problems.append(Problem(rel, "run_id", f"run {rid!r} appears more than once; "
                                "the first is kept", severity="warning"))
    frame = frame.loc[~dup].reset_index(drop=True)
    return Listing(frame, tuple(problems))


def _flatten_run(doc: RunDoc, experiment: str) -> dict:
    row = {"run_id": doc.run_id, "experiment": experiment, "name": doc.name,
           "status": doc.status, "start_time": doc.start_time, "end_time": doc.end_time}
    for group in ("params", "metrics", "tags"):
        for k, v in getattr(doc, group).items():
            row[f"{group}.{k}"] = v
    return row


def history_table(frame: pd.DataFrame, rel: str) -> pd.DataFrame:
    """A metric history table in its documented shape: run ids and keys as text, steps and
    values as numbers; rows whose step or value is not a finite number are left out."""
    missing = [c for c in ("run_id", "key", "step", "value") if c not in frame.columns]
    if missing:
        raise RegistryError(Problem(rel, missing[0], "required column is missing"))
    out = pd.DataFrame({
        "run_id": frame["run_id"].astype(str),
        "key": frame["key"].astype(str),
        "step": pd.to_numeric(frame["step"], errors="coerce"),
        "timestamp": pd.to_datetime(frame["timestamp"], utc=True, errors="coerce",
                                    format="mixed")
        if "timestamp" in frame.columns else pd.Series(pd.NaT, index=frame.index,
                                                       dtype="datetime64[ns, UTC]"),
        "value": pd.to_numeric(frame["value"], errors="coerce"),
    })
    finite = np.isfinite(out["step"].to_numpy(float)) & np.isfinite(out["value"].to_numpy(float))
    return out.loc[finite].reset_index(drop=True)
