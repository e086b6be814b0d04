"""Colours and figure defaults shared by every chart and badge.

Chart colours are the Okabe–Ito palette, which stays distinguishable with the common forms of
colour blindness. Status badges always carry a word as well as a colour.
"""
from __future__ import annotations

PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#000000"]
BLUE, ORANGE, GREEN, PINK, SKY, VERMILION, YELLOW, BLACK = PALETTE
GREY = "#6c757d"

# status -> (label, bootstrap colour, text class)
STATUS = {
    "ok": ("OK", "success", ""),
    "watch": ("Watch", "warning", "text-dark"),
    "act": ("Act", "danger", ""),
    "error": ("Can't read", "secondary", ""),
}

FONT = dict(family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size=13,
            color="#212529")
