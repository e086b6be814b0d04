"""What has been delivered, kept in a small SQLite file in the state folder (never in the
registry): one row per (alert key, channel) once that channel has accepted the message.

A message is recorded only after its channel accepted it, and each channel separately: a
webhook that is down costs the webhook its messages until the next run, while the e-mails
that went out are not sent again. Only one run at a time works on a state folder (a lock
file); a second run started meanwhile stops at once and says so.
"""
from __future__ import annotations

import fcntl
import os
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS delivered (
    key TEXT NOT NULL,
    channel TEXT NOT NULL,
    delivered_at TEXT NOT NULL,
    headline TEXT NOT NULL,
    PRIMARY KEY (key, channel)
)
"""


class Busy(RuntimeError):
    """Another run is working on the same state folder."""


class State:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.db = sqlite3.connect(self.folder / "alerts.sqlite", isolation_level=None)
        self.db.execute(SCHEMA)

    def delivered(self, key: str, channel: str) -> bool:
        row = self.db.execute("SELECT 1 FROM delivered WHERE key = ? AND channel = ?",
                              (key, channel)).fetchone()
        return row is not None

    def mark(self, key: str, channel: str, headline: str) -> None:
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.db.execute("INSERT OR IGNORE INTO delivered VALUES (?, ?, ?, ?)",
                        (key, channel, now, headline))

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM delivered").fetchone()[0]

    def close(self) -> None:
        self.db.close()


@contextmanager
def open_state(folder: str | os.PathLike):
    """The state in ``folder`` (created, private to its owner), held for this run only."""
    folder = Path(folder).expanduser()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(folder / "alerts.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(f"another alert run is working on {folder}; this one stops") from None
        state = State(folder)
        try:
            yield state
        finally:
            state.close()
            fcntl.flock(lock, fcntl.LOCK_UN)


def inside(folder: Path, registry: str) -> bool:
    """True when ``folder`` lies within the registry folder ``registry`` (which ModelDeck
    must never write to)."""
    if "://" in registry:
        return False
    try:
        reg = Path(registry.removeprefix("file:")).expanduser().resolve()
        path = Path(folder).expanduser().resolve()
    except (OSError, RuntimeError):
        return False
    return path == reg or reg in path.parents
