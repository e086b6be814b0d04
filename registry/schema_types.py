"""The value types of the registry's metadata schema (``registry.schema``): what a text, a
number, a time, a hyper-parameter, an id, a class label, and an object or list of them may be
in a metadata file, and how each is cleaned when read. Each is a pydantic type whose error
message ends up in a Problem naming the file and the field.

* Text fields take text or numbers; control characters (NUL, BEL, …) are removed, since
  they cannot be shown or written to a slide; text longer than ``MAX_TEXT`` is cut.
* Numbers are finite JSON numbers (``true`` is not a number); numbers beyond ±1e300 are
  refused rather than turned into infinity.
"""
from __future__ import annotations

import json
import math
import re
from datetime import datetime, timezone
from typing import Annotated, Any

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

MAX_TEXT = 10_000  # characters kept of one text field
MAX_NUMBER = 1e300  # larger magnitudes are refused (they overflow in sums and products)
MAX_PARAM_TEXT = 500  # a param that is an object or a list is kept as JSON text, cut here

# control characters other than tab and newline, and lone surrogates (JSON's "\ud800"),
# which no page, slide or UTF-8 file can hold
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def invalid(message: str, **context) -> PydanticCustomError:
    return PydanticCustomError("modeldeck", message, context)


def shown(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def clean_text(v: Any) -> str:
    """Text for display: control characters removed (tabs and newlines kept), length capped."""
    if v is None:
        return ""
    if isinstance(v, bool):
        v = "true" if v else "false"
    if isinstance(v, (int, float)):
        v = str(v)
    if not isinstance(v, str):
        raise invalid("must be text, got {got}", got=shown(v))
    v = _CONTROL.sub("", v)
    return v if len(v) <= MAX_TEXT else v[:MAX_TEXT - 1] + "…"


def finite_number(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise invalid("must be a number, got {got}", got=shown(v))
    if isinstance(v, int) and abs(v) > MAX_NUMBER:
        raise invalid("is too large (more than 1e300)")
    v = float(v)
    if not math.isfinite(v):
        raise invalid("must be a finite number, got {got}", got=str(v))
    if abs(v) > MAX_NUMBER:
        raise invalid("is too large (more than 1e300)")
    return v


def iso_time(v: Any) -> datetime | None:
    """An ISO 8601 time; a time without a zone is UTC."""
    if v is None or v == "":
        return None
    if isinstance(v, datetime):
        t = v
    elif isinstance(v, str):
        try:
            t = datetime.fromisoformat(v.strip().replace("Z", "+00:00"))
        except ValueError:
            raise invalid("is not an ISO 8601 time ({got})", got=shown(v)) from None
    else:
        raise invalid("must be an ISO 8601 time as text, got {got}", got=shown(v))
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def param_value(v: Any) -> Any:
    """A hyper-parameter: numbers, text, booleans and null as they are; anything else as
    compact JSON text (a nested object of a pipeline's settings, say)."""
    if v is None or isinstance(v, (bool, str)):
        return clean_text(v) if isinstance(v, str) else v
    if isinstance(v, int):
        return v if abs(v) <= MAX_NUMBER else str(v)[:40]
    if isinstance(v, float):
        return v if math.isfinite(v) else str(v)
    text = json.dumps(v, separators=(",", ":"), default=str)
    return text if len(text) <= MAX_PARAM_TEXT else text[:MAX_PARAM_TEXT - 1] + "…"


def optional_id(v: Any) -> str | None:
    if v is None or v == "":
        return None
    if isinstance(v, bool) or not isinstance(v, (str, int)):
        raise invalid("must be text, got {got}", got=shown(v))
    return clean_text(v)[:256] or None


def label_value(v: Any) -> str | None:
    """``positive_label``: a class value, kept as text (``true`` becomes ``"true"``)."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (str, int, float)):
        if isinstance(v, float) and not math.isfinite(v):
            raise invalid("must be a class value, got {got}", got=str(v))
        return clean_text(v)
    raise invalid("must be a class value (text, a number or true/false), got {got}",
                got=shown(v))


def as_object(v: Any) -> Any:
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise invalid("must be an object of name: value pairs, got {got}", got=shown(v))
    return v


def _name_list(v: Any) -> Any:
    if v is None:
        return []
    if not isinstance(v, list) or not all(isinstance(a, str) for a in v):
        raise invalid("must be a list of names, got {got}", got=shown(v))
    return [clean_text(a)[:128] for a in v]


Text = Annotated[str, BeforeValidator(clean_text)]
Number = Annotated[float, BeforeValidator(finite_number)]
Time = Annotated[datetime | None, BeforeValidator(iso_time)]
Param = Annotated[Any, BeforeValidator(param_value)]
OptionalId = Annotated[str | None, BeforeValidator(optional_id)]
Label = Annotated[str | None, BeforeValidator(label_value)]
Tags = Annotated[dict[str, Text], BeforeValidator(as_object)]
Params = Annotated[dict[str, Param], BeforeValidator(as_object)]
Metrics = Annotated[dict[str, Number], BeforeValidator(as_object)]
Names = Annotated[list[str], BeforeValidator(_name_list)]


def _text_list(v: Any) -> Any:
    """One text or a list of texts (each a line of the card); numbers count as text."""
    if v is None:
        return []
    if isinstance(v, (str, int, float)) and not isinstance(v, bool):
        return [v]
    if not isinstance(v, list):
        raise invalid("must be text or a list of texts, got {got}", got=shown(v))
    return v


TextList = Annotated[list[Text], BeforeValidator(_text_list)]
