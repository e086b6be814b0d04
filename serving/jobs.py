"""Background jobs: long work (reports) runs off the web workers.

Dash's background callbacks need a manager with a real queue:

- by default ``DiskcacheManager`` on a diskcache store in the state directory: each job runs
  in its own process forked from the worker, results go through the store (one machine);
- with ``MODELDECK_CACHE_URL=redis://…``, ``CeleryManager`` with Redis as broker and result
  store. Jobs then run in Celery workers, started with

      celery -A app:celery_app worker --concurrency 2 --loglevel INFO

  (the same code and environment as the web workers; see docs/deploy.md).

The browser polls for the result (every ``POLL_MS``) and shows the job's progress meanwhile,
so a web worker is busy for milliseconds, not for the seconds a report takes.
"""
from __future__ import annotations

from pathlib import Path

from .config import is_redis

#: how often a page asks whether its background job has finished
POLL_MS = 500
#: results of finished jobs are dropped after this long (seconds)
EXPIRE = 600


def celery_app(url: str):
    """The Celery application for background callbacks: Redis as broker and result store."""
    from celery import Celery

    app = Celery("modeldeck", broker=url, backend=url)
    app.conf.update(result_expires=EXPIRE, task_acks_late=False,
                    worker_prefetch_multiplier=1, broker_connection_retry_on_startup=True)
    return app


def background_manager(cache_url: str | None, state: Path):
    """The manager for this deployment (see the module's docstring)."""
    from dash import CeleryManager, DiskcacheManager

    if is_redis(cache_url):
        return CeleryManager(celery_app(cache_url), expire=EXPIRE)
    import diskcache

    folder = state / "jobs"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return DiskcacheManager(diskcache.Cache(str(folder)), expire=EXPIRE)


def celery_of(manager):
    """The Celery application behind ``manager``, or None (diskcache)."""
    from dash import CeleryManager

    return manager.handle if isinstance(manager, CeleryManager) else None
