"""Headers on every response, no server paths shown to viewers, and no start without a login
where other machines could reach the app (serving/security.py, registry/naming.py)."""
from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import dash
import pytest

import app as app_module
from app import Settings, create_app
from registry import SAMPLE_REGISTRY
from registry.naming import display_name, redact
from serving.auth import AuthSettings, add_user
from serving.security import UnsafeSettings, gunicorn_binds

from conftest import build_tiny_registry  # noqa: E402 (tests/ on sys.path)
from test_auth import BANNER_CALLBACK, SECRET, component_suite_url, password_login  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> Path:
    return build_tiny_registry(tmp_path_factory.mktemp("sec") / "my-team-registry")


def policy(response) -> dict[str, list[str]]:
    text = response.headers["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in text.split("; ")}


def assert_headers(response, what):
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (what, name)
    csp = policy(response)
    assert csp["default-src"] == ["'self'"], what
    assert csp["frame-ancestors"] == ["'none'"] and csp["object-src"] == ["'none'"], what
    assert "'unsafe-inline'" not in csp["script-src"], what
    assert "'unsafe-eval'" not in csp["script-src"], what  # Dash and Plotly work without it
    assert not any(s.startswith(("http:", "https:", "*")) for s in csp["script-src"]), what


@pytest.mark.parametrize("login", [False, True])
def test_every_kind_of_response_carries_the_headers(registry, tmp_path, login):
    auth = AuthSettings()
    if login:
        add_user(tmp_path / "users", "ada", "correct horse battery")
        auth = AuthSettings(secret_key=SECRET, password_file=str(tmp_path / "users"))
    app = create_app(Settings(registry=str(registry), auth=auth))
    client = app.server.test_client()
    if login:
        assert_headers(client.get("/login"), "login page")
        assert_headers(client.get("/"), "redirect to the login")
        assert_headers(client.get("/_dash-layout"), "401")
        password_login(client)
    responses = {
        "page": client.get("/models/churn"),
        "callback": client.post("/_dash-update-component", json=BANNER_CALLBACK),
        "layout": client.get("/_dash-layout"),
        "export": client.get("/export/report/model/html?model=churn&version=3"),
        "bad export": client.get("/export/report/nonsense/html"),
        "asset": client.get("/assets/modeldeck.css"),
        "vendor css": client.get("/vendor/bootstrap.min.css"),
        "dash bundle": client.get(component_suite_url(client)),
        "unknown page": client.get("/no/such/page"),
    }
    for what, r in responses.items():
        assert r.status_code < 500, what
        assert_headers(r, what)
    assert responses["export"].status_code == 200
    assert responses["export"].headers["Content-Disposition"].startswith("attachment")


def test_the_policy_allows_exactly_dash_s_inline_scripts(registry):
    """Every inline script in the page is allowed by its hash (so the page works); the
    config block is data (type application/json) and needs none; nothing else is allowed."""
    app = create_app(Settings(registry=str(registry)))
    client = app.server.test_client()
    r = client.get("/")
    html = r.get_data(as_text=True)
    allowed = set(policy(r)["script-src"])
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    inline = [(attrs, body) for attrs, body in scripts if "src=" not in attrs]
    assert any('id="_dash-config"' in a and "application/json" in a for a, _ in inline)
    runnable = [body for attrs, body in inline if "application/json" not in attrs]
    assert any("new DashRenderer" in body for body in runnable)
    hashes = {"'sha256-" + base64.b64encode(hashlib.sha256(b.encode()).digest()).decode() + "'"
              for b in runnable}
    assert hashes <= allowed
    assert allowed - {"'self'"} - hashes == set()


def test_registry_is_named_without_the_server_path(registry):
    app = create_app(Settings(registry=str(registry)))
    client = app.server.test_client()
    layout = dash.page_registry["pages.portfolio"]["layout"]
    with app.server.test_request_context("/"):
        text = str(layout())
    assert "in my-team-registry." in text and str(registry) not in text
    report = client.get("/export/report/portfolio/html").get_data(as_text=True)
    assert "my-team-registry" in report and str(registry.parent) not in report
    broken = create_app(Settings(registry=str(registry.parent / "gone")))
    with broken.server.test_request_context("/"):
        text = str(layout())
    assert "gone" in text and str(registry.parent) not in text


@pytest.mark.parametrize("uri, shown", [
    ("/srv/models/team-registry/", "team-registry"),
    ("file:///srv/models/team-registry", "team-registry"),
    ("https://ml:secret@mlflow.internal:5000/prefix/?token=x", "https://mlflow.internal:5000/prefix"),
    ("http://mlflow.internal:5000", "http://mlflow.internal:5000"),
    ("sqlite:////var/lib/mlflow/mlflow.db", "sqlite: mlflow.db"),
    ("postgresql://user:pw@db.internal:5432/mlflow", "postgresql://db.internal:5432/mlflow"),
    ("databricks", "databricks"),
])
def test_display_name(uri, shown):
    assert display_name(uri) == shown
    assert redact(f"cannot read {uri}: broken", uri) == f"cannot read {shown}: broken"


def test_binding_beyond_this_machine_needs_a_login(tmp_path, caplog):
    for host in ("0.0.0.0", "192.0.2.10", "::"):
        with pytest.raises(UnsafeSettings, match="without a login"):
            create_app(Settings(host=host))
    create_app(Settings(host="127.0.0.1"))
    create_app(Settings(host="::1"))
    with caplog.at_level(logging.WARNING, logger="modeldeck.security"):
        create_app(Settings(host="0.0.0.0", auth=AuthSettings(mode="none")))
    assert "WITHOUT A LOGIN" in caplog.text
    add_user(tmp_path / "users", "ada", "correct horse battery")
    create_app(Settings(host="0.0.0.0", auth=AuthSettings(
        secret_key=SECRET, password_file=str(tmp_path / "users"))))


def test_command_line_refuses_to_bind_everywhere_without_a_login(monkeypatch, capsys):
    for var in ("MODELDECK_AUTH", "MODELDECK_PASSWORD_FILE", "MODELDECK_OIDC_ISSUER"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(dash.Dash, "run", lambda self, **kw: pytest.fail("it started"))
    with pytest.raises(SystemExit) as stop:
        app_module.main(["--host", "0.0.0.0"])
    assert stop.value.code == 2
    assert "without a login" in capsys.readouterr().err


def test_requests_from_other_machines_are_refused_while_the_login_is_off():
    """The bind address is not always known (a gunicorn config file): the app also checks
    where each request comes from."""
    client = create_app(Settings(registry=str(SAMPLE_REGISTRY))).server.test_client()
    assert client.get("/").status_code == 200
    far = client.get("/", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert far.status_code == 403 and b"_dash-config" not in far.data
    assert_headers(far, "refusal")
    proxied = client.post("/_dash-update-component", json=BANNER_CALLBACK,
                          headers={"X-Forwarded-For": "192.0.2.7"})
    assert proxied.status_code == 403
    off = create_app(Settings(registry=str(SAMPLE_REGISTRY), auth=AuthSettings(mode="none")))
    assert off.server.test_client().get(
        "/", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 200


def test_gunicorn_bind_is_read_from_its_command_line():
    assert gunicorn_binds(["/usr/bin/gunicorn", "-b", "0.0.0.0:8000", "app:server"], {}) == [
        "0.0.0.0"]
    assert gunicorn_binds(["gunicorn", "--bind=[::]:80", "-b127.0.0.1:81", "app:server"], {}) == [
        "::", "127.0.0.1"]
    assert gunicorn_binds(["gunicorn", "app:server"], {"GUNICORN_CMD_ARGS": "--bind 10.0.0.1:80"}
                          ) == ["10.0.0.1"]
    assert gunicorn_binds(["gunicorn", "-b", "unix:/run/md.sock", "app:server"], {}) == []
    assert gunicorn_binds(["pytest", "-b", "0.0.0.0:1"], {}) == []
    # make run: serving/run.py hands the address to serving/gunicorn_conf.py in MODELDECK_BIND
    assert gunicorn_binds(["gunicorn", "-c", "serving/gunicorn_conf.py", "app:server"],
                          {"MODELDECK_BIND": "0.0.0.0:8050"}) == ["0.0.0.0"]


def test_gunicorn_style_import_never_debugs_and_refuses_an_open_bind():
    """Import app.py as gunicorn does, in a fresh interpreter with a clean environment: once
    bound to this machine (debug stays off even if asked), then again bound everywhere."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MODELDECK_")}
    code = "\n".join([
        "import importlib, sys",
        "sys.argv = ['gunicorn', 'app:server']",
        "import app",
        "print('debug', app.server.debug, app.app._dev_tools.get('ui'))",
        "sys.argv = ['gunicorn', '-b', '0.0.0.0:8000', 'app:server']",
        "try:",
        "    importlib.reload(app)",
        "except Exception as e:",
        "    print('refused', type(e).__name__, e)",
    ])
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, env={**clean, "MODELDECK_DEBUG": "1"})
    assert out.returncode == 0, out.stderr
    assert "debug False" in out.stdout and "True" not in out.stdout
    assert "refused UnsafeSettings" in out.stdout and "without a login" in out.stdout
