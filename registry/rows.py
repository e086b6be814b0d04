"""Prediction rows where they lie: a table an engine reads, never a frame held in memory.

``Rows`` is one model's evaluation or production rows as an Ibis table expression over an
engine, with its columns already put in the documented shape (docs/registry-format.md,
"Prediction tables"), the notes saying what was left out, and a ``where`` naming the file or
table for messages. ``analysis.queries`` asks it for summaries (counts, sums, a sample); the
rows themselves stay in the engine.

Engines:

* **DuckDB, in process** (the default): a Parquet file, or a folder of Parquet parts (any
  depth, hive-style ``month=2026-01/`` folders allowed), read in place; a query reads only the
  columns and row groups it needs.
* **An external engine through Ibis** (Spark, Trino, BigQuery, Snowflake…): a registry names
  a table and a connection (``model.json``: ``"production_table": {"connection": "spark",
  "table": "db.churn_predictions"}``); the connection is set up by whoever runs ModelDeck
  (``register_connection`` or ``MODELDECK_CONNECTION_<NAME>`` = an Ibis URL), never by the
  registry.
* A table already read into pandas (``Rows.from_frame``: small tables, CSV files, MLflow
  artifacts), queried by the same in-process DuckDB, so one query code serves every size.

The checks (``registry.row_checks``) are those of ``registry.tables.prepare_predictions``
for typed tables, answered by the engine: a missing column, a wrong type or an unreachable
connection raises RegistryError naming the table and the column or the connection.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from .model import FEATURE_PREFIX, Problem, RegistryError

#: a derived column: 1.0 when the row's true class is the model's positive class, 0.0 when
#: not, null without a label (binary models)
COL_POS = "y_pos"
#: the column name of the window a row falls in (analysis.queries)
COL_WINDOW = "window"
#: a checked table's copy of its "month" partition (``Rows.months``)
COL_MONTH = "__month"
#: a checked Parquet table's row positions in their files (``Rows.row_numbers``,
#: ``Rows.positions``)
COL_ROW = "__row"
#: a checked Parquet production table's file of each row (``Rows.positions``)
COL_FILE = "__file"

_lock = threading.Lock()
_connections: dict[str, Any] = {}
_factories: dict[str, Callable[[], Any]] = {}


# ------------------------------------------------------------------ connections
def register_connection(name: str, backend_or_factory) -> None:
    """Make a connection known by ``name``: an Ibis backend (``ibis.pyspark.connect(spark)``)
    or a function returning one, called on first use."""
    with _lock:
        _connections.pop(name, None)
        if callable(backend_or_factory) and not hasattr(backend_or_factory, "table"):
            _factories[name] = backend_or_factory
        else:
            _connections[name] = backend_or_factory


def connection(name: str, where: str = "", model: str | None = None,
               field_name: str = "connection"):
    """The Ibis backend called ``name``: one registered in this process, else the Ibis URL in
    ``MODELDECK_CONNECTION_<NAME>`` (e.g. ``trino://user@host:8080/hive/default``), or, for
    ``spark``, a SparkSession built from ``MODELDECK_SPARK_MASTER`` (docs/mlflow.md).
    RegistryError naming the connection when it cannot be opened."""
    with _lock:
        if name in _connections:
            return _connections[name]
        factory = _factories.get(name)
    env = "MODELDECK_CONNECTION_" + "".join(c if c.isalnum() else "_" for c in name).upper()
    try:
        if factory is not None:
            backend = factory()
        elif name == "duckdb":
            backend = _duckdb()
        elif os.environ.get(env):
            import ibis
            backend = ibis.connect(os.environ[env])
        elif name == "spark" and os.environ.get("MODELDECK_SPARK_MASTER"):
            backend = _spark(os.environ["MODELDECK_SPARK_MASTER"])
        else:
            raise RegistryError(Problem(where, field_name, f"names the connection {name!r}, "
                                        f"which is not set up: set {env} to its address "
                                        "(docs/registry-format.md, \"Rows in an engine\")",
                                        model=model))
    except RegistryError:
        raise
    except Exception as e:  # every engine has its own errors for a refused connection
        raise RegistryError(Problem(where, field_name, f"cannot open the connection {name!r} "
                                    f"({type(e).__name__}: {str(e)[:300]})",
                                    model=model)) from None
    with _lock:
        _connections[name] = backend
    return backend


def _duckdb():
    import ibis
    threads = os.environ.get("MODELDECK_DUCKDB_THREADS")
    memory = os.environ.get("MODELDECK_DUCKDB_MEMORY", "512MB")
    config = {"memory_limit": memory}
    if threads:
        config["threads"] = int(threads)
    con = ibis.duckdb.connect(**config)
    con.raw_sql("SET TimeZone = 'UTC'")  # windows are cut in UTC, as analysis.monitoring does
    return con


def _spark(master: str):
    import ibis
    from pyspark.sql import SparkSession
    if master.startswith("sc://"):  # Spark Connect
        session = SparkSession.builder.remote(master).getOrCreate()
    else:
        session = (SparkSession.builder.master(master).appName("modeldeck")
                   .config("spark.sql.session.timeZone", "UTC").getOrCreate())
    return ibis.pyspark.connect(session)


_threads = threading.local()


def load_engine() -> None:
    """Import Ibis and its DuckDB backend (about 0.7 s), so that a server pays it when it
    starts rather than on the first page that queries rows; no connection is opened."""
    import ibis
    import ibis.backends.duckdb  # noqa: F401
    ibis.duckdb  # noqa: B018 - resolves the backend entry point once


def duckdb():
    """The in-process DuckDB of this thread (a DuckDB connection must not run two queries
    from two threads at once; each request thread gets its own)."""
    backend = getattr(_threads, "duckdb", None)
    if backend is None:
        with _lock:
            registered = "duckdb" in _connections or "duckdb" in _factories
        backend = connection("duckdb") if registered else _duckdb()
        _threads.duckdb = backend
    return backend


#: day numbers count whole UTC days from 0001-01-01 (``date.toordinal() - 1``), so that they
#: are positive for any time an engine stores and an integer division is the floor
_DAY_US = 86_400_000_000
_SHIFT_US = 62_135_596_800_000_000  # 0001-01-01 to 1970-01-01, in microseconds


def day_number(backend, ts):
    """The UTC day of each time of ``ts`` (an Ibis timestamp column), as days since
    0001-01-01: on DuckDB two integer operations on the stored microseconds (the engine's own
    functions; quicker than any calendar arithmetic), elsewhere Ibis's epoch seconds."""
    if getattr(backend or duckdb(), "name", "") == "duckdb":
        from .engine_functions import divide, epoch_us
        return divide(epoch_us(ts) + _SHIFT_US, _DAY_US)
    return ((ts.epoch_seconds() + _SHIFT_US // 1_000_000) // 86_400).cast("int64")


def table_tag(text: str) -> tuple[str, str]:
    """``"<connection>:<table>"`` (an MLflow tag naming an external table) as (connection,
    table), checked as ``registry.schema.TableDoc`` checks model.json's
    ``production_table``; ValueError saying what is wrong."""
    from .schema import TableDoc
    connection_name, sep, table = str(text).partition(":")
    if not sep:
        raise ValueError("must be '<connection>:<table>', e.g. 'spark:db.predictions'")
    try:
        doc = TableDoc(connection=connection_name.strip(), table=table.strip())
    except Exception:
        raise ValueError("must be '<connection>:<table>' with letters, digits, '_', '.' and "
                         "'-' only, e.g. 'spark:db.predictions'") from None
    return doc.connection, doc.table


# ------------------------------------------------------------------ rows
@dataclass(frozen=True)
class Rows:
    """One table of prediction rows in an engine, in the documented shape."""

    table: Any  # ibis.Table
    where: str  # the file (relative to the registry) or "connection:table", for messages
    model: str
    evaluation: bool
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: numeric feature columns (the others are text)
    numeric: frozenset = frozenset()
    #: the engine that runs the queries (None: this thread's DuckDB, for tables in memory)
    backend: Any = None
    #: the rows were read into this process (a small table), not queried where they lie
    in_memory: bool = False
    #: production rows counted per version and UTC day by the pass that checked them
    #: (version, day, rows, labelled, first, last), so that a view's first screen needs no
    #: pass of its own for them (``analysis.queries.day_counts``); None: not counted
    days: Any = None
    #: ``days`` counts the rows per month, not per day (month partitions, ``check``): each
    #: month stands as its first day, its first and last times only on a version's first and
    #: last month; right for monthly windows only (``analysis.queries.day_counts``)
    days_monthly: bool = False
    #: a column holding each row's UTC month as text, "YYYY-MM" (a hive partition such as
    #: ``month=2026-01`` that the same pass found true of every row kept): monthly windows
    #: are numbered from it, which is cheaper than from each row's time; None: not known
    months: str | None = None
    #: each month folder holds many rows (``registry.row_checks.STACK_MIN_ROWS``): a summary
    #: per monthly window is one aggregate per folder, stacked (``analysis.queries.windowed``)
    stack_months: bool = False
    #: a column holding each row's position in its file (one Parquet file, read in place), by
    #: which two versions' evaluation rows are paired; None: the rows have no order to pair
    row_numbers: str | None = None
    #: columns that together place each row in the Parquet files read in place (its file and
    #: its position there): samples keep rows by a hash of them, so that they draw the same
    #: rows on every run; () when the rows have no such place (an external engine's table:
    #: its own random numbers, not seeded)
    positions: tuple[str, ...] = ()

    @property
    def columns(self) -> list[str]:
        return list(self.table.columns)

    def has(self, col: str) -> bool:
        return col in self.table.columns

    def execute(self, expr):
        """Run ``expr`` (built on ``self.table``) and return pandas; an engine error is a
        RegistryError naming the table."""
        return self._run(expr, "execute")

    def arrays(self, expr) -> dict:
        """``execute`` as numpy arrays, one per column (no pandas frame: quicker for the
        summaries of hundreds of thousands of rows, such as counts per distinct score)."""
        table = self._run(expr, "to_pyarrow")
        return {name: table.column(name).to_numpy() for name in table.column_names}

    def _run(self, expr, how: str):
        try:
            return getattr(self.backend or duckdb(), how)(expr)
        except RegistryError:
            raise
        except Exception as e:
            raise RegistryError(Problem(self.where, "", f"the query failed "
                                        f"({type(e).__name__}: {str(e)[:300]})",
                                        model=self.model)) from None

    @classmethod
    def from_frame(cls, frame, model: str, where: str, evaluation: bool,
                   notes=()) -> "Rows":
        """A frame already checked by ``prepare_predictions``, queried in process."""
        import ibis
        import pandas as pd
        frame = frame.copy(deep=False)
        for c in frame.columns:  # text columns as plain strings for the engine
            if isinstance(frame[c].dtype, pd.CategoricalDtype):
                frame[c] = frame[c].astype(object).where(frame[c].notna(), None)
            elif pd.api.types.is_datetime64_any_dtype(frame[c]):
                # engines keep microseconds; window starts are whole microseconds, so
                # rounding down never moves a time into another window
                frame[c] = frame[c].dt.floor("us").dt.as_unit("us")
        numeric = frozenset(c for c in frame.columns if c.startswith(FEATURE_PREFIX)
                            and pd.api.types.is_numeric_dtype(frame[c]))
        return cls(ibis.memtable(frame), where, model, evaluation, tuple(notes), numeric,
                   in_memory=True)
