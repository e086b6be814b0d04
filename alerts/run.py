"""One run of the alert command: check the rules, send what is new, send the digest when due.

Exit status: 0 everything due was delivered (or nothing was due); 1 something could not be
delivered (it is kept and tried again on the next run) or the digest could not be built;
2 the settings or the registry could not be read, or the state folder is unusable;
3 another run is working on the same state folder.
"""
from __future__ import annotations

import os
import sqlite3
import time
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from threadpoolctl import threadpool_limits

from analysis.alert_rules import Alert, evaluate
from registry import RegistryError, default_registry, open_source
from registry.cached import CachedSource
from registry.naming import display_name  # never a password from an MLflow URI in a log

from .channels import Message, Outcome, deliver, send_email, send_webhook
from .settings import Settings
from .state import Busy, State, inside, open_state

OK, UNDELIVERED, UNUSABLE, BUSY = 0, 1, 2, 3

LINK_TEXT = {"/monitoring/": "Open production monitoring", "/compare": "Open the comparison"}


@dataclass
class Options:
    registry: str = ""  # overrides the settings file's
    state_dir: str = ""  # overrides the settings file's
    digest: bool = True  # send the digest when one is due
    dry_run: bool = False  # check and print; send nothing, record no delivery
    sleep: Callable[[float], None] = time.sleep


@dataclass
class Report:
    """What a run did, for its output and its exit status."""

    lines: list[str] = field(default_factory=list)
    failed: bool = False
    echo: Callable[[str], None] | None = None  # print each line as it comes

    def say(self, text: str = "") -> None:
        self.lines.append(text)
        if self.echo is not None:
            self.echo(text)


def resolve(settings: Settings, given: str, configured: str) -> str:
    """A path from the command line as given; one from the settings file relative to it."""
    if given:
        return given
    if configured and "://" not in configured and not configured.startswith("file:"):
        p = Path(configured).expanduser()
        return os.path.normpath(p if p.is_absolute() else (settings.path.parent / p))
    return configured


def state_folder(settings: Settings, options: Options) -> Path:
    from registry.links import state_dir
    chosen = resolve(settings, options.state_dir, settings.state_dir)
    return Path(chosen).expanduser() if chosen else state_dir() / "alerts"


class _Prefixed:
    """A cache whose keys start with the code's version: results pickled by an older build
    are never read back (as the app's shared cache, serving/config.py)."""

    def __init__(self, cache, prefix: str):
        self.cache, self.prefix = cache, prefix

    def get(self, key: str):
        return self.cache.get(self.prefix + key)

    def set(self, key: str, value, timeout: int | None = None):
        return self.cache.set(self.prefix + key, value, timeout=timeout)


def analysis_cache(folder: Path):
    """The analysis results of earlier runs, in the state folder: a model whose data did not
    change since the last run is not computed again (keys carry the data's version, as in
    the app)."""
    from cachelib import FileSystemCache

    from serving.config import code_version
    return _Prefixed(FileSystemCache(str(folder / "cache"), threshold=2000,
                                     default_timeout=CACHE_DAYS * 86400, mode=0o600),
                     code_version() + ":")


#: how long an analysis result stays in the state folder's cache
CACHE_DAYS = 14


def run(settings: Settings, options: Options, report: Report) -> int:
    started = time.perf_counter()
    registry = resolve(settings, options.registry, settings.registry) or default_registry()
    folder = state_folder(settings, options)
    if inside(folder, registry):
        report.say(f"The state folder {folder} is inside the registry {registry}: ModelDeck "
                   "never writes to a registry it reads. Choose another (--state-dir).")
        return UNUSABLE
    with ExitStack() as stack:
        try:
            state = stack.enter_context(open_state(folder))
        except Busy as e:
            report.say(f"Not run: {e}.")
            return BUSY
        except (OSError, sqlite3.Error) as e:
            report.say(f"The state folder {folder} cannot be used: {e}")
            return UNUSABLE
        try:
            deck = CachedSource(open_source(registry), analysis_cache(folder))
            deck.source.data_version(None)  # a server that does not answer says so here
        except RegistryError as e:
            report.say(f"The registry {display_name(registry)} could not be read: "
                       f"{e.problem}")
            return UNUSABLE
        # One BLAS thread: a scheduled job shares the machine with the app it reports on.
        with threadpool_limits(limits=1):
            return _run(settings, options, report, deck, state, started)


def _run(settings, options, report, deck, state: State, started: float) -> int:
    result = evaluate(deck, settings.rules)
    report.say(f"Checked {len(settings.rules)} rule(s) on {len(result.checked)} model(s) of "
               f"{display_name(deck.uri)} in {time.perf_counter() - started:.1f} s.")
    for p in result.problems:
        report.say(f"  not checked: {p}")
    channels = settings.channels
    fresh = {a.key: a for a in result.alerts
             if not channels or any(not state.delivered(a.key, c)
                                    for c in _channels(a, channels))}
    report.say(f"{len(result.alerts)} alert(s) fire, {len(fresh)} not delivered yet"
               + (":" if fresh else "."))
    for a in fresh.values():
        report.say(f"  - {a.headline}")
    if not channels and fresh:
        report.say("  No [email] or [webhook] is configured: nothing is sent.")
    if options.dry_run:
        if settings.digest is not None and options.digest:
            from .digest import period
            when = period(settings.digest.every)
            sent = state.delivered(digest_key(settings.digest.every, when), "email")
            report.say(f"Digest for {when}: {'already sent' if sent else 'due'}.")
        report.say("Dry run: nothing sent, no delivery recorded.")
        return OK
    for channel in channels:
        if channel == "webhook" and not settings.webhook.address:
            report.failed = True
            report.say(f"webhook: no address: the environment variable "
                       f"{settings.webhook.url_env} is not set. Nothing is posted.")
            continue
        todo = [a for a in fresh.values()
                if channel in _channels(a, channels) and not state.delivered(a.key, channel)]
        if todo:
            _send_alerts(settings, options, report, state, channel, todo)
    if settings.digest is not None and options.digest:
        _send_digest(settings, options, report, deck, state)
    report.say(f"Done in {time.perf_counter() - started:.1f} s.")
    return UNDELIVERED if report.failed else OK


def _channels(alert: Alert, configured: tuple[str, ...]) -> tuple[str, ...]:
    return alert.channels or configured


def alert_message(settings: Settings, alert: Alert) -> Message:
    link_text = next((t for p, t in LINK_TEXT.items() if alert.path.startswith(p)),
                     "Open in ModelDeck")
    return Message(subject=alert.headline, lines=alert.evidence,
                   link=settings.link(alert.path), link_text=link_text,
                   data={"key": alert.key, "rule": alert.rule, "kind": alert.kind,
                         **alert.numbers})


def _sender(settings: Settings, channel: str, msg: Message, to=None):
    if channel == "email":
        return send_email(settings.email, msg, settings.delivery, to)
    return send_webhook(settings.webhook, msg, settings.delivery)


def _where(settings: Settings, channel: str) -> str:
    return f"e-mail via {settings.email.where}" if channel == "email" else \
        f"webhook {settings.webhook.where}"


def _send_alerts(settings, options, report, state: State, channel: str, todo: list[Alert]):
    sent = 0
    for i, alert in enumerate(todo):
        msg = alert_message(settings, alert)
        if channel == "email":  # a mailbox holds other mail: say where this one is from
            msg = replace(msg, subject=f"ModelDeck alert: {msg.subject}")
        outcome = deliver(_sender(settings, channel, msg), settings.delivery, options.sleep)
        if not outcome.ok:
            _failed(report, settings, channel, outcome, len(todo) - i, "alert(s)")
            break
        state.mark(alert.key, channel, alert.headline)
        sent += 1
    if sent:
        report.say(f"{_where(settings, channel)}: {sent} alert(s) sent.")


def _failed(report: Report, settings, channel: str, outcome: Outcome, left: int, what: str):
    report.failed = True
    report.say(f"{_where(settings, channel)}: FAILED after {len(outcome.tries)} tries "
               f"({'; '.join(outcome.tries)}). {left} {what} not delivered; they are kept "
               "and tried again on the next run.")


def _send_digest(settings, options, report, deck, state: State) -> None:
    from .digest import digest_message, period, without_attachment

    digest = settings.digest
    when = period(digest.every)
    key = digest_key(digest.every, when)
    channels = ["email"] + (["webhook"] if digest.webhook and settings.webhook
                            and settings.webhook.address else [])
    due = [c for c in channels if not state.delivered(key, c)]
    if not due:
        report.say(f"Digest for {when}: already sent.")
        return
    try:
        msg = digest_message(deck, digest, settings.link("/recommendations"), when)
    except Exception as e:  # the renderer, the registry: say so, and try again next run
        report.failed = True
        report.say(f"Digest for {when}: the report could not be built ({e}); it is tried "
                   "again on the next run.")
        return
    finally:
        _close_renderer()
    for channel in due:
        one = msg if channel == "email" else without_attachment(msg)
        outcome = deliver(_sender(settings, channel, one, digest.to), settings.delivery,
                          options.sleep)
        if outcome.ok:
            state.mark(key, channel, msg.subject)
            report.say(f"Digest for {when}: sent by {_where(settings, channel)} "
                       f"({msg.attachment[0]}, {len(msg.attachment[2]) // 1024:,} KB)."
                       if channel == "email" else
                       f"Digest for {when}: posted to {_where(settings, channel)}.")
        else:
            _failed(report, settings, channel, outcome, 1, "digest")


def digest_key(every: str, when: str) -> str:
    return f"digest|{every}|{when}"


def _close_renderer() -> None:
    """End the Chromium the report started (a command should leave no browser behind)."""
    import sys
    images = sys.modules.get("reports.images")
    if images is not None and images._renderer is not None:
        images._renderer.close()
