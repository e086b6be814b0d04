"""ModelDeck: the Dash app.

    python app.py                          # the bundled sample registry on http://127.0.0.1:8050
    python app.py --registry path/to/reg   # your own registry (or MODELDECK_REGISTRY=...)
    gunicorn app:server                    # production; settings from the environment

``create_app(settings)`` builds one app; nothing is read from the registry until a page asks.
"""
from __future__ import annotations

import argparse
import importlib.util
import logging
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import dash
from dash import Input, Output, State
from flask import Response, abort, send_file
from flask_caching import Cache

from components.figures import load_plotly
from components.shell import app_shell, registry_banner
from registry import RegistryError, default_registry, open_source
from registry.cached import CachedSource
from registry.naming import public_problem
from registry.rows import load_engine
from reports.images import configure_renders
from reports.routes import register_export
from serving import config as serving, jobs, web
from serving.auth import AuthConfigError, AuthSettings, install_auth
from serving.locks import shared_locks
from serving.pages import cache_layouts
from serving.security import UnsafeSettings, install_security

HERE = Path(__file__).resolve().parent
log = logging.getLogger("modeldeck")


@dataclass(frozen=True)
class Settings:
    registry: str = field(default_factory=default_registry)
    host: str = "127.0.0.1"
    port: int = 8050
    debug: bool = False
    title: str = "ModelDeck"
    # Flask-Caching configuration; None: chosen from cache_url and workers (serving/config.py):
    # RedisCache with a redis:// URL, else a FileSystemCache in state_dir shared by the
    # workers of this machine, or a SimpleCache when there is one worker.
    cache: dict | None = None
    cache_url: str = ""
    workers: int = 1
    state_dir: str = ""  # "" : $MODELDECK_STATE_DIR or $TMPDIR/modeldeck-<uid>
    renders: int = 2  # charts/PDFs rendered at once on this machine; others queue (20 s)
    exports_per_minute: int = 30  # per user, on /export/...
    # How often an open page asks whether the registry still answers (banner, recovery).
    status_poll_seconds: float = 15.0
    # Login (serving/auth.py): off unless set up; required to bind beyond this machine.
    auth: AuthSettings = field(default_factory=AuthSettings)

    @classmethod
    def from_env(cls) -> "Settings":
        env = os.environ
        return cls(registry=default_registry(),
                   host=env.get("MODELDECK_HOST", "127.0.0.1"),
                   port=int(env.get("MODELDECK_PORT", "8050")),
                   debug=env.get("MODELDECK_DEBUG", "").lower() in ("1", "true", "yes"),
                   auth=AuthSettings.from_env(env),
                   cache_url=env.get("MODELDECK_CACHE_URL", ""),
                   workers=int(env.get("MODELDECK_WORKERS", "1")),
                   state_dir=env.get("MODELDECK_STATE_DIR", ""),
                   renders=int(env.get("MODELDECK_RENDERS", "2")),
                   exports_per_minute=int(env.get("MODELDECK_EXPORTS_PER_MINUTE", "30")))


INDEX = """<!DOCTYPE html>
<html lang="en">
    <head>
        {%metas%}
        <title>{%title%}</title>
        {%favicon%}
        {%css%}
    </head>
    <body>
        {%app_entry%}
        <footer>
            {%config%}
            {%scripts%}
            {%renderer%}
        </footer>
    </body>
</html>"""


class BrokenSource:
    """Stands in for a registry that cannot be opened at all, so the app still starts and
    every page says why instead of failing."""

    def __init__(self, uri: str, error: RegistryError):
        self.uri = uri
        self.error = error


def create_app(settings: Settings | None = None) -> dash.Dash:
    settings = settings or Settings()
    state = serving.state_dir(settings.state_dir)
    manager = jobs.background_manager(settings.cache_url, state)  # reports, importance
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder=str(HERE / "pages"),
        assets_folder=str(HERE / "assets"),
        external_stylesheets=["/vendor/bootstrap.min.css"],
        title=settings.title,
        suppress_callback_exceptions=True,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
        background_callback_manager=manager,
    )
    app.index_string = INDEX
    from pages._data import deck as current_deck
    cache_layouts(app, current_deck)  # warm views from the shared cache (serving/pages.py)
    server = app.server
    cache = Cache(app=server, config=settings.cache or serving.cache_config(
        settings.cache_url, settings.workers, state))
    locks = shared_locks(settings.cache_url, settings.workers, state)  # compute once
    try:
        deck = CachedSource(open_source(settings.registry), cache, locks=locks)
    except RegistryError as e:
        log.error("cannot open registry %s: %s", settings.registry, e)
        # viewers see the registry's name, never the server's path (registry/naming.py)
        deck = BrokenSource(settings.registry,
                            RegistryError(public_problem(e.problem, settings.registry)))
    server.extensions["modeldeck"] = deck
    server.extensions["modeldeck.settings"] = settings
    load_engine()  # the query engine's modules load with the server, not on a first page
    load_plotly()  # so do Plotly's
    server.extensions["modeldeck.celery"] = jobs.celery_of(manager)
    configure_renders(settings.renders, state / "renders")
    web.compress(server)
    web.cache_static(server)
    web.limit_exports(server, cache, settings.exports_per_minute, 60)
    web.refuse_malformed_callbacks(server)

    css = _bootstrap_css()

    @server.route("/vendor/bootstrap.min.css")
    def bootstrap_css():  # served locally: ModelDeck works with no internet access
        if css is None:
            abort(404)
        return send_file(css, mimetype="text/css", max_age=86400)

    @server.route("/registry-image/<model>/<int:version>/<name>")
    def registry_image(model: str, version: int, name: str):
        """A chart image stored with a version (what mlflow.evaluate drew), read-only: only
        an image the version's run holds, only PNG, JPEG or SVG, size-limited; an SVG is
        served so that it can only be shown as an image, never run as a page."""
        if not isinstance(deck, CachedSource):
            abort(503)
        try:
            data, mime = deck.image(model, version, name)
        except KeyError:
            abort(404)
        except RegistryError:
            abort(503)
        response = Response(data, mimetype=mime)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = "default-src 'none'; " \
            "style-src 'unsafe-inline'; sandbox"
        response.headers["Cache-Control"] = "private, max-age=300"
        return response

    login_on = install_auth(app, settings.auth)  # serving/auth.py: login before everything
    install_security(app, settings)  # serving/security.py: headers; no data to others unasked
    app.layout = app_shell(settings.title, settings.status_poll_seconds, sign_out=login_on)
    _registry_status_callbacks(app)
    register_export(app)  # chart downloads, report buttons, /export/... (reports/)
    web.finish_dash_setup(app)  # not on the first request: threads would race it
    return app


def _registry_status_callbacks(app: dash.Dash) -> None:
    """The banner above every page: shown while the registry cannot be read (server down,
    wrong address, access refused); when it answers again the page reloads by itself."""
    from pages._data import registry_problem

    @app.callback(Output("registry-banner", "children"), Output("registry-state", "data"),
                  Input("registry-poll", "n_intervals"), Input("_pages_location", "pathname"),
                  State("registry-state", "data"))
    def registry_status(_n, _path, previous):
        problem = registry_problem()
        state = {"down": problem is not None,
                 "recovered": problem is None and bool((previous or {}).get("down"))}
        return registry_banner(problem), state

    app.clientside_callback(
        """function (state) {
            if (state && state.recovered) { window.location.reload(); }
            return window.dash_clientside.no_update;
        }""",
        Output("registry-reload", "data"), Input("registry-state", "data"))


def _bootstrap_css() -> Path | None:
    spec = importlib.util.find_spec("flask_bootstrap")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "static/bootstrap5/css/bootstrap.min.css"
    return path if path.exists() else None


def main(argv: list[str] | None = None) -> None:
    env = Settings.from_env()
    parser = argparse.ArgumentParser(description="Run the ModelDeck dashboard.")
    parser.add_argument("--registry", default=env.registry,
                        help="registry folder (default: $MODELDECK_REGISTRY or the bundled sample)")
    parser.add_argument("--host", default=env.host, help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=env.port, help="port (default 8050)")
    parser.add_argument("--debug", action="store_true", default=env.debug,
                        help="Dash debug mode (reloader, dev tools); never on a shared server")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = replace(env, registry=args.registry, host=args.host, port=args.port,
                       debug=args.debug)
    try:
        app = create_app(settings)
    except (UnsafeSettings, AuthConfigError) as e:
        parser.exit(2, f"ModelDeck did not start: {e}\n")
    log.info("ModelDeck on http://%s:%s reading %s", args.host, args.port, args.registry)
    app.run(host=args.host, port=args.port, debug=args.debug)


if __name__ == "__main__":
    main()
else:
    # For gunicorn (`gunicorn app:server`): settings come from the environment.
    # Creating the app reads nothing from the registry.
    app = create_app(Settings.from_env())
    server = app.server
    # For Celery workers (`celery -A app:celery_app worker`), when MODELDECK_CACHE_URL is Redis.
    celery_app = server.extensions["modeldeck.celery"]
