"""In a real browser: sign in through the password form, then every page works under the
Content-Security-Policy — no console errors and no policy violations."""
from __future__ import annotations

import pytest

from app import Settings, create_app
from registry import SAMPLE_REGISTRY
from serving.auth import AuthSettings, add_user

from browser_helpers import axe_violations, click, wait_cards, wait_until  # noqa: E402 (tests/ on sys.path)

pytestmark = pytest.mark.browser

# Runs before any page script (through DevTools, so the page's policy does not apply to it):
# records every violation of the policy the browser reports.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
    window.__cspViolations.push(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline')
                                + ' at ' + e.sourceFile + ':' + e.lineNumber);
});
"""

PAGES = [  # address, what shows it rendered
    ("/", ".model-card"),
    ("/models/customer-churn", "#confusion-matrix .main-svg"),
    ("/compare?model=customer-churn", "#compare-roc .main-svg"),
    ("/monitoring/customer-churn", "#drift-heatmap .main-svg"),
    ("/recommendations", "#recommendations .accordion-button"),
    ("/experiments?experiment=churn-sweep", "#exp-count"),
]


def violations(dash_duo) -> list[str]:
    return dash_duo.driver.execute_script("return window.__cspViolations || []")


def test_sign_in_and_every_page_works_under_the_policy(dash_duo, tmp_path):
    add_user(tmp_path / "users", "ada", "correct horse battery")
    app = create_app(Settings(registry=str(SAMPLE_REGISTRY), auth=AuthSettings(
        secret_key="browser-test-secret-0123456789", password_file=str(tmp_path / "users"))))
    dash_duo.start_server(app, navigate=False)  # its first page is the login form, not Dash
    dash_duo.driver.set_window_size(1400, 1000)
    dash_duo.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                                    {"source": RECORD_VIOLATIONS})
    base = dash_duo.server.url.rstrip("/")

    dash_duo.driver.get(base + "/monitoring/customer-churn")
    dash_duo.wait_for_element("#login-form", timeout=20)
    assert "/login?next=" in dash_duo.driver.current_url
    assert axe_violations(dash_duo.driver) == []
    dash_duo.find_element("#username").send_keys("ada")
    dash_duo.find_element("#password").send_keys("wrong password")
    dash_duo.find_element("#login-submit").click()
    dash_duo.wait_for_contains_text("#login-error", "Wrong user name or password", timeout=10)
    assert axe_violations(dash_duo.driver) == []
    dash_duo.find_element("#username").send_keys("ada")
    dash_duo.find_element("#password").send_keys("correct horse battery")
    dash_duo.find_element("#login-submit").click()
    # back where the browser was going, signed in
    dash_duo.wait_for_text_to_equal("h1", "customer-churn in production", timeout=30)
    assert dash_duo.driver.current_url == base + "/monitoring/customer-churn"
    # the login page's failed attempt logged a 401 (the browser reports it): start clean
    dash_duo.reset_log_timestamp()

    for path, shown in PAGES:
        dash_duo.driver.get(base + path)
        dash_duo.wait_for_element(shown, timeout=60)
        dash_duo.wait_for_element("#sign-out", timeout=10)
        assert violations(dash_duo) == [], path
        assert dash_duo.get_logs() == [], path
    # a page reached by following a link (client-side navigation) too
    dash_duo.driver.get(base + "/")
    wait_cards(dash_duo, 4)
    click(dash_duo, "a[href='/models/digits'].btn")
    dash_duo.wait_for_text_to_equal("h1", "digits", timeout=30)
    assert violations(dash_duo) == [] and dash_duo.get_logs() == []

    # what the policy is for: a script the server did not write does not run
    dash_duo.driver.execute_script(
        "const s = document.createElement('script');"
        "s.textContent = 'window.__injected = 1'; document.body.appendChild(s);")
    wait_until(lambda: violations(dash_duo), 10, "the browser to report the blocked script")
    assert dash_duo.driver.execute_script("return window.__injected") is None

    click(dash_duo, "#sign-out")
    dash_duo.wait_for_element("#login-form", timeout=20)
    dash_duo.driver.get(base + "/recommendations")
    dash_duo.wait_for_element("#login-form", timeout=20)
