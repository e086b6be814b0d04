"""Locks shared by worker processes, for single-flight computing in ``CachedSource.memo``.

- ``FileLocks``: ``flock`` on small files in the state directory; every process and thread
  on one machine agrees. The kernel drops a lock when its holder dies, so a crashed worker
  never leaves one behind.
- ``RedisLocks``: redis-py's lock with a lease (``timeout``), shared by every machine that
  uses the same Redis; a holder that dies frees the key when the lease ends.

Both wait at most ``wait`` seconds, then let the caller compute unlocked (slower, never stuck).
"""
from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path

from registry.cached import Locks, ThreadLocks

POLL = 0.02  # seconds between tries while another process holds a file lock


class FileLocks:
    def __init__(self, folder: Path, wait: float = 60.0):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.wait = wait

    @contextmanager
    def hold(self, name: str, wait: float | None = None):
        # Each hold opens its own descriptor: flock then also separates threads.
        fd = os.open(self.folder / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        got = False
        try:
            deadline = time.monotonic() + (self.wait if wait is None else wait)
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    got = True
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        break
                    time.sleep(POLL)
            yield got
        finally:
            if got:
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class RedisLocks:
    def __init__(self, url: str, wait: float = 60.0, lease: float = 300.0,
                 prefix: str = "modeldeck:lock:"):
        import redis

        self.client = redis.Redis.from_url(url)
        self.wait, self.lease, self.prefix = wait, lease, prefix

    @contextmanager
    def hold(self, name: str, wait: float | None = None):
        import redis

        wait = self.wait if wait is None else wait
        lock = self.client.lock(self.prefix + name, timeout=self.lease,
                                blocking_timeout=wait if wait > 0 else None, sleep=POLL)
        got = lock.acquire(blocking=wait > 0)
        try:
            yield got
        finally:
            if got:
                try:
                    lock.release()
                except redis.exceptions.LockError:  # the lease ran out first
                    pass


def shared_locks(cache_url: str | None, workers: int, state: Path) -> Locks:
    """The locks that match the cache: Redis with Redis, files with several workers on one
    machine, in-process with one worker."""
    from .config import is_redis

    if is_redis(cache_url):
        return RedisLocks(cache_url)
    if workers > 1:
        return FileLocks(state / "locks")
    return ThreadLocks()
