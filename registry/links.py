"""Short links for long run selections, kept by ModelDeck itself — never in the registry.

A comparison of 1,000 runs names 1,000 run ids: as a query string that is tens of kilobytes,
more than servers accept in a request line (gunicorn: 4,094 bytes). Instead the selection is
stored in a small SQLite database and the link carries its id: ``/experiments/compare?sel=…``.

* The id is a digest of the selection, so the same runs always get the same id, from any
  worker process or instance; two processes storing the same selection store one row.
* The database lives in ``MODELDECK_STATE_DIR`` (default ``$XDG_CACHE_HOME/modeldeck`` or
  ``~/.cache/modeldeck``; when that cannot be written, ``$TMPDIR/modeldeck-state``), so links
  survive a restart. Workers that share that folder share the links; docs/mlflow.md.
* ModelDeck never writes to the registry it reads; this file is its own.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tempfile
import time
from pathlib import Path

FILE = "links.sqlite"
MAX_RUNS = 5000


def state_dir() -> Path:
    """Where ModelDeck keeps its own small state (``MODELDECK_STATE_DIR`` when set)."""
    env = os.environ.get("MODELDECK_STATE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    candidate = Path(base) / "modeldeck"
    try:
        candidate.mkdir(parents=True, exist_ok=True)
        if os.access(candidate, os.W_OK):
            return candidate
    except OSError:
        pass
    return Path(tempfile.gettempdir()) / "modeldeck-state"


class LinkStore:
    """Run selections by short id, in one SQLite file."""

    def __init__(self, directory: str | os.PathLike | None = None):
        self.directory = Path(directory) if directory is not None else state_dir()
        self.path = self.directory / FILE
        self._ready = False

    def _connect(self) -> sqlite3.Connection:
        if not self._ready:
            self.directory.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=10)
        if not self._ready:
            with con:
                con.execute("CREATE TABLE IF NOT EXISTS links (id TEXT PRIMARY KEY, "
                            "payload TEXT NOT NULL, created REAL NOT NULL)")
            self._ready = True
        return con

    def save(self, experiment: str, run_ids) -> str:
        """The short id of this selection (stored once; the same runs give the same id)."""
        ids = [str(r) for r in run_ids]
        if len(ids) > MAX_RUNS:
            raise ValueError(f"at most {MAX_RUNS:,} runs can be compared at once")
        payload = json.dumps({"experiment": experiment, "runs": ids}, separators=(",", ":"))
        key = hashlib.blake2b(payload.encode(), digest_size=9).hexdigest()
        con = self._connect()
        try:
            with con:
                con.execute("INSERT OR IGNORE INTO links (id, payload, created) VALUES (?,?,?)",
                            (key, payload, time.time()))
        finally:
            con.close()
        return key

    def load(self, key: str) -> tuple[str, list[str]] | None:
        """The experiment and run ids stored under ``key``, or None when there is none."""
        if not key or len(key) > 64 or not key.isalnum():
            return None
        con = self._connect()
        try:
            row = con.execute("SELECT payload FROM links WHERE id = ?", (key,)).fetchone()
        finally:
            con.close()
        if row is None:
            return None
        data = json.loads(row[0])
        return data["experiment"], list(data["runs"])


_stores: dict[Path, LinkStore] = {}


def link_store() -> LinkStore:
    """The link store of ``MODELDECK_STATE_DIR`` (one object per folder and process)."""
    directory = state_dir()
    if directory not in _stores:
        _stores[directory] = LinkStore(directory)
    return _stores[directory]
