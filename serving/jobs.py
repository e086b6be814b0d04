"""Background jobs: long work (reports) runs off the web workers.

Dash's background callbacks need a manager with a real queue:

- by default ``ThreadJobManager`` on a diskcache store in the state directory (one
  machine): each job runs in a thread of the web worker that received it; its result, its
  progress and whether it is still running go through the store, so whichever worker the
  browser's next poll reaches can answer it. (Dash's own ``DiskcacheManager`` forks a
  process per job; forking a threaded web worker copies locks other threads hold at that
  moment, and such a job can hang for ever — it did, in the test suite.)
- with ``MODELDECK_CACHE_URL=redis://…``, ``CeleryManager`` with Redis as broker and result
  store. Jobs then run in Celery workers, started with

      celery -A app:celery_app worker --concurrency 2 --loglevel INFO

  (the same code and environment as the web workers; see docs/deploy.md).

The browser polls for the result (every ``POLL_MS``) and shows the job's progress meanwhile,
so a web worker is busy for milliseconds, not for the seconds a report takes.
"""
from __future__ import annotations

import threading
import uuid
from pathlib import Path

from dash import DiskcacheManager
from flask import current_app, has_app_context

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


class ThreadJobManager(DiskcacheManager):
    """Dash background callbacks run in a daemon thread of the worker that got the request.

    A job id is ``t<hex>``; the store holds ``running:<id>`` while the job runs (expiring
    after ``EXPIRE`` seconds, so a worker that died mid-job cannot leave the browser polling
    for ever). A thread cannot be stopped, so cancelling a job lets it finish and its result
    expire unread."""

    def call_job_fn(self, key, job_fn, args, context):
        job = f"t{uuid.uuid4().hex}"
        running = self._running_key(job)
        self.handle.set(running, True, expire=self.expire or EXPIRE)
        app = current_app._get_current_object() if has_app_context() else None

        def run():
            try:
                if app is None:
                    job_fn(key, self._make_progress_key(key), args, context)
                else:  # the job reads the same app's registry and cache as the request
                    with app.app_context():
                        job_fn(key, self._make_progress_key(key), args, context)
            finally:
                self.handle.delete(running)

        threading.Thread(target=run, name=f"modeldeck-job-{job}", daemon=True).start()
        return job

    @staticmethod
    def _running_key(job) -> str:
        return f"running:{job}"

    def job_running(self, job):
        return bool(job) and self.handle.get(self._running_key(job)) is not None

    def terminate_job(self, job):
        return None  # see the class's docstring

    def terminate_unhealthy_job(self, job):
        return False


def background_manager(cache_url: str | None, state: Path):
    """The manager for this deployment (see the module's docstring)."""
    from dash import CeleryManager

    if is_redis(cache_url):
        return CeleryManager(celery_app(cache_url), expire=EXPIRE)
    import diskcache

    folder = state / "jobs"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return ThreadJobManager(diskcache.Cache(str(folder)), expire=EXPIRE)


def celery_of(manager):
    """The Celery application behind ``manager``, or None (diskcache)."""
    from dash import CeleryManager

    return manager.handle if isinstance(manager, CeleryManager) else None
