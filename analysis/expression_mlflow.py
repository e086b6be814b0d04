"""What MLflow's own search can do of a filter expression (``analysis.expressions``), in
MLflow's filter syntax; the rest stays as an expression evaluated on the rows MLflow returns
(``analysis.expression_eval``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .expressions import BoolOp, Column, Compare, parse, resolve_column, to_float, unparse


@dataclass(frozen=True)
class Pushdown:
    """An expression split for MLflow: ``filter_string`` in MLflow's search syntax (empty when
    no part translates) and ``residual``, the rest in this module's syntax (empty when all of
    it translates), to be evaluated on the rows MLflow returns. MLflow, like ``evaluate``,
    never matches a comparison on a run without that metric, param or tag, and ``not`` (the
    one operator that could turn that around) is never translated, so both together select
    the rows ``evaluate`` selects, but for one case: MLflow compares a NaN or infinite metric
    as a number where ModelDeck's table has no value, so its rows can hold a few more; a
    caller checks the whole expression again on them (``analysis.experiments`` does)."""

    filter_string: str
    residual: str

    @property
    def complete(self) -> bool:
        return not self.residual


# ModelDeck column -> MLflow attribute, and the comparisons MLflow can do on it
_ATTRIBUTES = {"name": ("run_name", ("==", "!=", "contains")),
               "status": ("status", ("==", "!=")),
               "run_id": ("run_id", ("==", "!="))}
_MIRROR = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}
_SAFE_KEY = re.compile(r"^[A-Za-z0-9_]+$")


def to_mlflow(text: str, columns, numeric=()) -> Pushdown:
    """Translate what MLflow can do of ``text`` into its filter syntax.

    MLflow's search joins comparisons with AND only, so an expression splits at its top-level
    ``and``: each part that translates goes to MLflow, the others stay as ``residual``.
    ``columns`` resolves short names; ``numeric`` names the columns holding numbers (a text
    comparison on them is a number comparison here, which MLflow cannot do on params).

    What translates: ``metrics.k`` compared with a number (==, !=, <, <=, >, >=); a text
    ``params.k`` or ``tags.k`` compared with quoted text by == or != or ``contains`` (ILIKE);
    ``name`` (==, !=, contains), ``status`` and ``run_id`` (==, !=). What does not: ``or``,
    ``not``, two columns compared, true/false, numbers on params or tags (MLflow compares
    their text), text containing ' or \\, and ``contains`` text with % or _ (LIKE's wildcards).
    """
    if text is None or not str(text).strip():
        return Pushdown("", "")
    tree = parse(text)
    parts = list(_conjuncts(tree))
    pushed, kept = [], []
    for node in parts:
        clause = _clause(node, list(columns), set(numeric), text)
        (pushed if clause else kept).append(clause or node)
    return Pushdown(" and ".join(pushed), " and ".join(unparse(n) for n in kept))


def _conjuncts(node):
    if isinstance(node, BoolOp) and node.op == "and":
        for item in node.items:
            yield from _conjuncts(item)
    else:
        yield node


def _clause(node, columns: list, numeric: set, text: str) -> str | None:
    if not isinstance(node, Compare):
        return None
    left, op, right = node.left, node.op, node.right
    if not isinstance(left, Column):
        if op == "contains":
            return None
        left, right, op = right, left, _MIRROR.get(op, op)
    if not isinstance(left, Column) or isinstance(right, Column):
        return None
    col = resolve_column(left.name, columns, left.pos, text)
    if "`" in col:  # cannot be quoted in MLflow's syntax
        return None
    value = right.value
    if isinstance(value, bool):
        return None
    if col.startswith("metrics."):
        number = value if isinstance(value, float) else to_float(value)
        if number is None or op == "contains" or not np.isfinite(number):
            return None
        return f"metrics.{_key(col[8:])} {'=' if op == '==' else op} {_number(number)}"
    if isinstance(value, float) or _unsafe(value):
        return None
    if col.startswith(("params.", "tags.")):
        if col in numeric or op not in ("==", "!=", "contains"):
            return None
        kind, key = col.split(".", 1)
        return _text_clause(f"{kind}.{_key(key)}", op, value)
    if col in _ATTRIBUTES:
        attr, ops = _ATTRIBUTES[col]
        return _text_clause(f"attributes.{attr}", op, value) if op in ops else None
    return None


def _text_clause(field: str, op: str, value: str) -> str | None:
    if op == "contains":
        if any(c in value for c in "%_"):
            return None
        return f"{field} ILIKE '%{value}%'"
    return f"{field} {'=' if op == '==' else op} '{value}'"


def _key(key: str) -> str:
    if _SAFE_KEY.match(key):
        return key
    return f"`{key}`"


def _unsafe(value) -> bool:
    return not isinstance(value, str) or "'" in value or "\\" in value


def _number(v: float) -> str:
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else repr(float(v))
