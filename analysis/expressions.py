"""A small, safe language for filtering runs, e.g.

    metrics.auc > 0.9 and params.max_depth <= 6 or tags.sweep == "random-search"

A hand-written tokenizer and recursive-descent parser turn the text into a tree of plain
objects, which is evaluated into a boolean mask over a runs table with pandas. Nothing the user
types is ever passed to Python's ``eval`` or turned into code, a file path or a regex.

Grammar (keywords are case-insensitive)::

    expression := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | "(" or ")" | comparison
    comparison := operand OP operand          -- at least one side names a column
    OP         := "==" | "=" | "!=" | "<>" | "<" | "<=" | ">" | ">=" | "contains"
    operand    := column | number | "quoted text" | 'quoted text' | true | false
    column     := name with dots (params.max_depth, metrics.auc, tags.sweep, name, status)
                  | `any name in back-quotes`

Meaning: a comparison with a number compares numbers (text like "6" in a column counts as 6);
with text it compares text; ``contains`` finds text anywhere, ignoring case. A column may be
written without its ``params.`` / ``metrics.`` / ``tags.`` prefix when only one column has that
name.

Missing values follow SQL's three-valued logic, the rule MLflow's own search applies to the
parts pushed down to it: a comparison with a missing value (a run without that param, metric
or tag, or a number column holding text) is *unknown*, never true, and ``not`` of an unknown is
unknown too, so ``not metrics.auc > 0.9`` and ``metrics.auc <= 0.9`` both leave out a run that
has no ``auc``, as ``metrics.auc != 0.9`` does. ``and`` is false when any side is false, ``or``
is true when any side is true; a run is shown only when the whole expression is true.

Why one file of ~640 lines: it is one language — the tokenizer, the parser, the evaluator and
the translation of its pushable part into MLflow's filter (``to_mlflow``) share the tree types
and the missing-value rule, and a change to the grammar must change all four together.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

MAX_LENGTH = 2000  # characters
MAX_DEPTH = 40  # nested parentheses / "not"
MAX_COMPARISONS = 100

OPERATORS = ("==", "=", "!=", "<>", "<=", ">=", "<", ">", "contains")
KEYWORDS = {"and", "or", "not", "true", "false", "contains"}
PREFIXES = ("params.", "metrics.", "tags.")


class ExpressionError(ValueError):
    """A filter expression that cannot be read; ``position`` is the 0-based character."""

    def __init__(self, message: str, position: int, text: str = ""):
        super().__init__(message)
        self.message = message
        self.position = position
        self.text = text

    def __str__(self) -> str:
        return f"{self.message} (at character {self.position + 1})"

    def pointer(self) -> str:
        """The expression with a caret under the offending character, for a message box."""
        return f"{self.text}\n{' ' * self.position}^"


# ------------------------------------------------------------------ tokens
@dataclass(frozen=True)
class Token:
    kind: str  # name | number | string | op | and | or | not | true | false | ( | ) | end
    value: object
    pos: int


_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?")
_DIGITS = tuple("0123456789")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-:/]*")


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the expression is too long ({len(text):,} characters; at most "
                              f"{MAX_LENGTH:,})", MAX_LENGTH, text[:MAX_LENGTH])
    out: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c in "()":
            out.append(Token(c, c, i))
            i += 1
            continue
        two = text[i:i + 2]
        if two in ("==", "!=", "<>", "<=", ">="):
            out.append(Token("op", "!=" if two == "<>" else two, i))
            i += 2
            continue
        if c in "<>=":
            out.append(Token("op", "==" if c == "=" else c, i))
            i += 1
            continue
        if c in "\"'":
            j, chars = i + 1, []
            while j < n and text[j] != c:
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                chars.append(text[j])
                j += 1
            if j >= n:
                raise ExpressionError(f"the text starting here has no closing {c}", i, text)
            out.append(Token("string", "".join(chars), i))
            i = j + 1
            continue
        if c == "`":
            j = text.find("`", i + 1)
            if j < 0:
                raise ExpressionError("the column name starting here has no closing `", i, text)
            if j == i + 1:
                raise ExpressionError("empty column name", i, text)
            out.append(Token("name", text[i + 1:j], i))
            i = j + 1
            continue
        if c in "+-0123456789" or (c == "." and text[i + 1:i + 2] in _DIGITS):
            start = i + 1 if c in "+-" else i
            m = _NUMBER.match(text, start)
            if m is None:
                raise ExpressionError(f"'{c}' must be followed by a number", i, text)
            value = float(m.group())
            out.append(Token("number", -value if c == "-" else value, i))
            i = m.end()
            if i < n and (text[i].isalpha() or text[i] == "_"):
                raise ExpressionError(f"unexpected '{text[i]}' after the number", i, text)
            continue
        m = _NAME.match(text, i)
        if m is not None:
            word = m.group()
            low = word.lower()
            if low in ("and", "or", "not", "true", "false"):
                out.append(Token(low, low, i))
            elif low == "contains":
                out.append(Token("op", "contains", i))
            else:
                out.append(Token("name", word, i))
            i = m.end()
            continue
        raise ExpressionError(f"unexpected character '{c}'", i, text)
    out.append(Token("end", None, n))
    return out


# ------------------------------------------------------------------ tree
@dataclass(frozen=True)
class Column:
    name: str
    pos: int


@dataclass(frozen=True)
class Literal:
    value: object  # float, str or bool
    pos: int


@dataclass(frozen=True)
class Compare:
    left: Column | Literal
    op: str
    right: Column | Literal
    pos: int


@dataclass(frozen=True)
class BoolOp:
    op: str  # and | or
    items: tuple


@dataclass(frozen=True)
class Not:
    item: object


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0
        self.comparisons = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def fail(self, message: str, tok: Token | None = None):
        tok = tok or self.peek()
        raise ExpressionError(message, tok.pos, self.text)

    def parse(self):
        if self.peek().kind == "end":
            self.fail("the expression is empty")
        node = self.or_()
        tok = self.peek()
        if tok.kind != "end":
            if tok.kind == ")":
                self.fail("this ')' has no matching '('")
            self.fail(f"expected 'and', 'or' or the end of the expression, found "
                      f"{_describe(tok)}")
        return node

    def or_(self):
        items = [self.and_()]
        while self.peek().kind == "or":
            self.take()
            items.append(self.and_())
        return items[0] if len(items) == 1 else BoolOp("or", tuple(items))

    def and_(self):
        items = [self.not_()]
        while self.peek().kind == "and":
            self.take()
            items.append(self.not_())
        return items[0] if len(items) == 1 else BoolOp("and", tuple(items))

    def not_(self):
        tok = self.peek()
        if tok.kind in ("not", "("):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                self.fail(f"the expression is nested too deeply (at most {MAX_DEPTH} levels)")
            self.take()
            if tok.kind == "not":
                node = Not(self.not_())
            else:
                node = self.or_()
                if self.peek().kind != ")":
                    self.fail(f"expected ')' to close the '(' at character {tok.pos + 1}, "
                              f"found {_describe(self.peek())}")
                self.take()
            self.depth -= 1
            return node
        return self.comparison()

    def operand(self):
        tok = self.take()
        if tok.kind == "name":
            return Column(tok.value, tok.pos)
        if tok.kind in ("number", "string"):
            return Literal(tok.value, tok.pos)
        if tok.kind in ("true", "false"):
            return Literal(tok.kind == "true", tok.pos)
        self.i -= 1
        self.fail(f"expected a column name or a value, found {_describe(tok)}")

    def comparison(self):
        left = self.operand()
        tok = self.peek()
        if tok.kind != "op":
            if isinstance(left, Column):
                self.fail(f"expected a comparison such as '>' or '==' after '{left.name}', "
                          f"found {_describe(tok)}")
            self.fail(f"expected a comparison such as '>' or '==', found {_describe(tok)}")
        self.take()
        right = self.operand()
        if not isinstance(left, Column) and not isinstance(right, Column):
            raise ExpressionError("a comparison needs a column on one side (e.g. "
                                  "metrics.auc > 0.9)", left.pos, self.text)
        self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            raise ExpressionError(f"too many comparisons (at most {MAX_COMPARISONS})",
                                  tok.pos, self.text)
        return Compare(left, tok.value, right, tok.pos)


def _describe(tok: Token) -> str:
    if tok.kind == "end":
        return "the end of the expression"
    if tok.kind == "string":
        return f'the text "{tok.value}"'
    if tok.kind == "number":
        return f"the number {tok.value:g}"
    return f"'{tok.value}'"


def parse(text: str):
    """The expression's tree; ExpressionError (with the position) when it cannot be read."""
    if not isinstance(text, str):
        raise ExpressionError("the expression must be text", 0, "")
    return _Parser(text).parse()


# ------------------------------------------------------------------ evaluation
def resolve_column(name: str, columns, pos: int = 0, text: str = "") -> str:
    """The table column ``name`` means: exact, or the only ``params./metrics./tags.`` column
    with that name."""
    cols = list(columns)
    if name in cols:
        return name
    candidates = [p + name for p in PREFIXES if p + name in cols]
    if len(candidates) == 1:
        return candidates[0]
    if len(candidates) > 1:
        raise ExpressionError(f"'{name}' is ambiguous: write one of {', '.join(candidates)}",
                              pos, text)
    close = difflib.get_close_matches(name, cols, n=1, cutoff=0.75)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    raise ExpressionError(f"unknown column '{name}'{hint}", pos, text)


def columns_used(text: str, columns) -> list[str]:
    """The table columns an expression refers to (after resolving short names)."""
    tree = parse(text)
    out: list[str] = []

    def walk(node):
        if isinstance(node, Compare):
            for side in (node.left, node.right):
                if isinstance(side, Column):
                    col = resolve_column(side.name, columns, side.pos, text)
                    if col not in out:
                        out.append(col)
        elif isinstance(node, BoolOp):
            for item in node.items:
                walk(item)
        elif isinstance(node, Not):
            walk(node.item)

    walk(tree)
    return out


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
        as_number = _to_float(value)
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


def _to_float(s: str) -> float | None:
    try:
        v = float(s)
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) else None


# ------------------------------------------------------------------ MLflow's filter syntax
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
        number = value if isinstance(value, float) else _to_float(value)
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


def unparse(node) -> str:
    """Expression text for a tree (``parse(unparse(t))`` gives ``t`` back up to positions)."""
    if isinstance(node, BoolOp):
        return f" {node.op} ".join(f"({unparse(i)})" if isinstance(i, BoolOp) else unparse(i)
                                    for i in node.items)
    if isinstance(node, Not):
        return f"not ({unparse(node.item)})"
    return f"{_operand(node.left)} {node.op} {_operand(node.right)}"


def _operand(x) -> str:
    if isinstance(x, Column):
        return f"`{x.name}`"
    if isinstance(x.value, bool):
        return "true" if x.value else "false"
    if isinstance(x.value, float):
        return repr(x.value)
    return '"' + x.value.replace("\\", "\\\\").replace('"', '\\"') + '"'
