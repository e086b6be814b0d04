"""Sending: e-mail through SMTP (smtplib) and a Slack-compatible webhook (JSON over HTTP), each
message tried again with back-off when the other side does not accept it.

``deliver`` returns whether the message got through and, when it did not, what every try
met — the command prints it and exits non-zero, and the message is tried again next run.
Registry text (model names, inputs) goes out as plain text: e-mails have no HTML part and
the webhook's mrkdwn has its control characters escaped.
"""
from __future__ import annotations

import json
import logging
import math
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Callable

from .settings import Delivery, Email, Webhook

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    """One thing to send: an alert or a digest, the same words for every channel."""

    subject: str
    lines: tuple[str, ...]  # the body: one paragraph or bullet each
    link: str
    link_text: str = "Open in ModelDeck"
    attachment: tuple[str, str, bytes] | None = None  # (file name, media type, bytes)
    data: dict = field(default_factory=dict)  # the numbers, for machines (webhook JSON)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    tries: tuple[str, ...] = ()  # what went wrong on each failed try

    @property
    def why(self) -> str:
        return self.tries[-1] if self.tries else ""


def deliver(send: Callable[[], None], delivery: Delivery,
            sleep: Callable[[float], None] = time.sleep) -> Outcome:
    """``send()`` until it returns without an error, at most ``delivery.attempts`` times,
    waiting ``backoff``, ``2·backoff``, … in between."""
    errors: list[str] = []
    waits = delivery.waits()
    for attempt in range(delivery.attempts):
        try:
            send()
            return Outcome(True, tuple(errors))
        except (OSError, smtplib.SMTPException, DeliveryRefused) as e:
            errors.append(describe(e))
        if attempt < len(waits):
            sleep(waits[attempt])
    return Outcome(False, tuple(errors))


class DeliveryRefused(Exception):
    """The other side answered, but did not accept the message."""


def describe(e: BaseException) -> str:
    if isinstance(e, urllib.error.HTTPError):
        return f"HTTP {e.code} {e.reason}"
    if isinstance(e, urllib.error.URLError):
        return describe(e.reason) if isinstance(e.reason, BaseException) else str(e.reason)
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    if isinstance(e, TimeoutError):
        return "no answer (timed out)"
    if isinstance(e, smtplib.SMTPResponseException):
        text = e.smtp_error.decode(errors="replace") if isinstance(e.smtp_error, bytes) \
            else str(e.smtp_error)
        return f"SMTP {e.smtp_code} {text}".strip()
    return str(e) or type(e).__name__


# ------------------------------------------------------------------ e-mail
def email_message(msg: Message, sender: str, to: tuple[str, ...]) -> EmailMessage:
    m = EmailMessage()
    m["Subject"] = _one_line(msg.subject)[:250]
    m["From"] = sender
    m["To"] = ", ".join(to)
    m["Date"] = formatdate(localtime=False, usegmt=True)
    m["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1] or None)
    body = "\n\n".join(msg.lines) + f"\n\n{msg.link_text}: {msg.link}\n"
    m.set_content(body)
    if msg.attachment is not None:
        name, mime, data = msg.attachment
        main, sub = mime.split("/", 1)
        m.add_attachment(data, maintype=main, subtype=sub, filename=name)
    return m


def send_email(email: Email, msg: Message, delivery: Delivery,
               to: tuple[str, ...] | None = None) -> Callable[[], None]:
    """A function that sends ``msg`` once (``deliver`` repeats it)."""
    to = to or email.to
    message = email_message(msg, email.sender, to)

    def send() -> None:
        context = ssl.create_default_context()
        if email.security == "ssl":
            server = smtplib.SMTP_SSL(email.host, email.port, timeout=delivery.timeout_seconds,
                                      context=context)
        else:
            server = smtplib.SMTP(email.host, email.port, timeout=delivery.timeout_seconds)
        with server:
            if email.security == "starttls":
                server.starttls(context=context)
            if email.username:
                server.login(email.username, email.password)
            refused = server.send_message(message, from_addr=email.sender, to_addrs=list(to))
            if refused:  # the others have it: sending again would give them a second copy
                log.warning("the mail server refused %s (the other recipients have the "
                            "message)", ", ".join(sorted(refused)))
    return send


# ------------------------------------------------------------------ webhook
def slack_payload(msg: Message) -> dict:
    """``{"text": …}`` for any Slack-compatible receiver, with blocks for Slack's layout and
    the numbers under ``modeldeck`` for receivers that read them."""
    text = _mrkdwn(msg.subject)
    body = "\n".join(f"• {_mrkdwn(line)}" for line in msg.lines)
    link = f"<{msg.link}|{_mrkdwn(msg.link_text)}>"
    return {
        "text": f"{text}\n{body}\n{link}",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{text}*"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": body or " "}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": link}]},
        ],
        "modeldeck": _finite(msg.data),
    }


def _finite(value):
    """The numbers as JSON has them: a NaN or infinity (no value) becomes null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def send_webhook(webhook: Webhook, msg: Message, delivery: Delivery) -> Callable[[], None]:
    data = json.dumps(slack_payload(msg), ensure_ascii=False, allow_nan=False).encode("utf-8")

    def send() -> None:
        req = urllib.request.Request(webhook.address, data=data, method="POST",
                                     headers={"Content-Type": "application/json",
                                              "User-Agent": "ModelDeck-alerts"})
        with urllib.request.urlopen(req, timeout=delivery.timeout_seconds) as resp:
            resp.read()
            if not 200 <= resp.status < 300:
                raise DeliveryRefused(f"HTTP {resp.status}")
    return send


def _mrkdwn(text: str) -> str:
    """Slack's three control characters escaped: registry text cannot make links or
    mentions."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
