"""What the web server adds around the pages: compression, long-lived caching of static
files, and a per-user rate limit on ``/export``."""
from __future__ import annotations

import time

from flask import Flask, Response, request, session
from flask_compress import Compress

#: seconds a fingerprinted file may be cached (Dash adds ``?m=<mtime>`` to asset links)
YEAR = 31536000
#: unversioned static files (a bare /assets/... link, the vendored Bootstrap CSS)
DAY = 86400


def compress(server: Flask) -> None:
    """gzip / brotli for HTML, JSON callback answers, CSS and JavaScript (flask-compress)."""
    server.config.setdefault("COMPRESS_MIN_SIZE", 1000)
    server.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    # The lowest levels: a 180 KB page layout takes 5 ms at brotli 1 (36 KB) against 23 ms
    # at brotli 4 (33 KB) and 32 ms at gzip 6; on a busy server the CPU matters more.
    server.config.setdefault("COMPRESS_BR_LEVEL", 1)
    server.config.setdefault("COMPRESS_LEVEL", 1)
    Compress(server)


def cache_static(server: Flask) -> None:
    """Cache-Control for files that change only with a deploy."""

    @server.after_request
    def _static_headers(response: Response):
        path = request.path
        if response.status_code != 200:
            return response
        if path.startswith("/assets/"):
            fingerprinted = "m" in request.args
            response.cache_control.public = True
            response.cache_control.max_age = YEAR if fingerprinted else DAY
            if fingerprinted:
                response.cache_control.immutable = True
        elif path.startswith("/vendor/"):
            response.cache_control.public = True
            response.cache_control.max_age = DAY
        return response


def user_key() -> str:
    """Who is asking: the signed-in user (set by the login), else the client's address."""
    try:
        user = session.get("modeldeck_user")
    except RuntimeError:  # no secret key: no sessions
        user = None
    return f"user:{user}" if user else f"addr:{request.remote_addr or '-'}"


class RateLimit:
    """At most ``limit`` requests per ``per`` seconds per key, counted in the shared cache
    (atomic with Redis; per machine with a file cache), in fixed windows."""

    def __init__(self, cache, limit: int, per: int, name: str = "export"):
        self.cache, self.limit, self.per, self.name = cache, int(limit), int(per), name

    def retry_after(self, key: str, now: float | None = None) -> int | None:
        """Count one request of ``key``; None when allowed, else seconds to wait."""
        now = time.time() if now is None else now
        window = int(now // self.per)
        k = f"rate:{self.name}:{key}:{window}"
        self.cache.add(k, 0, timeout=self.per + 5)
        count = self.cache.inc(k)
        if count is None or count <= self.limit:
            return None
        return max(1, int((window + 1) * self.per - now) + 1)


def limit_exports(server: Flask, cache, limit: int, per: int) -> RateLimit:
    """429 with Retry-After for ``/export/…`` beyond ``limit`` per ``per`` s per user."""
    rate = RateLimit(getattr(cache, "cache", cache), limit, per)  # Flask-Caching's backend

    @server.before_request
    def _export_rate():
        if not request.path.startswith("/export/"):
            return None
        wait = rate.retry_after(user_key())
        if wait is None:
            return None
        return Response(f"Too many exports: please wait {wait} seconds.\n", status=429,
                        mimetype="text/plain", headers={"Retry-After": str(wait)})

    return rate


def refuse_malformed_callbacks(server: Flask) -> None:
    """400, not Dash's 500, for a callback request that is not a callback request (no JSON
    object, or one without Dash's ``output`` and ``inputs``): a client's mistake, not a
    fault of the server. Flask keeps the parsed body, so Dash does not parse it twice."""

    @server.before_request
    def _callback_shape():
        if request.method != "POST" or not request.path.endswith("/_dash-update-component"):
            return None
        body = request.get_json(silent=True)
        if isinstance(body, dict) and isinstance(body.get("output"), str) \
                and isinstance(body.get("inputs"), list):
            return None
        return Response("Not a Dash callback request: a JSON object with 'output' and "
                        "'inputs' is expected.\n", status=400, mimetype="text/plain")


def finish_dash_setup(app) -> None:
    """Run Dash's first-request set-up now, once, before any request (and before gunicorn
    forks its workers).

    Dash registers its script bundles and the Pages router on a process's first request,
    and marks that done *before* doing it. In a threaded worker the requests that arrive
    meanwhile — a browser asks for a dozen scripts at once — then find no registered
    scripts ("dash is not a registered library") and no router, and the page stays blank.
    Both steps only read what ``create_app`` has built, so they can run here."""
    server = app.server
    with server.test_request_context("/"):
        for hook in list(server.before_request_funcs.get(None, [])):
            if getattr(hook, "__name__", "") in ("_setup_server", "router_sync"):
                hook()
