"""Where a running ModelDeck keeps its shared state, and how its cache is chosen.

- ``MODELDECK_CACHE_URL=redis://host:6379/0``: Flask-Caching's RedisCache, shared by every
  worker on every machine; locks and background jobs (Celery) use the same Redis.
- otherwise a FileSystemCache in the state directory (``MODELDECK_STATE_DIR``, default
  ``~/.cache/modeldeck``), shared by the workers of one machine; with one worker
  (``MODELDECK_WORKERS=1``) a SimpleCache in the process.

Every cache key starts with the code version (package version and a hash of the source
files, computed once at start), so a deploy never reads results an older build computed.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from registry.links import state_dir as links_state_dir

ROOT = Path(__file__).resolve().parent.parent
#: the code whose results the cache holds
SOURCE_DIRS = ("registry", "analysis", "components", "sections", "pages", "reports", "serving")

CACHE_TIMEOUT = 3600


def state_dir(given: str | None = None) -> Path:
    """The folder the workers of one machine share (cache files, locks, job queue, render
    slots, short links): ``given``, else the one ``registry.links.state_dir`` chooses
    (``$MODELDECK_STATE_DIR``, else ``~/.cache/modeldeck``)."""
    path = Path(given) if given else links_state_dir()
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


@lru_cache(maxsize=1)
def code_version() -> str:
    """'0.1.0-3f9a1c2b7d': the package version and a hash of every source file."""
    try:
        version = metadata.version("modeldeck")
    except metadata.PackageNotFoundError:
        version = "0"
    h = hashlib.blake2b(digest_size=5)
    files = [ROOT / "app.py"] + sorted(p for d in SOURCE_DIRS for p in (ROOT / d).rglob("*.py"))
    for p in files:
        try:
            h.update(str(p.relative_to(ROOT)).encode() + b"\0" + p.read_bytes() + b"\0")
        except OSError:
            continue
    return f"{version}-{h.hexdigest()}"


def is_redis(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("redis://", "rediss://", "unix://"))


def cache_config(cache_url: str | None = None, workers: int = 1,
                 state: Path | None = None) -> dict:
    """Flask-Caching settings for this deployment (see the module's docstring)."""
    base = {"CACHE_DEFAULT_TIMEOUT": CACHE_TIMEOUT,
            "CACHE_KEY_PREFIX": f"modeldeck:{code_version()}:"}
    if is_redis(cache_url):
        return {**base, "CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": cache_url}
    if cache_url:
        raise ValueError(f"MODELDECK_CACHE_URL must be a redis:// URL, not {cache_url!r}")
    if workers <= 1:
        return {**base, "CACHE_TYPE": "SimpleCache", "CACHE_THRESHOLD": 2000}
    folder = (state or state_dir()) / "cache"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return {**base, "CACHE_TYPE": "FileSystemCache", "CACHE_DIR": str(folder),
            "CACHE_THRESHOLD": 5000}
