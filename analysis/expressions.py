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

Evaluating a tree over a runs table (with the rule for missing values) is
``analysis.expression_eval``; translating what MLflow's search can do of it into MLflow's
filter syntax is ``analysis.expression_mlflow``. A change to the grammar changes the tree
types here, and then both of them.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import numpy as np

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



# ------------------------------------------------------------------ columns
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



# ------------------------------------------------------------------ back to text
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


def to_float(s: str) -> float | None:
    """The finite number a text reads as, or None ("6" -> 6.0; "inf", "x" -> None)."""
    try:
        v = float(s)
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) else None
