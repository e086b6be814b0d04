"""Login (serving/auth.py): every route family refused without it and served with it, for a
password file and for OpenID Connect against a real small provider on 127.0.0.1."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from app import Settings, create_app
from serving.auth import AuthConfigError, AuthSettings, add_user, read_password_file

from conftest import build_tiny_registry  # noqa: E402 (tests/ on sys.path)
from oidc_provider import CLIENT_ID, CLIENT_SECRET, OIDCProvider  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SECRET = "s3cret-key-for-tests-only-0123456789"

# A real callback of every page: the registry banner (app.py), with the browser's payload.
BANNER_CALLBACK = {
    "output": "..registry-banner.children...registry-state.data..",
    "outputs": [{"id": "registry-banner", "property": "children"},
                {"id": "registry-state", "property": "data"}],
    "inputs": [{"id": "registry-poll", "property": "n_intervals", "value": 1},
               {"id": "_pages_location", "property": "pathname", "value": "/"}],
    "changedPropIds": ["registry-poll.n_intervals"],
    "state": [{"id": "registry-state", "property": "data", "value": None}],
}


def component_suite_url(client) -> str:
    """The first Dash script the index page loads (a public static file)."""
    html = client.get("/").get_data(as_text=True)
    return re.search(r'src="(/_dash-component-suites/[^"]+)"', html).group(1)


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> Path:
    """One small registry for the module: the app only reads it."""
    return build_tiny_registry(tmp_path_factory.mktemp("auth") / "reg")


@pytest.fixture
def password_file(tmp_path) -> Path:
    path = tmp_path / "users"
    add_user(path, "ada", "correct horse battery")
    return path


@pytest.fixture
def password_app(registry, password_file):
    return create_app(Settings(registry=str(registry), auth=AuthSettings(
        secret_key=SECRET, password_file=str(password_file))))


@pytest.fixture(scope="module")
def provider():
    p = OIDCProvider().start()
    yield p
    p.stop()


@pytest.fixture
def oidc_app(registry, provider):
    provider.sabotage = None
    return create_app(Settings(registry=str(registry), auth=AuthSettings(
        secret_key=SECRET, oidc_issuer=provider.issuer, oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET)))


def password_login(client, user="ada", password="correct horse battery", next_url=""):
    page = client.get("/login" + (f"?next={next_url}" if next_url else ""))
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    return client.post("/login", data={"username": user, "password": password, "csrf": csrf,
                                       "next": next_url})


def oidc_login(client, tamper_state=False):
    """The browser's part of the flow: ModelDeck → provider (real HTTP) → ModelDeck."""
    to_provider = client.get("/login/oidc?next=/compare")
    assert to_provider.status_code == 302
    back = requests.get(to_provider.headers["Location"], allow_redirects=False, timeout=10)
    assert back.status_code == 302, back.text
    callback = urlsplit(back.headers["Location"])
    query = callback.query
    if tamper_state:
        query = re.sub(r"state=[^&]+", "state=forged", query)
    return client.get(f"{callback.path}?{query}")


def assert_refused_everywhere(client, export_url):
    page = client.get("/models/churn?version=2", headers={"Accept": "text/html"})
    assert page.status_code == 302
    assert page.headers["Location"].startswith("/login?next=")
    assert parse_qs(urlsplit(page.headers["Location"]).query)["next"] == ["/models/churn?version=2"]
    assert client.get("/", headers={"Accept": "text/html"}).status_code == 302
    for url in ("/_dash-layout", "/_dash-dependencies", export_url, "/_reload-hash"):
        r = client.get(url)
        assert r.status_code == 401, url
        assert b"churn" not in r.data and b"iris" not in r.data
    r = client.post("/_dash-update-component", json=BANNER_CALLBACK)
    assert r.status_code == 401 and b"registry-banner" not in r.data


def assert_served_everywhere(client, export_url):
    page = client.get("/models/churn?version=2")
    assert page.status_code == 200 and b"_dash-config" in page.data
    layout = client.get("/_dash-layout")
    assert layout.status_code == 200 and b"registry-banner" in layout.data
    assert client.get("/_dash-dependencies").status_code == 200
    r = client.post("/_dash-update-component", json=BANNER_CALLBACK)
    assert r.status_code == 200 and r.get_json()["response"]["registry-state"]["data"] == {
        "down": False, "recovered": False}
    export = client.get(export_url)
    assert export.status_code == 200 and b"churn" in export.data


EXPORT = "/export/report/model/html?model=churn&version=3"


def test_static_files_without_registry_data_stay_public(password_app):
    client = password_app.server.test_client()
    assert client.get("/login").status_code == 200
    for url in ("/assets/modeldeck.css", "/vendor/bootstrap.min.css"):
        assert client.get(url).status_code == 200, url
    # the index page itself needs the login, so find a Dash bundle's address with it
    password_login(client)
    suite = component_suite_url(client)
    assert password_app.server.test_client().get(suite).status_code == 200


def test_password_file_login_covers_every_route_family(password_app):
    client = password_app.server.test_client()
    assert_refused_everywhere(client, EXPORT)
    r = password_login(client, next_url="/compare?model=churn")
    assert r.status_code == 302 and r.headers["Location"] == "/compare?model=churn"
    with client.session_transaction() as s:
        assert s["modeldeck_user"] == "ada"
    assert_served_everywhere(client, EXPORT)
    assert b"Sign out" in client.get("/_dash-layout").data
    client.get("/logout")
    assert_refused_everywhere(client, EXPORT)


def test_wrong_password_unknown_user_and_missing_form_token_are_refused(password_app):
    client = password_app.server.test_client()
    for user, password in (("ada", "wrong password"), ("bob", "correct horse battery"),
                           ("ada", "")):
        r = password_login(client, user, password)
        assert r.status_code == 401 and b"Wrong user name or password" in r.data
        with client.session_transaction() as s:
            assert "modeldeck_user" not in s
    r = client.post("/login", data={"username": "ada", "password": "correct horse battery"})
    assert r.status_code == 400
    assert_refused_everywhere(client, EXPORT)


def test_login_sends_only_to_paths_on_this_server(password_app):
    for evil in ("//evil.example.com/x", "https://evil.example.com", "/\\evil.example.com"):
        client = password_app.server.test_client()
        r = password_login(client, next_url=evil)
        assert r.status_code == 302 and r.headers["Location"] == "/", evil


def test_session_cookie_is_httponly_lax_and_secure_over_https(password_app):
    client = password_app.server.test_client()
    r = password_login(client)
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("modeldeck_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    https = password_app.server.test_client()
    page = https.get("/login", base_url="https://modeldeck.test")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    r = https.post("/login", base_url="https://modeldeck.test",
                   data={"username": "ada", "password": "correct horse battery", "csrf": csrf})
    assert "Secure" in r.headers["Set-Cookie"]


def test_login_page_is_a_labelled_form():
    app = create_app(Settings(auth=AuthSettings(secret_key=SECRET, password_file=str(
        _file_with_user()))))
    html = app.server.test_client().get("/login").get_data(as_text=True)
    assert '<html lang="en">' in html and "<main" in html and "<h1" in html
    for field, autocomplete in (("username", "username"), ("password", "current-password")):
        assert f'<label for="{field}"' in html
        assert f'id="{field}"' in html and f'autocomplete="{autocomplete}"' in html
    assert "<script" not in html and "style=" not in html


def _file_with_user() -> Path:
    import tempfile
    path = Path(tempfile.mkdtemp()) / "users"
    add_user(path, "ada", "correct horse battery")
    return path


def test_add_user_command_writes_a_hash_that_logs_in(tmp_path):
    path = tmp_path / "team-users"
    for password in ("first password", "second password"):  # the second replaces the first
        out = subprocess.run([sys.executable, "-m", "serving.auth", "add-user", str(path), "bob",
                              "--password-stdin"], input=password + "\n", text=True,
                             capture_output=True, cwd=ROOT, timeout=60)
        assert out.returncode == 0, out.stderr
    users = read_password_file(path)
    assert list(users) == ["bob"] and users["bob"].startswith(("scrypt:", "pbkdf2:"))
    assert "second password" not in path.read_text()
    assert path.stat().st_mode & 0o077 == 0
    app = create_app(Settings(auth=AuthSettings(secret_key=SECRET, password_file=str(path))))
    client = app.server.test_client()
    assert password_login(client, "bob", "first password").status_code == 401
    assert password_login(client, "bob", "second password").status_code == 302
    short = subprocess.run([sys.executable, "-m", "serving.auth", "add-user", str(path), "eve",
                            "--password-stdin"], input="short\n", text=True,
                           capture_output=True, cwd=ROOT, timeout=60)
    assert short.returncode == 1 and "eve" not in read_password_file(path)


def test_oidc_login_covers_every_route_family(oidc_app, provider):
    client = oidc_app.server.test_client()
    assert_refused_everywhere(client, EXPORT)
    r = oidc_login(client)
    assert r.status_code == 302 and r.headers["Location"] == "/compare"
    with client.session_transaction() as s:
        assert s["modeldeck_user"] == "ada@example.com"
    asked = provider.authorize_requests[-1]
    assert asked["code_challenge_method"] == "S256" and asked["nonce"] and asked["state"]
    assert "openid" in asked["scope"].split()
    assert provider.token_requests[-1]["code_verifier"]
    assert_served_everywhere(client, EXPORT)
    client.get("/logout")
    assert_refused_everywhere(client, EXPORT)


@pytest.mark.parametrize("sabotage", ["signature", "payload", "nonce", "audience", "issuer",
                                      "expired"])
def test_oidc_refuses_a_token_that_does_not_validate(oidc_app, provider, sabotage):
    provider.sabotage = sabotage
    client = oidc_app.server.test_client()
    r = oidc_login(client)
    assert r.status_code == 401 and b"Sign-in with your company account failed" in r.data
    with client.session_transaction() as s:
        assert "modeldeck_user" not in s
    assert_refused_everywhere(client, EXPORT)


def test_oidc_refuses_a_forged_state(oidc_app, provider):
    client = oidc_app.server.test_client()
    r = oidc_login(client, tamper_state=True)
    assert r.status_code == 401
    with client.session_transaction() as s:
        assert "modeldeck_user" not in s


def test_oidc_allowed_domains_and_groups(registry, provider):
    def app_with(**kw):
        return create_app(Settings(registry=str(registry), auth=AuthSettings(
            secret_key=SECRET, oidc_issuer=provider.issuer, oidc_client_id=CLIENT_ID,
            oidc_client_secret=CLIENT_SECRET, **kw)))
    provider.sabotage = None
    assert oidc_login(app_with(allowed_domains=("example.com",)).server.test_client()
                      ).status_code == 302
    r = oidc_login(app_with(allowed_domains=("corp.example",)).server.test_client())
    assert r.status_code == 403 and b"e-mail domain" in r.data
    assert oidc_login(app_with(allowed_groups=("analytics",)).server.test_client()
                      ).status_code == 302
    r = oidc_login(app_with(allowed_groups=("finance",)).server.test_client())
    assert r.status_code == 403 and b"allowed groups" in r.data


def test_settings_read_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MODELDECK_SECRET_KEY", SECRET)
    monkeypatch.setenv("MODELDECK_OIDC_ISSUER", "https://login.example.com/")
    monkeypatch.setenv("MODELDECK_OIDC_CLIENT_ID", "md")
    monkeypatch.setenv("MODELDECK_OIDC_ALLOWED_DOMAINS", "Example.com, corp.example")
    monkeypatch.setenv("MODELDECK_OIDC_ALLOWED_GROUPS", "Analytics")
    auth = Settings.from_env().auth
    assert auth.methods == ("oidc",) and auth.oidc_issuer == "https://login.example.com"
    assert auth.allowed_domains == ("example.com", "corp.example")
    assert auth.allowed_groups == ("Analytics",)


@pytest.mark.parametrize("auth, says", [
    (AuthSettings(password_file="users"), "MODELDECK_SECRET_KEY"),
    (AuthSettings(secret_key="short", password_file="users"), "MODELDECK_SECRET_KEY"),
    (AuthSettings(secret_key=SECRET, password_file="/no/such/file"), "no file at"),
    (AuthSettings(secret_key=SECRET, oidc_issuer="https://x.example"), "CLIENT_ID"),
    (AuthSettings(mode="oidc", secret_key=SECRET), "MODELDECK_OIDC_ISSUER"),
    (AuthSettings(mode="ldap"), "not one of"),
])
def test_incomplete_login_settings_refuse_to_start(auth, says):
    with pytest.raises(AuthConfigError, match=says):
        create_app(Settings(auth=auth))


def test_a_provider_that_does_not_answer_is_a_message_not_an_error(registry):
    from contract.mlflow_server import free_port
    app = create_app(Settings(registry=str(registry), auth=AuthSettings(
        secret_key=SECRET, oidc_issuer=f"http://127.0.0.1:{free_port()}",
        oidc_client_id=CLIENT_ID, oidc_client_secret=CLIENT_SECRET)))
    r = app.server.test_client().get("/login/oidc")
    assert r.status_code == 503 and b"does not answer" in r.data
