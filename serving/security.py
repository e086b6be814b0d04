"""Response headers and exposure checks for a ModelDeck that other people reach.

``install_security(app, settings)`` (called once in ``app.create_app``) adds to every response
— page, Dash callback, export, static file, login page, error — the same headers:

- ``Content-Security-Policy``: scripts only from this server, plus the inline scripts Dash
  itself writes into the page (the ``new DashRenderer()`` line and the clientside callbacks),
  allowed one by one by their SHA-256 hash (``Dash.csp_hashes``). Dash's page configuration is
  an inline ``<script type="application/json">``, which is data and never runs. Styles may be
  inline: Plotly and the grid set styles from script. No plugins, no ``<base>`` changes,
  forms post back to this server only, and no other site may frame the app.
- ``X-Frame-Options: DENY`` (for browsers that ignore ``frame-ancestors``),
  ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin``.

``check_exposure(hosts, login_on, explicit_off)`` refuses an app that would answer other
machines without a login; ``install_security`` also refuses, at request time, a request that
comes from another machine (or through a proxy) while the login is off and not explicitly
switched off: the bind address is not always known to the app (a gunicorn config file).
"""
from __future__ import annotations

import ipaddress
import logging
import os
import shlex
import sys

import dash
from flask import Response, request

log = logging.getLogger("modeldeck.security")

# Scripts: this server and Dash's own inline scripts by hash ('unsafe-eval' is added only if
# a browser test shows a bundled library needs it: see tests/test_browser_auth.py).
BASE_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:", "blob:"],
    "font-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "worker-src": ["'self'", "blob:"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}

STATIC_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}

LOOPBACK_NAMES = {"localhost", "ip6-localhost"}


class UnsafeSettings(RuntimeError):
    """The app would serve registry data to other machines without a login."""


def content_security_policy(app: dash.Dash) -> str:
    """The policy for ``app``: its inline scripts' hashes are known once its callbacks are
    registered, so the text is computed on the first response and again only if the number
    of inline scripts changes."""
    key = (len(app._inline_scripts), len(dash._callback.GLOBAL_INLINE_SCRIPTS), app.renderer)
    cached = getattr(app, "_modeldeck_csp", None)
    if cached and cached[0] == key:
        return cached[1]
    policy = {k: list(v) for k, v in BASE_POLICY.items()}
    policy["script-src"] += sorted(set(app.csp_hashes("sha256")))
    text = "; ".join(f"{k} {' '.join(v)}" for k, v in policy.items())
    # csp_hashes moved the page modules' clientside callbacks into app._inline_scripts
    key = (len(app._inline_scripts), len(dash._callback.GLOBAL_INLINE_SCRIPTS), app.renderer)
    app._modeldeck_csp = (key, text)
    return text


def install_security(app: dash.Dash, settings) -> None:
    """Headers on every response; refuse to serve other machines without a login (at start
    from the bind address, at request time from the caller's address)."""
    login_on, explicit_off = settings.auth.login_on, settings.auth.explicitly_off
    check_exposure([settings.host, *gunicorn_binds()], login_on=login_on,
                   explicit_off=explicit_off)
    server = app.server

    @server.after_request
    def _headers(resp: Response) -> Response:
        resp.headers["Content-Security-Policy"] = content_security_policy(app)
        for name, value in STATIC_HEADERS.items():
            resp.headers[name] = value
        return resp

    if login_on or explicit_off:
        return

    @server.before_request
    def _local_only():
        if not from_this_machine():
            log.warning("refused a request from %s: the login is off, so ModelDeck answers "
                        "this machine only (docs/deploy.md, 'Login and headers')",
                        request.remote_addr)
            return Response(
                "ModelDeck answers only this machine while no login is set up. Set "
                "MODELDECK_PASSWORD_FILE or MODELDECK_OIDC_ISSUER (and MODELDECK_SECRET_KEY); "
                "see docs/deploy.md.\n", status=403, mimetype="text/plain")
        return None


def from_this_machine() -> bool:
    """A request from a loopback address that no proxy forwarded."""
    if request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded"):
        return False
    return is_loopback(request.remote_addr or "")


def is_loopback(host: str) -> bool:
    host = host.strip().strip("[]")
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(hosts: list[str], *, login_on: bool, explicit_off: bool) -> None:
    """Refuse to start when an address other machines can reach is bound without a login,
    unless the login was explicitly switched off (then say so loudly in the log)."""
    exposed = [h for h in hosts if not is_loopback(h)]
    if not exposed or login_on:
        return
    if explicit_off:
        log.warning("!" * 72)
        log.warning("MODELDECK_AUTH=none: ModelDeck serves %s WITHOUT A LOGIN. Anyone who "
                    "reaches this address sees every model in the registry.", ", ".join(exposed))
        log.warning("!" * 72)
        return
    raise UnsafeSettings(
        f"ModelDeck would answer other machines on {', '.join(exposed)} without a login. "
        "Set up a login (MODELDECK_PASSWORD_FILE or MODELDECK_OIDC_ISSUER, with "
        "MODELDECK_SECRET_KEY), bind 127.0.0.1, or set MODELDECK_AUTH=none to serve without "
        "one on purpose. See docs/deploy.md, 'Login and headers'.")


def gunicorn_binds(argv: list[str] | None = None, env: dict | None = None) -> list[str]:
    """The hosts gunicorn was told to bind on its command line or in GUNICORN_CMD_ARGS
    (``-b HOST:PORT`` / ``--bind=HOST:PORT``) or through ``MODELDECK_BIND``, which
    serving/gunicorn_conf.py binds (``make run``); empty when it is not gunicorn or nothing was
    given there (gunicorn's own default is 127.0.0.1)."""
    argv = list(sys.argv if argv is None else argv)
    env = os.environ if env is None else env
    if not argv or "gunicorn" not in os.path.basename(argv[0]):
        return []
    words = argv[1:] + shlex.split(env.get("GUNICORN_CMD_ARGS", ""))
    binds = [b.strip() for b in env.get("MODELDECK_BIND", "").split(",") if b.strip()]
    for i, w in enumerate(words):
        if w in ("-b", "--bind") and i + 1 < len(words):
            binds.append(words[i + 1])
        elif w.startswith("--bind="):
            binds.append(w.split("=", 1)[1])
        elif w.startswith("-b") and len(w) > 2:
            binds.append(w[2:])
    return [_bind_host(b) for b in binds if not b.startswith(("unix:", "fd://"))]


def _bind_host(bind: str) -> str:
    if bind.startswith("["):  # [::1]:8000
        return bind[1:bind.index("]")]
    host, _, port = bind.rpartition(":")
    return host if port.isdigit() and host else bind
