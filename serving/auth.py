"""Login for a ModelDeck shared with a team: OpenID Connect, or a password file.

Settings (environment; docs/deploy.md, "Login and headers"):

    MODELDECK_AUTH            "" (decide from what is set), "password", "oidc", or "none" to
                              serve without a login on purpose (a loud warning is logged)
    MODELDECK_SECRET_KEY      signs the session cookie; required whenever the login is on
    MODELDECK_PASSWORD_FILE   lines "user:<werkzeug password hash>" (python -m serving.auth add-user)
    MODELDECK_OIDC_ISSUER     the provider's issuer URL (its /.well-known/openid-configuration)
    MODELDECK_OIDC_CLIENT_ID, MODELDECK_OIDC_CLIENT_SECRET
    MODELDECK_OIDC_ALLOWED_DOMAINS  comma-separated e-mail domains allowed in (optional)
    MODELDECK_OIDC_ALLOWED_GROUPS   comma-separated groups, from the ID token's "groups" claim
    MODELDECK_PUBLIC_URL      https://modeldeck.example.com: the address people use (the
                              OIDC redirect URI is built from it; https makes the cookie Secure)

``install_auth(app, settings)`` (called once in ``app.create_app``) refuses every request
without a signed-in user except the login pages and the static files the login page and the
browser need that hold no registry data: ``/assets/…`` (ModelDeck's CSS), ``/vendor/…``
(Bootstrap's CSS) and ``/_dash-component-suites/…`` (the JavaScript of Dash and its component
libraries, as published on PyPI). Everything else — every page, ``/_dash-layout``,
``/_dash-dependencies``, ``/_dash-update-component``, ``/export/…``, any route added later —
needs the login: a browser asking for a page is sent to ``/login``, any other request gets
401. The signed-in user's id is ``flask.session["modeldeck_user"]``.
"""
from __future__ import annotations

import argparse
import functools
import getpass
import hmac
import logging
import os
import re
import secrets
import sys
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from flask import (
    Flask, Response, redirect, render_template_string, request, session, url_for,
)
from flask.sessions import SecureCookieSessionInterface
from werkzeug.security import check_password_hash, generate_password_hash

log = logging.getLogger("modeldeck.auth")

USER_KEY = "modeldeck_user"  # the rate limiter keys on it: keep the name
METHOD_KEY = "modeldeck_login"
CSRF_KEY = "modeldeck_csrf"
NEXT_KEY = "modeldeck_next"

# Static files that hold no registry data: the login page and the app's scripts need them.
PUBLIC_PREFIXES = ("/assets/", "/vendor/", "/_dash-component-suites/")
PUBLIC_PATHS = {"/login", "/login/oidc", "/auth/callback", "/logout", "/_favicon.ico"}
USER_RE = re.compile(r"^[^\s:]{1,128}$")
MIN_SECRET_LENGTH = 16


class AuthConfigError(RuntimeError):
    """The login settings are incomplete or contradict each other."""


@dataclass(frozen=True)
class AuthSettings:
    mode: str = ""  # "", "none", "password", "oidc"
    secret_key: str = ""
    password_file: str = ""
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    allowed_domains: tuple[str, ...] = ()
    allowed_groups: tuple[str, ...] = ()
    public_url: str = ""
    session_hours: float = 12.0

    @classmethod
    def from_env(cls, env=None) -> "AuthSettings":
        env = os.environ if env is None else env

        def words(name):
            return tuple(w.strip().lower() for w in env.get(name, "").split(",") if w.strip())

        return cls(mode=env.get("MODELDECK_AUTH", "").strip().lower(),
                   secret_key=env.get("MODELDECK_SECRET_KEY", ""),
                   password_file=env.get("MODELDECK_PASSWORD_FILE", ""),
                   oidc_issuer=env.get("MODELDECK_OIDC_ISSUER", "").rstrip("/"),
                   oidc_client_id=env.get("MODELDECK_OIDC_CLIENT_ID", ""),
                   oidc_client_secret=env.get("MODELDECK_OIDC_CLIENT_SECRET", ""),
                   allowed_domains=words("MODELDECK_OIDC_ALLOWED_DOMAINS"),
                   allowed_groups=tuple(w.strip() for w in
                                        env.get("MODELDECK_OIDC_ALLOWED_GROUPS", "").split(",")
                                        if w.strip()),
                   public_url=env.get("MODELDECK_PUBLIC_URL", "").rstrip("/"))

    @property
    def explicitly_off(self) -> bool:
        return self.mode == "none"

    @property
    def methods(self) -> tuple[str, ...]:
        """The ways to sign in that are set up ("oidc", "password"); empty: no login."""
        if self.mode == "none":
            return ()
        if self.mode not in ("", "password", "oidc"):
            raise AuthConfigError(f"MODELDECK_AUTH={self.mode!r} is not one of password, oidc, "
                                  "none (or empty to decide from the other settings)")
        found = tuple(m for m, on in (("oidc", bool(self.oidc_issuer)),
                                      ("password", bool(self.password_file))) if on)
        if self.mode and self.mode not in found:
            what = ("MODELDECK_OIDC_ISSUER" if self.mode == "oidc" else "MODELDECK_PASSWORD_FILE")
            raise AuthConfigError(f"MODELDECK_AUTH={self.mode} needs {what}")
        return (self.mode,) if self.mode else found

    @property
    def login_on(self) -> bool:
        return bool(self.methods)

    def check(self) -> None:
        """Refuse settings that cannot work, with a message that says what to set."""
        methods = self.methods
        if not methods:
            return
        if len(self.secret_key) < MIN_SECRET_LENGTH:
            raise AuthConfigError(
                "The login is on, so MODELDECK_SECRET_KEY must be set (at least "
                f"{MIN_SECRET_LENGTH} characters; the same value for every worker). Make one "
                "with: python -c \"import secrets; print(secrets.token_hex(32))\"")
        if "password" in methods:
            path = Path(self.password_file)
            if not path.is_file():
                raise AuthConfigError(f"MODELDECK_PASSWORD_FILE: no file at {path}. Create it "
                                      "with: python -m serving.auth add-user FILE USER")
            if not read_password_file(path):
                raise AuthConfigError(f"MODELDECK_PASSWORD_FILE {path} has no users yet. Add "
                                      "one with: python -m serving.auth add-user FILE USER")
        if "oidc" in methods:
            if not self.oidc_client_id:
                raise AuthConfigError("MODELDECK_OIDC_ISSUER is set: MODELDECK_OIDC_CLIENT_ID "
                                      "(and usually MODELDECK_OIDC_CLIENT_SECRET) must be too")
            if urlsplit(self.oidc_issuer).scheme not in ("https", "http"):
                raise AuthConfigError("MODELDECK_OIDC_ISSUER must be an https:// URL")
        if self.public_url and urlsplit(self.public_url).scheme not in ("https", "http"):
            raise AuthConfigError("MODELDECK_PUBLIC_URL must start with https:// (or http://)")


# ------------------------------------------------------------------ password file
def read_password_file(path: str | os.PathLike) -> dict[str, str]:
    """``{user: hash}`` from a password file; malformed lines are logged (by number) and
    skipped. Read at every login, so a user added to the file can sign in at once."""
    users: dict[str, str] = {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        log.error("cannot read the password file %s: %s", path, e)
        return users
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, hashed = line.partition(":")
        if not sep or not USER_RE.match(user) or "$" not in hashed:
            log.warning("password file %s, line %d: not 'user:<hash>'; skipped", path, n)
            continue
        users[user] = hashed
    return users


@functools.cache
def _dummy_hash() -> str:
    """A hash to check against when the user is unknown, so both cases take the same time."""
    return generate_password_hash(secrets.token_hex(16))


def verify_password(path: str | os.PathLike, user: str, password: str) -> bool:
    hashed = read_password_file(path).get(user)
    if hashed is None:
        check_password_hash(_dummy_hash(), password)
        return False
    try:
        return check_password_hash(hashed, password)
    except (ValueError, TypeError):  # an unknown hash method in the file
        log.warning("password file %s: the hash of user %r cannot be read", path, user)
        return False


def add_user(path: str | os.PathLike, user: str, password: str) -> None:
    """Write (or replace) ``user``'s line; the file is replaced atomically, mode 600."""
    if not USER_RE.match(user):
        raise ValueError("a user name has no spaces or ':' and at most 128 characters")
    if len(password) < 8:
        raise ValueError("a password has at least 8 characters")
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    kept = [ln for ln in lines if ln.strip().partition(":")[0] != user]
    kept.append(f"{user}:{generate_password_hash(password)}")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("\n".join(kept) + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ------------------------------------------------------------------ the app side
class _SessionInterface(SecureCookieSessionInterface):
    """The session cookie is Secure whenever the request came over https (or the public URL
    is https), so a plain-http local run still works."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)


def install_auth(app, settings: AuthSettings) -> bool:
    """Put the login in front of everything ``app`` serves; returns whether it is on."""
    settings.check()
    if not settings.login_on:
        return False
    server: Flask = app.server
    server.secret_key = settings.secret_key
    server.config.update(
        SESSION_COOKIE_NAME="modeldeck_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_url.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours),
    )
    server.session_interface = _SessionInterface()
    server.extensions["modeldeck.auth"] = settings
    oidc = _register_oidc(server, settings) if "oidc" in settings.methods else None

    @server.before_request
    def _require_login():
        path = request.path
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES) or session.get(USER_KEY):
            return None
        if request.method in ("GET", "HEAD") and _wants_page(path):
            return redirect(url_for("modeldeck_login", next=_here()))
        return Response('{"error": "login required", "login": "/login"}', status=401,
                        mimetype="application/json")

    @server.route("/login", methods=["GET", "POST"], endpoint="modeldeck_login")
    def login():
        error, status = None, 200
        if request.method == "POST":
            if "password" not in settings.methods:
                return Response("Password sign-in is not set up.", 405)
            user = request.form.get("username", "").strip()
            if not _csrf_ok(request.form.get("csrf", "")):
                error, status = "The form expired. Please sign in again.", 400
            elif verify_password(settings.password_file, user, request.form.get("password", "")):
                log.info("user %r signed in with a password from %s", user, request.remote_addr)
                return _signed_in(user, "password", request.form.get("next"))
            else:
                log.warning("failed password sign-in for %r from %s", user, request.remote_addr)
                error, status = "Wrong user name or password.", 401
        return _login_page(settings, error, request.values.get("next", ""),
                           signed_out="signed_out" in request.args), status

    @server.route("/logout", methods=["GET", "POST"], endpoint="modeldeck_logout")
    def logout():
        user = session.get(USER_KEY)
        session.clear()
        if user:
            log.info("user %r signed out", user)
        return redirect(url_for("modeldeck_login", signed_out=1))

    if oidc is not None:
        @server.route("/login/oidc", endpoint="modeldeck_login_oidc")
        def login_oidc():
            session[NEXT_KEY] = _safe_next(request.args.get("next"))
            redirect_uri = (settings.public_url + "/auth/callback" if settings.public_url
                            else url_for("modeldeck_oidc_callback", _external=True))
            try:
                return oidc.authorize_redirect(redirect_uri)
            except Exception as e:  # the provider's discovery document cannot be fetched
                log.error("OIDC provider %s cannot be reached: %s: %s", settings.oidc_issuer,
                          type(e).__name__, e)
                return _login_page(settings, "The company sign-in service does not answer "
                                   "right now. Please try again in a minute.", ""), 503

        @server.route("/auth/callback", endpoint="modeldeck_oidc_callback")
        def oidc_callback():
            try:
                token = oidc.authorize_access_token()
                claims = token.get("userinfo")
                if not claims:
                    raise ValueError("the provider sent no ID token")
                _check_issuer(oidc, settings)
            except Exception as e:  # Authlib's OAuthError, joserfc's JoseError, network
                log.warning("OIDC sign-in refused from %s: %s: %s", request.remote_addr,
                            type(e).__name__, e)
                return _login_page(settings, "Sign-in with your company account failed. "
                                   "Please try again.", ""), 401
            refusal = oidc_refusal(claims, settings)
            if refusal:
                log.warning("OIDC user %r refused: %s", claims.get("sub"), refusal)
                return _login_page(settings, f"Your account may not use ModelDeck: {refusal}.",
                                   ""), 403
            user = claims.get("email") or claims.get("preferred_username") or claims["sub"]
            log.info("user %r signed in through %s", user, settings.oidc_issuer)
            return _signed_in(user, "oidc", session.get(NEXT_KEY))

    return True


def _register_oidc(server: Flask, settings: AuthSettings):
    from authlib.integrations.flask_client import OAuth
    oauth = OAuth(server)
    return oauth.register(
        "modeldeck",
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret or None,
        server_metadata_url=settings.oidc_issuer + "/.well-known/openid-configuration",
        # PKCE with S256 on top of state and nonce (Authlib makes and checks all three)
        client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256"},
    )


def _check_issuer(oidc, settings: AuthSettings) -> None:
    """The discovery document must name the configured issuer (the ID token's ``iss`` is
    checked against the document's)."""
    issuer = str(oidc.load_server_metadata().get("issuer", "")).rstrip("/")
    if issuer != settings.oidc_issuer:
        raise ValueError(f"the discovery document names issuer {issuer!r}, "
                         f"not {settings.oidc_issuer!r}")


def oidc_refusal(claims: dict, settings: AuthSettings) -> str | None:
    """Why a validated ID token's user may not come in, or None."""
    if settings.allowed_domains:
        email = str(claims.get("email") or "")
        domain = email.rpartition("@")[2].lower()
        if not email or domain not in settings.allowed_domains:
            return "your e-mail domain is not one of the allowed ones"
        if claims.get("email_verified") is False:
            return "your e-mail address is not verified"
    if settings.allowed_groups:
        groups = claims.get("groups") or []
        if isinstance(groups, str):
            groups = [groups]
        if not set(map(str, groups)) & set(settings.allowed_groups):
            return "you are in none of the allowed groups"
    return None


def _signed_in(user: str, method: str, next_url: str | None):
    session.clear()  # a fresh session: nothing from before the login carries over
    session.permanent = True
    session[USER_KEY] = user
    session[METHOD_KEY] = method
    return redirect(_safe_next(next_url))


def _safe_next(next_url: str | None) -> str:
    """Only a path on this server: never another site (``//evil``, ``https://…``)."""
    if not next_url or not next_url.startswith("/") or next_url.startswith(("//", "/\\")):
        return "/"
    return next_url


def _here() -> str:
    qs = request.query_string.decode("latin-1")
    return request.path + (f"?{qs}" if qs else "")


def _wants_page(path: str) -> bool:
    """A browser navigating to a page (not Dash's or the export's API)."""
    if path.startswith(("/_dash-", "/export/", "/_reload-hash")):
        return False
    accept = request.accept_mimetypes
    return accept.accept_html or not request.headers.get("Accept")


def _csrf_ok(sent: str) -> bool:
    expected = session.get(CSRF_KEY, "")
    return bool(expected) and hmac.compare_digest(expected, sent)


LOGIN_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · ModelDeck</title>
<link rel="stylesheet" href="/vendor/bootstrap.min.css">
<link rel="stylesheet" href="/assets/modeldeck.css">
</head>
<body>
<main class="container py-5" id="main">
  <div class="row justify-content-center"><div class="col-sm-10 col-md-6 col-lg-4">
  <h1 class="h3 mb-4">Sign in to ModelDeck</h1>
  {% if signed_out %}<p class="alert alert-info" role="status">You are signed out.</p>{% endif %}
  {% if error %}<p class="alert alert-danger" role="alert" id="login-error">{{ error }}</p>{% endif %}
  {% if oidc %}
  <p><a class="btn btn-primary w-100" id="login-oidc"
        href="/login/oidc{% if next %}?next={{ next|urlencode }}{% endif %}">Sign in with your company account</a></p>
  {% endif %}
  {% if password %}
  {% if oidc %}<p class="text-center text-muted">or</p>{% endif %}
  <form method="post" action="/login" id="login-form">
    <input type="hidden" name="csrf" value="{{ csrf }}">
    <input type="hidden" name="next" value="{{ next }}">
    <div class="mb-3">
      <label for="username" class="form-label">User name</label>
      <input type="text" class="form-control" id="username" name="username" required
             autocomplete="username" autocapitalize="none" spellcheck="false"
             {% if error %}aria-describedby="login-error" aria-invalid="true"{% endif %}>
    </div>
    <div class="mb-3">
      <label for="password" class="form-label">Password</label>
      <input type="password" class="form-control" id="password" name="password" required
             autocomplete="current-password"
             {% if error %}aria-describedby="login-error" aria-invalid="true"{% endif %}>
    </div>
    <button type="submit" class="btn btn-primary w-100" id="login-submit">Sign in</button>
  </form>
  {% endif %}
  </div></div>
</main>
</body>
</html>"""


def _login_page(settings: AuthSettings, error: str | None, next_url: str, signed_out=False):
    if not session.get(CSRF_KEY):
        session[CSRF_KEY] = secrets.token_urlsafe(32)
    return render_template_string(
        LOGIN_PAGE, error=error, next=_safe_next(next_url) if next_url else "",
        csrf=session[CSRF_KEY], oidc="oidc" in settings.methods,
        password="password" in settings.methods, signed_out=signed_out)


# ------------------------------------------------------------------ command line
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m serving.auth",
                                     description="Manage ModelDeck's password file.")
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add-user", help="add a user, or set a user's new password")
    add.add_argument("file", help="the password file (MODELDECK_PASSWORD_FILE); created if new")
    add.add_argument("user")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from standard input instead of asking twice")
    args = parser.parse_args(argv)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"Password for {args.user}: ")
        if getpass.getpass("Again: ") != password:
            print("The two passwords differ; nothing written.", file=sys.stderr)
            return 1
    try:
        add_user(args.file, args.user, password)
    except ValueError as e:
        print(f"{e}; nothing written.", file=sys.stderr)
        return 1
    print(f"{args.user} can now sign in (file {args.file}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
