"""Reaching MLflow: its client (or how to install it), the tracking URI, HTTP settings that
fail fast, where ModelDeck's tags and artifacts live in a run (docs/mlflow.md), and MLflow's
failures turned into a Problem that names the URI and what to check.

Shared by the MLflow source (``registry.mlflow_source`` and its parts), the writer
(``registry.mlflow_log``) and the evaluator plug-in.
"""
from __future__ import annotations

from pathlib import Path

from .model import Problem, RegistryError
from .naming import display_name, redact

#: tag prefix of ModelDeck's settings on registered models, versions and runs
PREFIX = "modeldeck."
BUSINESS_PREFIX = PREFIX + "business."
#: artifact paths inside a run (docs/mlflow.md)
EVALUATION_DIR = "modeldeck/evaluation"
MONITORING_PATH = "modeldeck/monitoring.parquet"
MONITORING_RUN_TAG = PREFIX + "monitoring_run"
#: a model version's tag naming its "test" rows in an engine: "<connection>:<table>"
EVALUATION_TABLE_TAG = PREFIX + "evaluation_table"
HIDDEN_TAG = PREFIX + "hidden"  # experiments ModelDeck keeps for itself (monitoring runs)
NOTE_TAG = "mlflow.note.content"  # MLflow's own description tag of experiments and runs
STAGES = {"production": "Production", "staging": "Staging", "archived": "Archived"}
INSTALL_HINT = 'pip install -e ".[mlflow]"'

# MLflow's HTTP client retries for minutes by default; a dashboard should say at once that the
# server is away and try again on the next view. The user's own settings win.
HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
                 "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "0",
                 "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0",
                 "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
PAGE = 1000  # results per request when a whole listing is needed


def version_where(model: str, version) -> str:
    """How messages name a model version of an MLflow registry."""
    return f"registered model '{model}' version {int(version)}"


def evaluation_table_of(tags) -> tuple[str, str] | None:
    """The (connection, table) a model version's tag ``modeldeck.evaluation_table`` names
    (``"<connection>:<table>"``, docs/mlflow.md), or None without the tag; ValueError saying
    what is wrong with a malformed value."""
    raw = (tags or {}).get(EVALUATION_TABLE_TAG)
    if raw in (None, ""):
        return None
    from .rows import table_tag
    return table_tag(raw)


def import_mlflow():
    """``mlflow`` and its client, or a RegistryError that says how to install them."""
    try:
        import mlflow  # noqa: F401
        from mlflow import MlflowClient
    except ImportError as e:
        raise RegistryError(Problem(path="mlflow", field="", message=(
            f"reading an MLflow registry needs the MLflow client, which is not installed "
            f"({e.name or 'mlflow'} is missing); install it with: {INSTALL_HINT}"))) from None
    return MlflowClient


def _import_sql_store() -> None:
    try:
        import mlflow.store.tracking.sqlalchemy_store  # noqa: F401
    except Exception:  # noqa: BLE001 - the first real read reports any problem
        pass


def tracking_uri_of(uri: str) -> str:
    """The URI MLflow's client expects: a bare ``mlruns`` path becomes a ``file:`` URI."""
    if uri.startswith(("http://", "https://", "sqlite:", "postgresql", "mysql", "mssql",
                       "databricks", "file:")):
        return uri
    return Path(uri).expanduser().resolve().as_uri()


def explain(uri: str, error: Exception, what: str = "") -> Problem:
    """A Problem that names the URI and says what to check, from one of MLflow's errors."""
    text = str(error)
    low = text.lower()
    code = getattr(error, "error_code", "") or ""
    doing = f" while {what}" if what else ""
    if isinstance(error, ImportError):
        return Problem(path=display_name(uri), field="", message=(
            f"the Python package {error.name or 'for this database'} is missing{doing}; "
            "install the database driver MLflow needs for this URI (for example "
            "psycopg2-binary for postgresql://, pymysql for mysql://)"))
    if any(s in low for s in ("connection refused", "failed to establish", "name or service",
                              "max retries exceeded", "timed out", "timeout",
                              "connection aborted", "remotedisconnected", "connection reset",
                              "temporary failure in name resolution", "nodename nor servname")):
        msg = ("cannot reach the MLflow server" + doing + ". Check that the tracking server "
               "is running and that the address and port are right; ModelDeck tries again on "
               "the next page view")
    elif code in ("PERMISSION_DENIED", "UNAUTHENTICATED") or any(
            s in low for s in ("403", "401", "permission denied", "unauthorized", "forbidden")):
        msg = ("the MLflow server refused access" + doing + ". Check the credentials "
               "(MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and "
               "MLFLOW_TRACKING_PASSWORD) and that this user may read the experiments and "
               "registered models")
    elif code == "ENDPOINT_NOT_FOUND" or "404" in low or ("not found" in low and "api" in low) \
            or "expecting value" in low or "jsondecodeerror" in low:
        msg = ("something answers at this address, but not an MLflow tracking server" + doing
               + ". Check the URI (scheme, host, port and path prefix)")
    elif any(s in low for s in ("unable to open database", "no such table", "out-of-date",
                                "operationalerror", "database schema")):
        msg = ("the MLflow database cannot be read" + doing + f" ({_short(text)}). Check the "
               "path and that the database was made by a compatible MLflow version")
    else:
        msg = f"MLflow could not answer{doing}: {_short(text)}"
    return Problem(path=display_name(uri), field="", message=redact(msg, uri))


def _short(text: str, n: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n - 1] + "…"


def _not_found(e: Exception) -> bool:
    return getattr(e, "error_code", "") == "RESOURCE_DOES_NOT_EXIST"
