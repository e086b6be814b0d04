"""A filter expression (``analysis.expressions``) evaluated over a runs table: a boolean mask
of the rows for which it is true, computed with pandas and numpy. Nothing the user typed is
run as code.

Missing values follow SQL's three-valued logic, the rule MLflow's own search applies to the
parts pushed down to it: a comparison with a missing value (a run without that param, metric
or tag, or a number column holding text) is *unknown*, never true, and ``not`` of an unknown is
unknown too, so ``not metrics.auc > 0.9`` and ``metrics.auc <= 0.9`` both leave out a run that
has no ``auc``, as ``metrics.auc != 0.9`` does. ``and`` is false when any side is false, ``or``
is true when any side is true; a run is shown only when the whole expression is true.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .expressions import (
    BoolOp, Column, Compare, ExpressionError, Not, parse, resolve_column, to_float,
)


def evaluate(text: str, frame: pd.DataFrame) -> np.ndarray:
    """Boolean mask of the rows of ``frame`` for which the expression is true (empty text:
    all); a row where it is unknown (a missing value decides it) is left out."""
    if text is None or not str(text).strip():
        return np.ones(len(frame), dtype=bool)
    tree = parse(text)
    return _Evaluator(text, frame).run(tree).true


@dataclass(frozen=True)
class Truth:
    """Three-valued result per row: ``true`` where the expression holds, ``known`` where a
    missing value does not decide it (true or false); unknown = ~known."""

    true: np.ndarray
    known: np.ndarray

    @property
    def false(self) -> np.ndarray:
        return self.known & ~self.true


def _truth(result, known) -> Truth:
    known = np.asarray(known, dtype=bool)
    return Truth(np.asarray(result, dtype=bool) & known, known)


class _Evaluator:
    def __init__(self, text: str, frame: pd.DataFrame):
        self.text = text
        self.frame = frame
        self.numbers: dict[str, np.ndarray] = {}
        self.texts: dict[str, np.ndarray] = {}

    def run(self, node) -> Truth:
        if isinstance(node, BoolOp):
            parts = [self.run(item) for item in node.items]
            trues = np.logical_and.reduce([p.true for p in parts])
            falses = np.logical_and.reduce([p.false for p in parts])
            if node.op == "and":  # false if any side is false, true if all are
                false = np.logical_or.reduce([p.false for p in parts])
                return Truth(trues, trues | false)
            true = np.logical_or.reduce([p.true for p in parts])  # or: true if any is
            return Truth(true, true | falses)
        if isinstance(node, Not):  # not unknown is unknown
            inner = self.run(node.item)
            return Truth(inner.false, inner.known)
        return self.compare(node)

    # column views, computed once per evaluation
    def column(self, ref: Column) -> str:
        return resolve_column(ref.name, self.frame.columns, ref.pos, self.text)

    def number(self, col: str) -> np.ndarray:
        if col not in self.numbers:
            s = self.frame[col]
            if pd.api.types.is_bool_dtype(s):
                values = np.full(len(s), np.nan)
            elif pd.api.types.is_numeric_dtype(s):
                values = s.to_numpy(dtype=float, na_value=np.nan)
            else:
                values = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            self.numbers[col] = values
        return self.numbers[col]

    def text_of(self, col: str) -> np.ndarray:
        if col not in self.texts:
            s = self.frame[col]
            missing = s.isna().to_numpy()
            if pd.api.types.is_datetime64_any_dtype(s):
                t = s.dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy(dtype=object)
            else:
                t = s.map(_as_text).to_numpy(dtype=object)
            t[missing] = None
            self.texts[col] = t
        return self.texts[col]

    def is_numeric(self, col: str) -> bool:
        s = self.frame[col]
        return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)

    def compare(self, node: Compare) -> Truth:
        left, op, right = node.left, node.op, node.right
        if not isinstance(left, Column):  # literal on the left: mirror the comparison
            left, right = right, left
            op = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(op, op)
            if op == "contains":
                raise ExpressionError("'contains' needs the column on its left (e.g. "
                                      "tags.note contains \"baseline\")", node.pos, self.text)
        col = self.column(left)
        if isinstance(right, Column):
            other = self.column(right)
            if self.is_numeric(col) and self.is_numeric(other) and op != "contains":
                return _ordered(self.number(col), op, self.number(other))
            return self.text_compare(self.text_of(col), op, self.text_of(other), node)
        value = right.value
        if isinstance(value, bool):
            if op not in ("==", "!="):
                raise ExpressionError("true and false can only be compared with == or !=",
                                      node.pos, self.text)
            t = self.text_of(col)
            word = "true" if value else "false"
            known = np.array([v is not None for v in t])
            eq = np.array([v is not None and v.lower() == word for v in t])
            return _truth(eq if op == "==" else ~eq, known)
        if op == "contains":
            return self.text_compare(self.text_of(col), op, str(value if not isinstance(
                value, float) else _as_text(value)), node)
        if isinstance(value, float):
            return _ordered(self.number(col), op, value)
        # text literal: numbers compare as numbers when both sides are numbers
        as_number = to_float(value)
        if as_number is not None and self.is_numeric(col):
            return _ordered(self.number(col), op, as_number)
        return self.text_compare(self.text_of(col), op, value, node)

    def text_compare(self, left: np.ndarray, op: str, right, node: Compare) -> Truth:
        lv = pd.Series(left, dtype=object)
        known = lv.notna().to_numpy()
        if isinstance(right, np.ndarray):
            rv = pd.Series(right, dtype=object)
            known &= rv.notna().to_numpy()
            rv = rv.fillna("")
        else:
            rv = right
        lv = lv.fillna("")
        if op == "contains":
            if isinstance(rv, pd.Series):
                raise ExpressionError("'contains' needs a quoted text on its right",
                                      node.pos, self.text)
            found = lv.str.lower().str.contains(str(rv).lower(), regex=False).to_numpy()
            return _truth(found, known)
        result = {"==": lambda: lv == rv, "!=": lambda: lv != rv, "<": lambda: lv < rv,
                  "<=": lambda: lv <= rv, ">": lambda: lv > rv, ">=": lambda: lv >= rv}[op]()
        return _truth(result, known)


def _ordered(x: np.ndarray, op: str, y) -> Truth:
    if op == "contains":
        raise ValueError("contains is a text comparison")
    with np.errstate(invalid="ignore"):
        out = {"==": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal,
               ">": np.greater, ">=": np.greater_equal}[op](x, y)
    known = ~np.isnan(x)
    if isinstance(y, np.ndarray):
        known &= ~np.isnan(y)
    return _truth(out, known)


def _as_text(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)
