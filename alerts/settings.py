"""The alert settings file (TOML, docs/alerts.md), read once into typed settings.

Every mistake is a ``SettingsError`` naming the file, the table and the field, read before
anything is checked or sent: a typo never turns into a silent rule that watches nothing.
Secrets (the SMTP password, a webhook address that holds a token) are named by environment
variable, so the file itself can be kept in version control.
"""
from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from analysis.alert_rules import ESTIMATED_NAMES, KINDS, MIN_ROWS, Rule

CHANNELS = ("email", "webhook")
DIGEST_FORMATS = ("pptx", "pdf")
DIGEST_EVERY = ("day", "week", "month")
SECURITY = ("starttls", "ssl", "none")


class SettingsError(ValueError):
    """What is wrong with the settings file: file, table and field, and what would do."""


@dataclass(frozen=True)
class Delivery:
    attempts: int = 4  # tries per message before giving up until the next run
    backoff_seconds: float = 5.0  # wait before the 2nd try; doubled before each next one
    timeout_seconds: float = 10.0  # per connection

    def waits(self) -> list[float]:
        """The pauses between tries: backoff, 2·backoff, 4·backoff, …"""
        return [self.backoff_seconds * 2 ** i for i in range(self.attempts - 1)]


@dataclass(frozen=True)
class Email:
    host: str
    sender: str
    to: tuple[str, ...]
    port: int = 587
    security: str = "starttls"  # starttls | ssl | none
    username: str = ""
    password_env: str = ""  # the environment variable holding the password

    @property
    def password(self) -> str:
        return os.environ.get(self.password_env, "") if self.password_env else ""

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Webhook:
    url: str = ""
    url_env: str = ""  # or: the environment variable holding the address

    @property
    def address(self) -> str:
        return self.url or os.environ.get(self.url_env, "")

    @property
    def where(self) -> str:
        """The address without its path (which may hold a token), for the output."""
        from urllib.parse import urlsplit
        parts = urlsplit(self.address)
        return f"{parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")


@dataclass(frozen=True)
class Digest:
    to: tuple[str, ...]
    format: str = "pptx"
    every: str = "week"  # one digest per day | week (ISO, from Monday) | month, in UTC
    subject: str = "ModelDeck portfolio digest"
    webhook: bool = True  # also post the digest's summary to the webhook (when there is one)


@dataclass(frozen=True)
class Settings:
    path: Path
    base_url: str
    rules: tuple[Rule, ...]
    registry: str = ""
    state_dir: str = ""
    delivery: Delivery = Delivery()
    email: Email | None = None
    webhook: Webhook | None = None
    digest: Digest | None = None

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(c for c in CHANNELS if getattr(self, c) is not None)

    def link(self, path: str) -> str:
        return self.base_url + path


def load(path: str | os.PathLike) -> Settings:
    """Read and check the settings file at ``path``."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            raw = tomllib.load(f)
    except OSError as e:
        raise SettingsError(f"{path}: cannot be read ({e.strerror or e}).") from None
    except tomllib.TOMLDecodeError as e:
        raise SettingsError(f"{path}: not valid TOML: {e}.") from None
    return parse(raw, path)


def parse(raw: dict, path: Path) -> Settings:
    top = _Table(raw, path, "")
    top.allowed("base_url", "registry", "state_dir", "delivery", "email", "webhook", "digest",
                "rule")
    base_url = top.text("base_url", "http://127.0.0.1:8050").rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        raise top.error("base_url", "must start with http:// or https:// (the address people "
                                    "open ModelDeck at)")
    delivery = Delivery()
    if "delivery" in raw:
        t = top.table("delivery")
        t.allowed("attempts", "backoff_seconds", "timeout_seconds")
        delivery = Delivery(attempts=t.integer("attempts", Delivery.attempts, 1, 20),
                            backoff_seconds=t.number("backoff_seconds", Delivery.backoff_seconds,
                                                     0, 3600),
                            timeout_seconds=t.number("timeout_seconds", Delivery.timeout_seconds,
                                                     0.1, 600))
    email = _email(top.table("email")) if "email" in raw else None
    webhook = _webhook(top.table("webhook")) if "webhook" in raw else None
    digest = None
    if "digest" in raw:
        t = top.table("digest")
        t.allowed("to", "format", "every", "subject", "webhook")
        if email is None:
            raise t.error("", "needs an [email] table: the digest is sent by e-mail")
        digest = Digest(to=t.addresses("to", email.to), format=t.choice("format", "pptx",
                                                                        DIGEST_FORMATS),
                        every=t.choice("every", "week", DIGEST_EVERY),
                        subject=t.text("subject", Digest.subject),
                        webhook=t.boolean("webhook", True))
    rules = []
    raw_rules = raw.get("rule", [])
    if not isinstance(raw_rules, list):
        raise top.error("rule", "write each rule as a [[rule]] table")
    channels = tuple(c for c, on in (("email", email), ("webhook", webhook)) if on is not None)
    for i, r in enumerate(raw_rules, 1):
        if not isinstance(r, dict):
            raise top.error("rule", f"rule {i} is not a table")
        rules.append(_rule(_Table(r, path, f"[[rule]] {i}"), channels))
    names = [r.name for r in rules]
    for i, name in enumerate(names, 1):
        if names.index(name) != i - 1:
            raise SettingsError(f"{path}: [[rule]] {i}, field 'name': {name!r} is used by "
                                f"rule {names.index(name) + 1} already; give each rule its "
                                "own name")
    return Settings(path=path, base_url=base_url, rules=tuple(rules),
                    registry=top.text("registry", ""), state_dir=top.text("state_dir", ""),
                    delivery=delivery, email=email, webhook=webhook, digest=digest)


def _email(t: "_Table") -> Email:
    t.allowed("host", "port", "security", "username", "password_env", "sender", "to")
    security = t.choice("security", "starttls", SECURITY)
    return Email(host=t.text("host"), sender=t.text("sender"), to=t.addresses("to"),
                 port=t.integer("port", 465 if security == "ssl" else 587, 1, 65535),
                 security=security, username=t.text("username", ""),
                 password_env=t.text("password_env", ""))


def _webhook(t: "_Table") -> Webhook:
    t.allowed("url", "url_env")
    url, url_env = t.text("url", ""), t.text("url_env", "")
    if bool(url) == bool(url_env):
        raise t.error("url", "give either url or url_env (the environment variable that "
                             "holds the address)")
    if url and not url.startswith(("http://", "https://")):
        raise t.error("url", "must start with http:// or https://")
    return Webhook(url=url, url_env=url_env)


#: the fields each rule kind takes beyond kind, name, models and channels
RULE_FIELDS = {
    "metric_below": ("level", "min_rows", "windows", "sure"),
    "metric_above": ("level", "min_rows", "windows", "sure"),
    "estimated_below": ("level", "metric", "unlabelled_only", "min_rows", "windows", "sure"),
    "psi_above": ("level", "inputs", "min_rows", "windows"),
    "money_at_risk_above": ("amount",),
    "challenger_better": (),
}


def _rule(t: "_Table", configured: tuple[str, ...]) -> Rule:
    kind = t.choice("kind", None, tuple(KINDS))
    t.allowed("kind", "name", "models", "channels", *RULE_FIELDS[kind])
    values: dict = {}
    if "level" in RULE_FIELDS[kind]:
        values["level"] = t.number("level")
    if kind == "money_at_risk_above":
        values["amount"] = t.number("amount", None, 0)
    if "inputs" in RULE_FIELDS[kind]:
        values["inputs"] = t.texts("inputs")
    if "min_rows" in RULE_FIELDS[kind]:
        values["min_rows"] = t.integer("min_rows", MIN_ROWS, 1)
        values["windows"] = t.integer("windows", 0, 0)
    if "sure" in RULE_FIELDS[kind]:
        values["sure"] = t.boolean("sure", False)
    if kind == "estimated_below":
        values["metric"] = t.choice("metric", "roc_auc", tuple(ESTIMATED_NAMES))
        values["unlabelled_only"] = t.boolean("unlabelled_only", True)
    channels = t.texts("channels")
    for c in channels:
        if c not in CHANNELS:
            raise t.error("channels", f"{c!r} is not a channel: choose from "
                                      f"{', '.join(CHANNELS)}")
        if c not in configured:
            raise t.error("channels", f"{c!r} is not configured: add an [{c}] table")
    models = t.texts("models")
    defaults = {"min_rows": MIN_ROWS, "windows": 0, "metric": "roc_auc",
                "unlabelled_only": True, "sure": False}
    given = {k: v for k, v in values.items()
             if v not in ((), None) and not (k in defaults and v == defaults[k])}
    name = t.text("name", "") or _rule_name(kind, models, given)
    return Rule(kind=kind, name=name, models=models, channels=channels, **values)


def _rule_name(kind: str, models: tuple[str, ...], values: dict) -> str:
    """'psi_above level=0.04 inputs=support_calls models=customer-churn': what the rule says,
    so that a changed rule is a new rule (and may fire again)."""
    parts = [kind] + [f"{k}={','.join(v) if isinstance(v, tuple) else _g(v)}"
                      for k, v in values.items()]
    if models:
        parts.append(f"models={','.join(models)}")
    return " ".join(parts)


def _g(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v).lower() if isinstance(v, bool) else str(v)


_REQUIRED = object()


class _Table:
    """One TOML table, whose fields are read with their checks; errors name file and field."""

    def __init__(self, raw, path: Path, where: str):
        if not isinstance(raw, dict):
            raise SettingsError(f"{path}: {where or 'the file'} must be a table")
        self.raw, self.path, self.where = raw, path, where

    def error(self, key: str, what: str) -> SettingsError:
        place = ", ".join(p for p in (self.where, f"field '{key}'" if key else "") if p)
        return SettingsError(f"{self.path}: {place or 'top level'}: {what}.")

    def allowed(self, *keys: str) -> None:
        for k in self.raw:
            if k not in keys:
                raise self.error(k, f"unknown field; expected one of {', '.join(keys)}")

    def table(self, key: str) -> "_Table":
        if not isinstance(self.raw[key], dict):
            raise self.error(key, "must be a table, e.g. [" + key + "]")
        return _Table(self.raw[key], self.path, f"[{key}]")

    def _get(self, key, default):
        if key in self.raw:
            return self.raw[key]
        if default is _REQUIRED:
            raise self.error(key, "is missing")
        return default

    def text(self, key: str, default=_REQUIRED) -> str:
        v = self._get(key, default)
        if not isinstance(v, str):
            raise self.error(key, "must be text in quotes")
        return v.strip()

    def texts(self, key: str) -> tuple[str, ...]:
        v = self._get(key, [])
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
            raise self.error(key, 'must be a list of texts, e.g. ["a", "b"]')
        return tuple(x.strip() for x in v)

    def addresses(self, key: str, default: tuple[str, ...] | None = None) -> tuple[str, ...]:
        if key not in self.raw and default is not None:
            return tuple(default)
        v = self.texts(key)
        if not v:
            raise self.error(key, "needs at least one address")
        for a in v:
            if "@" not in a or any(c in a for c in "\r\n,;<> "):
                raise self.error(key, f"{a!r} is not one e-mail address")
        return v

    def number(self, key: str, default=_REQUIRED, low: float | None = None,
               high: float | None = None) -> float:
        v = self._get(key, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise self.error(key, "must be a number")
        if (low is not None and v < low) or (high is not None and v > high):
            bounds = f"{low:g} to {high:g}" if high is not None else f"at least {low:g}"
            raise self.error(key, f"must be {bounds}")
        return float(v)

    def integer(self, key: str, default=_REQUIRED, low: int | None = None,
                high: int | None = None) -> int:
        v = self._get(key, default)
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.error(key, "must be a whole number")
        if (low is not None and v < low) or (high is not None and v > high):
            bounds = f"{low} to {high}" if high is not None else f"at least {low}"
            raise self.error(key, f"must be {bounds}")
        return v

    def boolean(self, key: str, default=_REQUIRED) -> bool:
        v = self._get(key, default)
        if not isinstance(v, bool):
            raise self.error(key, "must be true or false")
        return v

    def choice(self, key: str, default, options: tuple[str, ...]) -> str:
        v = self.text(key, _REQUIRED if default is None else default)
        if v not in options:
            raise self.error(key, f"{v!r} is not one of {', '.join(options)}")
        return v
