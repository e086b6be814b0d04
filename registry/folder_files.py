"""The files of a registry folder, opened safely and read once: the edge of the folder source.

Files are only ever opened for reading, and only regular files whose real location is inside
the registry root: a link leading out of it, a FIFO, a device or a folder where a file should
be is a Problem naming it, never opened (a FIFO would block the reader). JSON documents are
read with a size limit (and parsed by ``registry.schema``); prediction tables are read from
Parquet or CSV and kept, once checked, in a small in-process cache keyed by the file's size
and modification time. ``registry.folder.FolderSource`` is built on ``RegistryFiles``.
"""
from __future__ import annotations

import os
import stat
import threading
from collections import OrderedDict
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from .model import Problem, RegistryError
from .schema import loads

TABLE_SUFFIXES = (".parquet", ".csv")
MAX_JSON_BYTES = 4 * 2**20  # model.json, version.json, experiment.json
_KIND = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
         (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
         (stat.S_ISSOCK, "a socket"))


class RegistryFiles:
    """Safe reads of the files under ``root`` (a base of ``FolderSource``)."""

    def __init__(self, root: str | os.PathLike, table_cache_size: int = 6):
        self.root = Path(root).expanduser().resolve()
        self._tables: OrderedDict[tuple, object] = OrderedDict()
        self._tables_max = table_cache_size
        self._lock = threading.Lock()

    def _rel(self, p: Path) -> str:
        try:
            return str(p.relative_to(self.root))
        except ValueError:
            return str(p)

    def _inside(self, p: Path) -> bool:
        """Whether ``p``'s real location (links followed) is inside the registry root."""
        real = os.path.realpath(p)
        return real == str(self.root) or real.startswith(str(self.root) + os.sep)

    def _entries(self, d: Path, model: str | None = None) -> list[Path]:
        """The entries of folder ``d`` (hidden ones left out), sorted by name."""
        try:
            names = sorted(os.listdir(d))
        except OSError as e:
            raise RegistryError(Problem(self._rel(d) + "/", "", f"cannot be listed "
                                        f"({e.strerror or e})", model=model)) from None
        return [d / n for n in names if not n.startswith(".")]

    def _subfolders(self, d: Path, model: str | None = None) -> list[Path]:
        """Sub-folders of ``d`` whose real location is inside the registry."""
        out = []
        for p in self._entries(d, model):
            try:
                if p.is_dir() and self._inside(p):
                    out.append(p)
            except OSError:
                continue
        return out

    def _regular_file(self, path: Path, model: str | None) -> os.stat_result:
        """The file's status; RegistryError unless it is a regular file whose real location
        is inside the registry (never a link out of it, a FIFO, a device or a folder)."""
        rel = self._rel(path)
        if not os.path.lexists(path):
            raise RegistryError(Problem(rel, "", "file is missing", model=model))
        if not self._inside(path):
            raise RegistryError(Problem(rel, "", "is a link to a file outside the registry; "
                                        "ModelDeck reads only files inside it", model=model))
        try:
            st = os.stat(path)
        except OSError as e:
            raise RegistryError(Problem(rel, "", f"cannot be read ({e.strerror or e})",
                                        model=model)) from None
        if not stat.S_ISREG(st.st_mode):
            kind = next((word for test, word in _KIND if test(st.st_mode)), "not a file")
            raise RegistryError(Problem(rel, "", f"is {kind}, not a regular file; not read",
                                        model=model))
        return st

    def _open(self, path: Path, model: str | None):
        """A binary file object of a checked regular file. Opened without blocking, and
        checked again once open, so a FIFO put in its place cannot hang a request."""
        self._regular_file(path, model)
        rel = self._rel(path)
        try:
            fd = os.open(os.path.realpath(path), os.O_RDONLY | os.O_NONBLOCK)
        except OSError as e:
            raise RegistryError(Problem(rel, "", f"cannot be read ({e.strerror or e})",
                                        model=model)) from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise RegistryError(Problem(rel, "", "is not a regular file; not read",
                                        model=model))
        return os.fdopen(fd, "rb")

    def _read_bytes(self, path: Path, model: str | None, limit: int) -> bytes:
        rel = self._rel(path)
        try:
            with self._open(path, model) as f:
                data = f.read(limit + 1)
        except OSError as e:
            raise RegistryError(Problem(rel, "", f"cannot be read ({e.strerror or e})",
                                        model=model)) from None
        if len(data) > limit:
            raise RegistryError(Problem(rel, "", f"is larger than {limit // 2**20} MB; not "
                                        "read", model=model))
        return data

    def _read_json(self, path: Path, model: str | None = None) -> dict:
        rel = self._rel(path)
        doc = loads(self._read_bytes(path, model, MAX_JSON_BYTES), rel, model)
        if not isinstance(doc, dict):
            raise RegistryError(Problem(rel, "", "must hold a JSON object", model=model))
        return doc

    def _read_table(self, path: Path, model: str | None, prepare=None
                    ) -> tuple[pd.DataFrame, tuple[str, ...]]:
        """Read a Parquet or CSV table, cached in-process by file size and modification time.

        ``prepare`` is ``(tag, fn)``: ``fn(frame) -> (frame, notes)`` checks and converts the
        frame once, and the prepared frame and its notes are what the cache keeps (keyed by
        ``tag`` too)."""
        rel = self._rel(path)
        st = self._regular_file(path, model)
        tag, fn = prepare if prepare is not None else ("raw", None)
        key = (str(path), st.st_mtime_ns, st.st_size, tag)
        with self._lock:
            if key in self._tables:
                self._tables.move_to_end(key)
                return self._tables[key]
        try:
            with self._open(path, model) as f:
                if path.suffix == ".parquet":
                    frame = _read_parquet(f)
                else:
                    frame = pd.read_csv(f, low_memory=False)
        except RegistryError:
            raise
        except Exception as e:  # pyarrow and pandas raise many types for damaged files
            raise RegistryError(Problem(rel, "", f"cannot be read as a "
                                        f"{path.suffix[1:].upper()} table "
                                        f"({type(e).__name__}: {str(e)[:300]})",
                                        model=model)) from None
        frame.columns = [str(c) for c in frame.columns]
        result = fn(frame) if fn is not None else (frame, ())
        result = (result[0], tuple(result[1]))
        with self._lock:
            self._tables[key] = result
            while len(self._tables) > self._tables_max:
                self._tables.popitem(last=False)
        return result



    def _parquet_rows(self, path: Path, model: str) -> int:
        """How many rows a Parquet file holds (its footer only); 0 when it cannot say (the
        ordinary reader then explains what is wrong)."""
        import pyarrow.parquet as pq
        try:
            with self._open(path, model) as f:
                return pq.ParquetFile(f).metadata.num_rows
        except Exception:
            return 0


def _read_parquet(source) -> pd.DataFrame:
    """A Parquet file as a DataFrame, one column at a time: the Arrow copy of only one
    column is alive at once, so a large table does not need twice its size in memory."""
    import pyarrow.parquet as pq

    f = pq.ParquetFile(source)
    names = f.schema_arrow.names
    if f.metadata.num_rows < 1_000_000:
        return f.read().to_pandas()
    columns = {}
    for name in names:
        columns[name] = f.read(columns=[name]).to_pandas()[name]
    return pd.DataFrame(columns, copy=False)



def first_table(stem: Path) -> Path | None:
    for suffix in TABLE_SUFFIXES:
        p = stem.with_suffix(suffix)
        if os.path.lexists(p):
            return p
    return None



def mtime(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)
    except OSError:
        return None
