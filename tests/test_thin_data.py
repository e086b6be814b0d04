"""How numbers are presented when the data are thin: digits of paired intervals, rows too few
to judge, undefined metrics with their reason, parameter importance that cannot be told from
noise. Numbers are checked against scikit-learn / scipy on the same rows."""
from __future__ import annotations

import re

import numpy as np
import pytest

from analysis.language import (
    delta_digits, difference_digits, format_delta, format_difference, interval_text,
)


# ------------------------------------------------------------------ paired intervals: digits
def _bounds(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"[+-]\d+(?:\.\d+)?", text)]


@pytest.mark.parametrize("metric, low, high", [
    ("accuracy", 0.0003, 0.065),  # was "+0.0 to +6.5" points beside "v2 better"
    ("accuracy", -0.065, -0.00049),
    ("roc_auc", 0.0004, 0.02),
    ("roc_auc", 1e-7, 0.02),
    ("mae", 0.001, 0.9),
    ("mape", 0.0002, 0.01),
])
def test_a_bound_that_excludes_zero_is_never_shown_as_zero(metric, low, high):
    text = interval_text(metric, low, high, "kg", difference=True)
    shown = _bounds(text)
    assert len(shown) == 2 and 0.0 not in shown, text
    assert np.sign(shown[0]) == np.sign(low) and np.sign(shown[1]) == np.sign(high)


def test_usual_digits_when_they_suffice_and_the_difference_matches_its_interval():
    assert interval_text("accuracy", 0.02, 0.065, difference=True) == "95% CI +2.0 to +6.5"
    assert interval_text("roc_auc", 0.0, 0.065, difference=True) == "95% CI +0.000 to +0.065"
    assert interval_text("accuracy", 0.0003, 0.065, difference=True) == "95% CI +0.03 to +6.50"
    d = difference_digits("accuracy", 0.0004, 0.0003, 0.065)
    assert format_difference("accuracy", 0.0004, "", d) == "+0.04 points"
    assert interval_text("accuracy", 0.0003, 0.065, difference=True, digits=d) == \
        "95% CI +0.03 to +6.50"
    assert format_delta("roc_auc", 0.00004, "", delta_digits("roc_auc", 0.00004, 1e-5)) == \
        "+0.00004"
    assert format_delta("roc_auc", 0.012) == "+0.012"
