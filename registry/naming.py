"""How a registry is named to the people who look at it.

Pages, banners and reports name the registry by :func:`display_name` — a folder's name, an
MLflow server's address without credentials, a database file's name — never by the absolute
path on the server: viewers of a shared ModelDeck learn nothing about its file system. The full
path or URI goes to the server's log only.
"""
from __future__ import annotations

import re
from pathlib import PurePath
from urllib.parse import urlsplit, urlunsplit

_SQLITE = "sqlite:///"


def display_name(uri: str | None) -> str:
    """The registry's name for viewers.

    >>> display_name("/srv/data/team-registry")
    'team-registry'
    >>> display_name("https://alice:secret@mlflow.internal:5000/prefix?x=1")
    'https://mlflow.internal:5000/prefix'
    >>> display_name("sqlite:////var/lib/mlflow/mlflow.db")
    'sqlite: mlflow.db'
    """
    uri = str(uri or "").strip()
    if not uri:
        return "registry"
    if uri.startswith(_SQLITE):
        return "sqlite: " + (_last_part(uri[len(_SQLITE):].split("?")[0]) or "database")
    if uri.startswith("file:"):
        return _last_part(urlsplit(uri).path) or "registry"
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", uri):
        parts = urlsplit(uri)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", "")) or parts.scheme
    if uri == "databricks" or uri.startswith("databricks"):
        return "databricks"
    return _last_part(uri) or "registry"


def redact(text: str, uri: str | None) -> str:
    """``text`` with the registry's full path or URI (and the folder it resolves to) replaced
    by its display name: for messages that were written for the server's log."""
    uri = str(uri or "")
    if not uri:
        return text
    name = display_name(uri)
    candidates = {uri}
    if uri.startswith(_SQLITE):
        candidates.add(uri[len(_SQLITE):].split("?")[0])
    elif uri.startswith("file:"):
        candidates.add(urlsplit(uri).path)
    elif "://" not in uri:
        try:
            from pathlib import Path
            candidates.add(str(Path(uri).expanduser().resolve()))
        except (OSError, RuntimeError):
            pass
    for c in sorted((c for c in candidates if len(c) > 1), key=len, reverse=True):
        text = text.replace(c, name)
    return text


def _last_part(path: str) -> str:
    return PurePath(path.rstrip("/\\")).name


def public_problem(problem, uri: str | None):
    """A registry Problem as viewers see it: its path and message through :func:`redact`."""
    from dataclasses import replace
    return replace(problem, path=redact(problem.path, uri), message=redact(problem.message, uri))
