"""Which models the portfolio shows and in which order (analysis/portfolio_view.py)."""
from __future__ import annotations

from analysis.portfolio_view import PAGE_SIZE, Entry, complete, select

ENTRIES = [Entry(f"m{i:02d}", f"m{i:02d} {'churn' if i % 3 == 0 else 'price'}")
           for i in range(30)]


def test_pages_hold_a_screenful_in_name_order():
    v = select(ENTRIES, {}, "", "all", "name", 1)
    assert v.names == tuple(f"m{i:02d}" for i in range(PAGE_SIZE))
    assert (v.page, v.pages, v.first, v.matched, v.total) == (1, 3, 1, 30, 30)
    last = select(ENTRIES, {}, "", "all", "name", 3)
    assert last.names == tuple(f"m{i:02d}" for i in range(24, 30)) and last.first == 25
    # a page past the end, or not a number, is the nearest real page
    assert select(ENTRIES, {}, "", "all", "name", 9).page == 3
    assert select(ENTRIES, {}, "", "all", "name", "two").page == 1


def test_search_and_health_filter_look_at_every_model():
    facts = {"m03": {"s": "act"}, "m29": {"s": "act"}, "m04": {"s": "ok"}}
    v = select(ENTRIES, facts, "CHURN", "act", "name", 1)
    assert v.names == ("m03",) and v.matched == 1 and v.filtered
    assert select(ENTRIES, facts, "", "act", "name", 1).names == ("m03", "m29")
    assert select(ENTRIES, facts, "", "act", "name", 1).checked == 3
    # an unknown filter or order is ignored, not an error
    assert select(ENTRIES, facts, "", "bogus", "bogus", 1).names[:2] == ("m00", "m01")


def test_orders_put_what_is_not_known_yet_last():
    facts = {"m05": {"s": "ok", "u": "2026-01-01", "a": True, "m": 10.0},
             "m07": {"s": "act", "u": "2026-03-01", "a": True, "m": 500.0},
             "m09": {"s": "watch", "u": "2026-02-01", "a": True, "m": None},
             "m11": {"s": "error", "a": True}}
    assert select(ENTRIES, facts, "", "all", "attention", 1).names[:3] == ("m07", "m11", "m09")
    # pending models come before OK ones (they may need attention); m05 (OK) is last
    attention = select(ENTRIES, facts, "", "all", "attention", 3).names
    assert attention[-1] == "m05"
    money = select(ENTRIES, facts, "", "all", "money", 1)
    assert money.names[:2] == ("m07", "m05") and money.priced == 4
    assert select(ENTRIES, facts, "", "all", "updated", 1).names[:3] == ("m07", "m09", "m05")


def test_complete_needs_every_health_and_recommendation():
    few = ENTRIES[:2]
    assert not complete(few, {"m00": {"s": "ok", "a": True}, "m01": {"s": "ok"}})
    assert complete(few, {"m00": {"s": "ok", "a": True}, "m01": {"s": "error", "a": True}})


def test_a_fact_carries_health_date_and_the_money_of_the_headline_recommendation():
    from datetime import datetime, timezone

    from analysis.evidence import ModelAdvice
    from analysis.portfolio import Health, ModelSummary
    from analysis.portfolio_view import fact
    from analysis.recommend import Recommendation

    s = ModelSummary("m", "binary", health=Health("act", "why"),
                     last_updated=datetime(2026, 3, 1, tzinfo=timezone.utc))
    assert fact(s) == {"s": "act", "u": "2026-03-01T00:00:00+00:00"}
    recs = (Recommendation("m", "keep", "Keep", (), "versions"),
            Recommendation("m", "retrain", "Retrain", (), "monitoring", money_per_month=-1200.0))
    assert fact(s, ModelAdvice("m", None, recs))["m"] == 1200.0
    assert fact(s, ModelAdvice("m", None, (), "no rows")) == \
        {"s": "act", "u": "2026-03-01T00:00:00+00:00", "a": True, "m": None}


def test_facts_sent_back_in_any_shape_never_break_the_view():
    from analysis.portfolio_view import clean_facts
    sent = {"m01": [1], "m02": {"s": ["act"]}, "m03": {"s": "act", "m": "lots"},
            "m04": {"s": "act", "a": True, "m": 5.0}, "m05": "ok"}
    facts = clean_facts(sent)
    assert facts == {"m04": {"s": "act", "a": True, "m": 5.0}}
    assert clean_facts(["not", "a", "dict"]) == {} and clean_facts(None) == {}
    for sort in ("attention", "money", "updated"):
        assert select(ENTRIES, facts, "", "act", sort, 1).names == ("m04",)
