"""The scheduled digest: the portfolio report (the recommendations page as a PowerPoint deck
or a PDF, built by ``reports``) e-mailed to a list, once per day, week or month.

The mail's text is the portfolio's summary in the recommendations' own sentences; the file
is the same report the portfolio's "Download a report" button gives.
"""
from __future__ import annotations

from datetime import datetime, timezone

from analysis.evidence import advice_summary, portfolio_advice, ranked
from registry.cached import CachedSource
from registry.naming import display_name

from .channels import Message
from .settings import Digest


def period(every: str, now: datetime | None = None) -> str:
    """The digest period ``now`` falls in (UTC): '2026-12-04', '2026-W49' or '2026-12'."""
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    if every == "day":
        return f"{now:%Y-%m-%d}"
    if every == "month":
        return f"{now:%Y-%m}"
    year, week, _ = now.isocalendar()
    return f"{year}-W{week:02d}"


def digest_message(deck: CachedSource, digest: Digest, link: str, when: str) -> Message:
    """The digest with its report attached. Raises what the report raises (ExportError when
    the renderer cannot start, RegistryError when the registry cannot be read)."""
    from reports.branding import Branding
    from reports.images import MIME
    from reports.routes import report_file

    data, filename = report_file(deck, "portfolio", digest.format, {}, Branding.from_env())
    advice = portfolio_advice(deck)
    acting = [r for r in ranked(advice) if r.action != "keep"]
    lines = [f"Registry {display_name(deck.uri)}, {when}.", advice_summary(advice)]
    lines += [f"{r.model}: {r.headline}" for r in acting]
    lines.append(f"The attached {digest.format.upper()} ({filename}) has the evidence behind "
                 "each recommendation.")
    return Message(subject=f"{digest.subject} · {when}", lines=tuple(lines), link=link,
                   link_text="Open the recommendations",
                   attachment=(filename, MIME[digest.format], data),
                   data={"digest": when, "file": filename,
                         "actions": [{"model": r.model, "action": r.action,
                                      "headline": r.headline,
                                      "money_per_month": r.money_per_month,
                                      "currency": r.currency} for r in acting]})


def without_attachment(msg: Message) -> Message:
    """The digest as the webhook posts it (a webhook carries no file)."""
    from dataclasses import replace
    return replace(msg, attachment=None,
                   lines=msg.lines[:-1] + ("The report was e-mailed to the digest list.",))
