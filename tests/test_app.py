"""The app factory: safe defaults, lazy start, a registry that cannot be opened."""
from __future__ import annotations

import dash
import pytest

import app as app_module
from app import Settings, create_app
from registry import SAMPLE_REGISTRY
from registry.folder import FolderSource


def test_defaults_are_safe(monkeypatch):
    for var in ("MODELDECK_REGISTRY", "MODELDECK_HOST", "MODELDECK_PORT", "MODELDECK_DEBUG"):
        monkeypatch.delenv(var, raising=False)
    s = Settings.from_env()
    assert s.host == "127.0.0.1" and s.port == 8050 and s.debug is False
    assert s.registry == str(SAMPLE_REGISTRY)
    monkeypatch.setenv("MODELDECK_REGISTRY", "/somewhere")
    assert Settings.from_env().registry == "/somewhere"


def test_command_line_passes_registry_and_keeps_debug_off(monkeypatch):
    seen = {}
    monkeypatch.setattr(dash.Dash, "run", lambda self, **kw: seen.update(kw))
    monkeypatch.setattr(app_module, "create_app",
                        lambda settings: seen.update(settings=settings) or create_app(settings))
    app_module.main(["--registry", str(SAMPLE_REGISTRY), "--port", "8123"])
    assert seen["settings"].registry == str(SAMPLE_REGISTRY)
    assert seen["host"] == "127.0.0.1" and seen["port"] == 8123 and seen["debug"] is False


def test_creating_the_app_reads_nothing(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("the registry was read at start-up")
    for name in ("list_models", "list_versions", "evaluation", "monitoring", "runs"):
        monkeypatch.setattr(FolderSource, name, boom)
    create_app(Settings(registry=str(SAMPLE_REGISTRY)))


def test_missing_registry_still_starts_and_explains(tmp_path):
    app = create_app(Settings(registry=str(tmp_path / "missing")))
    layout = dash.page_registry["pages.portfolio"]["layout"]
    with app.server.test_request_context("/"):
        text = str(layout())
    assert "could not be opened" in text and "missing" in text and "no registry folder" in text


def test_index_declares_language_and_serves_css_locally():
    client = create_app(Settings(registry=str(SAMPLE_REGISTRY))).server.test_client()
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "/vendor/bootstrap.min.css" in html and "cdn" not in html.lower()
    css = client.get("/vendor/bootstrap.min.css")
    assert css.status_code == 200 and b"Bootstrap" in css.data[:200]


def test_portfolio_card_callbacks_refuse_odd_ids_without_a_500(tmp_path):
    """A card's id comes from the request: anything but the page's own ids gets an
    'unreadable' card or nothing, never a server error."""
    from fuzz_harness import card_requests  # noqa: E402 (tests/ on sys.path)

    client = create_app(Settings(registry=str(SAMPLE_REGISTRY),
                                 state_dir=str(tmp_path))).server.test_client()
    for req in card_requests("digits"):
        assert client.post("/_dash-update-component", json=req).status_code == 200
        for odd in ("x", None, 3, {"type": "card-body"}, {"model": ["a"], "type": "x"}):
            req["inputs"][0]["value"] = odd
            assert client.post("/_dash-update-component", json=req).status_code == 200


@pytest.mark.parametrize("ref,ok", [
    ({"model": "m", "version": 1, "threshold": 0.5}, True),
    ({"model": "m", "version": 1, "threshold": 1}, True),
    ({"model": "m", "version": 1, "threshold": 2}, False),
    ({"model": "m", "version": 1, "threshold": -0.1}, False),
    ({"model": "m", "version": True, "threshold": 0.5}, False),
    ({"model": "m", "version": "1", "threshold": 0.5}, False),
    ({"model": 3, "version": 1, "threshold": 0.5}, False),
    ({"model": "m", "threshold": 0.5}, False),
    (["m"], False), (None, False)])
def test_a_stores_ref_is_what_the_page_wrote_or_a_400(ref, ok):
    """Every page callback fed by a store checks its ref in one place (pages/_data.checked_ref):
    a hand-made request is a 400 naming the store, never a 500."""
    from werkzeug.exceptions import BadRequest

    from pages._data import checked_ref
    fields = {"version": (int,), "threshold": (int, float)}
    if ok:
        assert checked_ref("charts", ref, fields) is ref
    else:
        with pytest.raises(BadRequest, match="charts-ref must be an object"):
            checked_ref("charts", ref, fields)
