"""DuckDB's own scalar functions as Ibis expressions, for the queries that run often enough to
want them (``analysis.queries.day_number``); imported when such a query is built. No
``from __future__ import annotations`` here: Ibis reads these annotations as types."""
import ibis
import ibis.expr.datatypes as dt

UTC_TIME = dt.Timestamp(timezone="UTC")


@ibis.udf.scalar.builtin
def epoch_us(x: UTC_TIME) -> dt.int64:
    """Microseconds since 1970-01-01 UTC."""


@ibis.udf.scalar.builtin
def divide(x: dt.int64, y: dt.int64) -> dt.int64:
    """Integer division (the floor, for positive numbers)."""


@ibis.udf.scalar.builtin(name="hash")
def hash_text(x: dt.string) -> dt.uint64:
    """DuckDB's 64-bit hash of a text (Ibis's own ``hash`` passes it through a bit string to
    make it signed: seconds on 100M rows)."""


@ibis.udf.scalar.builtin(name="hash")
def hash_number(x: dt.int64) -> dt.uint64:
    """DuckDB's 64-bit hash of a whole number."""
