"""Which models the portfolio shows, in which order, and on which page.

The portfolio pages through its models (a screenful at a time), so that a registry of
hundreds of models opens as fast as one of four. What it searches, filters and orders by is
what the listing says (name, description, task) and what has been worked out so far about
each model: its health, its last update and the money at stake of its recommendation
("facts", kept by the browser while the rest are worked out). A model whose facts are not
known yet is "pending": it is counted as such, ordered after the known ones, and the page
says how many are still being checked.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .evidence import ModelAdvice
from .portfolio import ModelSummary
from .recommend import headline

#: cards on one page of the portfolio: four rows of three on a wide screen
PAGE_SIZE = 12
#: "needs attention first": act, unreadable, watch, not known yet, OK
ATTENTION = {"act": 0, "error": 1, "watch": 2, "pending": 3, "ok": 4}
ORDERS = ("name", "attention", "money", "updated")
HEALTH = ("act", "watch", "ok", "error")


@dataclass(frozen=True)
class Entry:
    """A model as the registry's listing names it (or a model whose files are unreadable)."""
    name: str
    search: str  # lower-case text the search looks in


#: the facts of a model whose files cannot be read: nothing more to work out
UNREADABLE = {"s": "error", "a": True}


def fact(summary: ModelSummary, advice: ModelAdvice | None = None) -> dict:
    """What the portfolio orders and filters one model by, as plain JSON: ``s`` health
    status, ``u`` last update (ISO), ``a`` whether its recommendation is known, ``m`` the
    money at stake a month of that recommendation (None: no money figure)."""
    out: dict = {"s": summary.health.status,
                 "u": summary.last_updated.isoformat() if summary.last_updated else ""}
    if advice is not None:
        out["a"] = True
        money = headline(list(advice.recommendations)).money_per_month \
            if advice.recommendations else None
        out["m"] = None if money is None else abs(float(money))
    return out


def clean_facts(facts) -> dict:
    """Facts as the browser sent them back, keeping only what has the shape ``fact`` gives
    (a request may carry anything there)."""
    if not isinstance(facts, dict):
        return {}
    return {str(n): f for n, f in facts.items() if isinstance(f, dict)
            and isinstance(f.get("s", ""), str) and isinstance(f.get("u", ""), str)
            and (f.get("m") is None or isinstance(f.get("m"), (int, float)))}


def status_of(facts: dict, name: str) -> str:
    return (facts.get(name) or {}).get("s", "pending")


@dataclass(frozen=True)
class View:
    names: tuple[str, ...]  # the models on this page, in order
    page: int  # 1-based, within 1..pages
    pages: int
    first: int  # 1-based position of this page's first model among the matches (0: none)
    matched: int  # models that pass the search and the health filter
    total: int  # every model
    filtered: bool  # a search or a health filter is in force
    checked: int  # models whose health is known
    priced: int  # models whose recommendation is known


def select(entries: list[Entry], facts: dict, query: str | None, health: str | None,
           sort: str | None, page: int | None) -> View:
    """The page of models to show for a search, a health filter, an order and a page."""
    terms = str(query or "").lower().split()
    health = health if health in HEALTH else "all"
    sort = sort if sort in ORDERS else "name"
    keep = [e for e in entries
            if (health == "all" or status_of(facts, e.name) == health)
            and all(t in e.search for t in terms)]

    def known(name, key):
        return (facts.get(name) or {}).get(key)

    if sort == "attention":
        keep.sort(key=lambda e: (ATTENTION.get(status_of(facts, e.name), 3), e.name))
    elif sort == "money":  # the most money first; no figure yet (or none at all) last
        keep.sort(key=lambda e: (-(known(e.name, "m") or -1.0), e.name))
    elif sort == "updated":  # newest first; not known yet last
        keep.sort(key=lambda e: e.name)
        keep.sort(key=lambda e: known(e.name, "u") or "", reverse=True)
    else:
        keep.sort(key=lambda e: e.name)
    pages = max(1, math.ceil(len(keep) / PAGE_SIZE))
    try:
        page = min(max(1, int(page or 1)), pages)
    except (TypeError, ValueError):
        page = 1
    start = (page - 1) * PAGE_SIZE
    names = tuple(e.name for e in keep[start:start + PAGE_SIZE])
    names_all = {e.name for e in entries}
    return View(names=names, page=page, pages=pages, first=start + 1 if names else 0,
                matched=len(keep), total=len(entries),
                filtered=bool(terms) or health != "all",
                checked=sum(1 for n in names_all if "s" in (facts.get(n) or {})),
                priced=sum(1 for n in names_all if (facts.get(n) or {}).get("a")))


def complete(entries: list[Entry], facts: dict) -> bool:
    """Every model's health and recommendation are known."""
    return all("s" in (facts.get(e.name) or {}) and (facts.get(e.name) or {}).get("a")
               for e in entries)
