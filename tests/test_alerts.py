"""Alerts and the digest end to end: a real SMTP server (aiosmtpd) and a real HTTP receiver,
both started here on 127.0.0.1, and the command run as cron would run it."""
from __future__ import annotations

import email
import email.policy
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from alerts.__main__ import main
from alerts.settings import SettingsError, load
from analysis.alert_rules import evaluate
from registry import SAMPLE_REGISTRY, open_source
from registry.cached import CachedSource

sys.path.insert(0, str(Path(__file__).resolve().parent))
from alerts_registry import DRIFT_MONTH, UNLABELLED_MONTH, build_alert_registry  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------ the two receivers
class _Inbox:
    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content,
                                                      policy=email.policy.default))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpServer:
    """aiosmtpd on a fixed loopback port, which can be started after a run found it down."""

    def __init__(self, port: int):
        self.port = port
        self.inbox = _Inbox()
        self.controller = None

    def start(self):
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self):
        return self.inbox.messages


class Receiver:
    """An HTTP server taking webhook posts; the first ``fail`` posts get a 500."""

    def __init__(self, fail: int = 0):
        self.posts: list[dict] = []
        self.refused = 0
        self.fail = fail
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if outer.fail > 0:
                    outer.fail -= 1
                    outer.refused += 1
                    self.send_response(500)
                    self.end_headers()
                    return
                outer.posts.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T000/secret"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def smtp():
    server = SmtpServer(_free_port()).start()
    yield server
    server.stop()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    return build_alert_registry(tmp_path_factory.mktemp("alerts") / "registry")


def _snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


RULES = """
[[rule]]
name = "ranking"
kind = "metric_below"
level = 0.65

[[rule]]
name = "estimated ranking"
kind = "estimated_below"
level = 0.65

[[rule]]
name = "inputs"
kind = "psi_above"
level = 0.2

[[rule]]
name = "money"
kind = "money_at_risk_above"
amount = 100

[[rule]]
name = "challenger"
kind = "challenger_better"
"""


def _settings(tmp_path: Path, registry: Path, smtp_port: int, webhook: str,
              digest: bool = False, attempts: int = 3) -> Path:
    text = f"""
registry = "{registry}"
base_url = "https://modeldeck.example.com"
state_dir = "state"

[delivery]
attempts = {attempts}
backoff_seconds = 0.05
timeout_seconds = 2

[email]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
sender = "modeldeck@example.com"
to = ["ml-team@example.com", "oncall@example.com"]

[webhook]
url = "{webhook}"
""" + ("""
[digest]
to = ["managers@example.com"]
format = "pdf"
""" if digest else "") + RULES
    path = tmp_path / "alerts.toml"
    path.write_text(text)
    return path


def _alert_mails(messages):
    return [m for m in messages if m["Subject"].startswith("ModelDeck alert: ")]


# ------------------------------------------------------------------ end to end
def test_alerts_and_digest_reach_both_once(tmp_path, registry, smtp, receiver, capsys):
    before = _snapshot(registry)
    settings = _settings(tmp_path, registry, smtp.port, receiver.url, digest=True)

    # A dry run prints what is due and sends nothing.
    assert main(["--settings", str(settings), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "6 alert(s) fire, 6 not delivered yet" in out and "due." in out
    assert smtp.messages == [] and receiver.posts == []

    assert main(["--settings", str(settings)]) == 0
    out = capsys.readouterr().out
    assert "6 alert(s) fire, 6 not delivered yet" in out

    # Every alert reached the mail server once, with its headline, numbers and link.
    mails = _alert_mails(smtp.messages)
    assert len(mails) == 6
    subjects = sorted(m["Subject"] for m in mails)
    metric_mail = next(m for m in mails if "ROC AUC in production" in m["Subject"])
    assert f"in {DRIFT_MONTH}, below the alert level of 0.650" in metric_mail["Subject"]
    body = metric_mail.get_content()
    assert "on 400 labelled rows" in body and "95% CI" in body
    assert "https://modeldeck.example.com/monitoring/leavers?version=1" in body
    assert metric_mail["To"] == "ml-team@example.com, oncall@example.com"
    assert any("Promote the challenger v2" in s for s in subjects)
    assert any("Retrain v1" in s for s in subjects)
    assert any("the input 'x' shifted in Oct 2026" in s for s in subjects)
    assert any("the input 'x' shifted in Nov 2026" in s for s in subjects)
    # November has no labels: its ranking is estimated from the scores, and has fallen
    estimated = next(m for m in mails if "estimated ROC AUC" in m["Subject"])
    assert f"estimated ROC AUC in {UNLABELLED_MONTH} is 0.5" in estimated["Subject"]
    assert "below the alert level of 0.650 (no labels yet)" in estimated["Subject"]
    assert "recalibrated on those rows" in estimated.get_content()
    assert "Estimated from the scores alone for Nov 2026 (no labels yet, 400 rows): ROC AUC " \
        "0.5" in estimated.get_content()  # the monitoring page's sentence
    assert "(concept shift) does not show in it" in estimated.get_content()

    # … and the webhook, as Slack-compatible JSON with the numbers.
    alerts = [p for p in receiver.posts if "key" in p["modeldeck"]]
    assert len(alerts) == 6
    challenger = next(p for p in alerts if p["modeldeck"]["kind"] == "challenger_better")
    assert challenger["text"].startswith("leavers: Promote the challenger v2")
    assert "<https://modeldeck.example.com/compare?model=leavers&a=1&b=2|" in challenger["text"]
    assert challenger["modeldeck"]["low"] > 0  # significantly better: the interval above 0
    assert challenger["blocks"][0]["type"] == "section"

    # The digest: the portfolio report as a PDF to the digest list, and its summary posted.
    digests = [m for m in smtp.messages if m not in mails]
    assert len(digests) == 1
    d = digests[0]
    assert d["To"] == "managers@example.com"
    assert d["Subject"].startswith("ModelDeck portfolio digest · ")
    files = [(a.get_filename(), a.get_content_type(), a.get_content())
             for a in d.iter_attachments()]
    assert [(f[0], f[1]) for f in files] == [("portfolio-recommendations.pdf", "application/pdf")]
    assert files[0][2].startswith(b"%PDF")
    assert "leavers: Promote the challenger v2" in d.get_body(("plain",)).get_content()
    posted = [p for p in receiver.posts if "digest" in p["modeldeck"]]
    assert len(posted) == 1 and "https://modeldeck.example.com/recommendations" in \
        posted[0]["text"]

    # A second run finds the same alerts and the same week's digest, and sends nothing.
    n_mail, n_posts = len(smtp.messages), len(receiver.posts)
    assert main(["--settings", str(settings)]) == 0
    out = capsys.readouterr().out
    assert "6 alert(s) fire, 0 not delivered yet." in out
    assert "already sent" in out
    assert (len(smtp.messages), len(receiver.posts)) == (n_mail, n_posts)

    # The state lives in the state folder; the registry is untouched.
    assert (tmp_path / "state" / "alerts.sqlite").exists()
    assert _snapshot(registry) == before


def test_an_unreachable_server_is_retried_reported_and_caught_up(tmp_path, registry):
    """The mail server is down: the run retries with back-off, says so and exits 1; the
    webhook, which is up, gets each alert once. The next run, with the server back, sends
    the mails and nothing else."""
    smtp = SmtpServer(_free_port())  # not started: nothing listens on its port
    receiver = Receiver(fail=2)  # the webhook's first two tries get HTTP 500
    try:
        settings = _settings(tmp_path, registry, smtp.port, receiver.url, attempts=3)
        run = subprocess.run([sys.executable, "-m", "alerts", "--settings", str(settings),
                              "--no-digest"], cwd=ROOT, capture_output=True, text=True,
                             timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert run.returncode == 1, run.stdout + run.stderr
        assert "e-mail via 127.0.0.1:%d: FAILED after 3 tries (connection refused; " \
               "connection refused; connection refused). 6 alert(s) not delivered" \
               % smtp.port in run.stdout
        # the webhook recovered on its third try, within the same run
        assert receiver.refused == 2 and len(receiver.posts) == 6
        assert "6 alert(s) sent" in run.stdout

        smtp.start()
        assert main(["--settings", str(settings), "--no-digest"]) == 0
        assert len(_alert_mails(smtp.messages)) == 6
        assert len(receiver.posts) == 6  # nothing sent twice
    finally:
        smtp.stop()
        receiver.stop()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_the_mail_password_comes_from_the_environment(tmp_path, registry, monkeypatch,
                                                      capsys):
    """A server that needs a login: a wrong password is reported (and nothing is marked
    sent); with the right one, from the variable the file names, the alert goes out."""
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def authenticator(server, session, envelope, mechanism, data):
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == \
            (b"modeldeck", b"s3cret")
        return AuthResult(success=ok, handled=False)  # the server answers 535 itself

    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, auth_required=True,
                            auth_require_tls=False, authenticator=authenticator)
    controller.start()
    try:
        settings = tmp_path / "alerts.toml"
        settings.write_text(f"""
registry = "{registry}"
state_dir = "state"
[delivery]
attempts = 2
backoff_seconds = 0.01
[email]
host = "127.0.0.1"
port = {port}
security = "none"
username = "modeldeck"
password_env = "ALERTS_TEST_SMTP_PASSWORD"
sender = "modeldeck@example.com"
to = ["ml-team@example.com"]
[[rule]]
kind = "psi_above"
level = 0.2
""")
        monkeypatch.setenv("ALERTS_TEST_SMTP_PASSWORD", "wrong")
        assert main(["--settings", str(settings)]) == 1
        assert "FAILED after 2 tries (SMTP 535" in capsys.readouterr().out
        assert inbox.messages == []
        monkeypatch.setenv("ALERTS_TEST_SMTP_PASSWORD", "s3cret")
        assert main(["--settings", str(settings)]) == 0
        assert len(inbox.messages) == 2  # x in October and in November
        assert "s3cret" not in settings.read_text()
    finally:
        controller.stop()


def test_a_state_folder_inside_the_registry_is_refused(tmp_path, registry, capsys):
    before = _snapshot(registry)
    settings = _settings(tmp_path, registry, _free_port(), "http://127.0.0.1:9/")
    assert main(["--settings", str(settings), "--state-dir",
                 str(registry / "models" / "alerts")]) == 2
    assert "never writes to a registry it reads" in capsys.readouterr().out
    assert _snapshot(registry) == before


# ------------------------------------------------------------------ the settings file
@pytest.mark.parametrize("text, names", [
    ('[[rule]]\nkind = "metric_below"\n', "[[rule]] 1, field 'level': is missing"),
    ('[[rule]]\nkind = "psi_over"\nlevel = 1\n', "field 'kind': 'psi_over' is not one of"),
    ('[[rule]]\nkind = "psi_above"\nlevel = 0.2\nlimit = 3\n', "field 'limit': unknown field"),
    ('[[rule]]\nkind = "challenger_better"\nchannels = ["email"]\n',
     "field 'channels': 'email' is not configured"),
    ('[email]\nhost = "h"\nsender = "a@b.c"\nto = ["x y@z"]\n', "[email], field 'to'"),
    ('[digest]\nto = ["a@b.c"]\n', "[digest]: needs an [email] table"),
    ('base_url = "modeldeck.example.com"\n', "field 'base_url': must start with"),
    ('[[rule]]\nkind = "money_at_risk_above"\namount = "lots"\n',
     "field 'amount': must be a number"),
    ('[[rule]]\nkind = "psi_above"\nlevel = 0.1\n[[rule]]\nkind = "psi_above"\nlevel = 0.1\n',
     "[[rule]] 2, field 'name'"),
    ("rule = [\n", "not valid TOML"),
])
def test_settings_mistakes_name_the_file_and_field(tmp_path, text, names):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(SettingsError) as e:
        load(path)
    assert str(e.value).startswith(str(path)) and names in str(e.value)


def test_the_example_settings_file_reads(tmp_path):
    s = load(ROOT / "docs" / "alerts-example.toml")
    assert [r.kind for r in s.rules] == ["metric_below", "estimated_below", "psi_above",
                                         "money_at_risk_above", "challenger_better"]
    assert s.digest is not None and s.digest.every == "week"
    assert s.delivery.waits() == [5.0, 10.0, 20.0]


# ------------------------------------------------------------------ the sample's drift
def test_the_sample_churn_alerts_fire_on_its_drift_months():
    """The example rules over the bundled sample: the churn model's alerts are about the
    months from September 2026 on, when its production data drift, and no earlier one."""
    settings = load(ROOT / "docs" / "alerts-example.toml")
    from cachelib import SimpleCache
    deck = CachedSource(open_source(SAMPLE_REGISTRY), SimpleCache())
    result = evaluate(deck, settings.rules)
    assert result.problems == ()
    by_kind: dict[str, set] = {}
    for a in result.alerts:
        assert a.model == "customer-churn"
        by_kind.setdefault(a.kind, set()).add(a.numbers.get("window"))
    assert by_kind["metric_below"] == {"Sep 2026", "Oct 2026"}  # Nov has no labels yet
    assert by_kind["psi_above"] == {"Sep 2026", "Oct 2026", "Nov 2026"}
    assert by_kind["money_at_risk_above"] == {"Oct 2026"}
    # The estimate without labels does not fire on November: the competitor changed how
    # churn depends on the inputs (concept shift), which scores alone cannot show.
    assert set(by_kind) == {"metric_below", "psi_above", "money_at_risk_above",
                            "challenger_better"}
    psi = {(a.numbers["input"], a.numbers["window"]) for a in result.alerts
           if a.kind == "psi_above"}
    assert {("support_calls", m) for m in ("Sep 2026", "Oct 2026", "Nov 2026")} <= psi


def test_a_broken_model_costs_only_itself(tmp_path, registry):
    """A model whose files cannot be read is reported as not checked; the others are."""
    import shutil

    from cachelib import SimpleCache

    from analysis.alert_rules import Rule
    copy = tmp_path / "registry"
    shutil.copytree(registry, copy)
    shutil.copytree(copy / "models" / "leavers", copy / "models" / "broken")
    (copy / "models" / "broken" / "model.json").write_text("{ not json")
    rules = [Rule(kind="psi_above", name="inputs", level=0.2),
             Rule(kind="psi_above", name="elsewhere", level=0.2, models=("nope",))]
    result = evaluate(CachedSource(open_source(copy), SimpleCache()), rules)
    assert [(a.model, a.numbers["input"], a.numbers["window"]) for a in result.alerts] == \
        [("leavers", "x", DRIFT_MONTH), ("leavers", "x", UNLABELLED_MONTH)]
    assert any(p.startswith("broken:") and "model.json" in p for p in result.problems)
    assert "rule 'elsewhere': there is no model called 'nope'." in result.problems


def test_the_estimate_rule_reads_the_monitoring_pages_estimate(registry):
    """The rule fires on exactly the windows whose estimate (analysis.estimation, the same
    object the monitoring page draws) is below the level; by default only where no label
    has arrived, where the estimate is all there is."""
    from cachelib import SimpleCache

    from analysis.alert_rules import Rule
    from analysis.estimation import model_estimate
    deck = CachedSource(open_source(registry), SimpleCache())
    level = 0.72
    rules = [Rule(kind="estimated_below", name="unlabelled", level=level),
             Rule(kind="estimated_below", name="every window", level=level,
                  unlabelled_only=False),
             Rule(kind="estimated_below", name="sure", level=0.56, sure=True),
             Rule(kind="estimated_below", name="recall", level=0.5, metric="recall")]
    fired: dict[str, set] = {}
    for a in evaluate(deck, rules).alerts:
        fired.setdefault(a.rule, set()).add(a.numbers["window"])
    windows = model_estimate(deck, "leavers")[2].windows
    below = set(windows.loc[windows["roc_auc"] < level, "label"])
    assert fired["every window"] == below and len(below) > 1
    assert fired["unlabelled"] == {UNLABELLED_MONTH}
    # 0.555 is below 0.56, but its interval reaches above it: not sure enough
    assert "sure" not in fired and "recall" not in fired


def test_an_mlflow_registry_raises_the_same_alerts(tmp_path, registry):
    """The rules read a registry through its source: the same content in an MLflow store
    (written with MLflow's own client) raises the same alerts, word for word, as the folder.
    (The rules on production data; the money and challenger rules read the recommendations'
    evidence, which the contract suite and tests/test_mlflow_source.py cover per source.)"""
    from cachelib import SimpleCache

    from alerts.settings import parse
    from contract.contract_content import write_sqlite_store
    from contract.mlflow_server import HAVE_MLFLOW
    if not HAVE_MLFLOW:
        pytest.skip("MLflow is not installed (pip install -e '.[mlflow]')")
    import tomllib

    from alerts_registry import alert_content
    rules = [r for r in parse(tomllib.loads(RULES), tmp_path / "rules.toml").rules
             if r.kind in ("metric_below", "estimated_below", "psi_above")]
    uri = write_sqlite_store(tmp_path, alert_content())
    folder = evaluate(CachedSource(open_source(registry), SimpleCache()), rules)
    mlflow = evaluate(CachedSource(open_source(uri), SimpleCache()), rules)
    assert mlflow.problems == ()
    assert len(folder.alerts) == 4
    assert [(a.key, a.headline, a.evidence) for a in mlflow.alerts] == \
        [(a.key, a.headline, a.evidence) for a in folder.alerts]


def test_an_error_metric_alerts_above_its_level(tmp_path):
    """A number model's headline metric is an error (lower is better): metric_above fires on
    the month whose mean absolute error passes the level; metric_below, named for it, says
    why it cannot apply."""
    import numpy as np
    import pandas as pd
    from cachelib import SimpleCache

    from analysis.alert_rules import Rule
    from registry.writer import log_model, log_model_version, log_monitoring
    rng = np.random.default_rng(3)
    root = tmp_path / "registry"
    log_model(root, "price", "regression", target_unit="kEUR")
    y = rng.normal(300, 50, 500)
    log_model_version(root, "price", y_true=y, y_pred=y + rng.normal(0, 10, 500),
                      aliases=["champion"])
    months = [pd.Timestamp(f"2026-{m:02d}-01", tz="UTC") for m in (5, 6, 7, 8, 9)]
    ts = np.concatenate([np.asarray(m + pd.to_timedelta(np.arange(300), unit="h"))
                         for m in months])
    yt = rng.normal(300, 50, len(ts))
    noise = np.r_[np.full(1200, 10.0), np.full(300, 40.0)]  # September's errors grow
    log_monitoring(root, "price", timestamp=ts, version=1, y_true=yt,
                   y_pred=yt + rng.normal(0, 1, len(ts)) * noise)
    rules = [Rule(kind="metric_above", name="error", level=20.0),
             Rule(kind="metric_below", name="wrong way", level=20.0, models=("price",))]
    result = evaluate(CachedSource(open_source(root), SimpleCache()), rules)
    assert [a.numbers["window"] for a in result.alerts] == ["Sep 2026"]
    assert "Mean absolute error in production was 3" in result.alerts[0].headline
    assert "kEUR in Sep 2026, above the alert level of 20.0 kEUR" in result.alerts[0].headline
    assert result.problems == ("rule 'wrong way': price's headline metric, Mean absolute "
                               'error, is better when lower: use kind = "metric_above".',)
    # sure = true: only when the whole 95% interval is past the level
    sep = result.alerts[0].numbers
    between = (sep["low"] + sep["value"]) / 2  # the value is above it, the interval is not
    sure = [Rule(kind="metric_above", name="sure", level=between, sure=True),
            Rule(kind="metric_above", name="sure below", level=sep["low"] - 0.1, sure=True)]
    fired = evaluate(CachedSource(open_source(root), SimpleCache()), sure).alerts
    assert [(a.rule, a.numbers["window"]) for a in fired] == [("sure below", "Sep 2026")]


def test_delivery_backs_off_doubling_and_stops_at_the_first_success():
    from alerts.channels import deliver
    from alerts.settings import Delivery

    waits: list[float] = []
    calls = {"n": 0}

    def refused():
        calls["n"] += 1
        raise ConnectionRefusedError()

    out = deliver(refused, Delivery(attempts=4, backoff_seconds=0.5), sleep=waits.append)
    assert (out.ok, calls["n"], waits) == (False, 4, [0.5, 1.0, 2.0])
    assert out.tries == ("connection refused",) * 4

    def third_time_lucky():
        calls["n"] += 1
        if calls["n"] < 3:
            raise TimeoutError()

    calls["n"], waits[:] = 0, []
    out = deliver(third_time_lucky, Delivery(attempts=4, backoff_seconds=0.5),
                  sleep=waits.append)
    assert (out.ok, calls["n"], waits) == (True, 3, [0.5, 1.0])
