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
