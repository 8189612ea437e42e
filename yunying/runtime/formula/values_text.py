"""Text semantics of the formula language (公式的文本语义) (runtime layer).

How ``&`` writes values (numbers plainly, dates ISO, booleans TRUE/FALSE,
NULL as empty text) and the text functions: lengths and positions count code
points, comparisons are literal and case-sensitive, any NULL argument gives
NULL (except ``&``/CONCAT). Text results longer than :data:`MAX_TEXT_LENGTH`
are an ``evaluation`` error, so nested SUBSTITUTEs cannot exhaust memory.
Re-exported by :mod:`.values`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable

from yunying.runtime.formula.values_date import date_text, datetime_text
from yunying.runtime.formula.values_number import evaluation_error, shown, to_integer, to_number

__all__ = [
    "MAX_TEXT_LENGTH", "TRIM_CHARACTERS", "number_text", "to_text", "concat", "text_length",
    "left", "right", "mid", "upper", "lower", "trim", "contains", "starts_with", "ends_with",
    "substitute",
]

MAX_TEXT_LENGTH = 1_000_000              #: longer text results are an evaluation error
TRIM_CHARACTERS = " \t\r\n\u3000"        #: what TRIM removes at both ends


def number_text(x: Any) -> str:
    """A number written plainly: no exponent, no trailing zeros (3.50 → '3.5', -0 → '0')."""
    number = to_number(x)
    if number is None:
        return ""
    if not number:
        return "0"
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


_TEXT_OF: dict[type, Callable[[Any], str]] = {
    str: str, Decimal: number_text, int: number_text, float: number_text,
    bool: lambda b: "TRUE" if b else "FALSE", date: date_text, datetime: datetime_text}


def to_text(value: Any) -> str:
    """How ``&`` writes a value: NULL → '', numbers plain, dates ISO, booleans TRUE/FALSE."""
    if value is None:
        return ""
    writer = _TEXT_OF.get(value.__class__)
    if writer is None:   # subclasses: the most specific class first (datetime before date)
        writer = next((w for t, w in reversed(_TEXT_OF.items()) if isinstance(value, t)), None)
        if writer is None:
            raise evaluation_error(f"{shown(value)} 无法写成文本", f"{shown(value)} cannot be written as text")
    return writer(value)


def _limited(text: str) -> str:
    if len(text) > MAX_TEXT_LENGTH:
        raise evaluation_error(f"文本过长（超过 {MAX_TEXT_LENGTH} 个字符）",
                               f"text too long (more than {MAX_TEXT_LENGTH} characters)")
    return text


def concat(*parts: Any) -> str:
    """``&`` and ``CONCAT``: NULL counts as empty text; never NULL."""
    return _limited("".join([p if p.__class__ is str else to_text(p) for p in parts]))


def _text(value: Any) -> str | None:
    return value if value is None or value.__class__ is str else to_text(value)


def text_length(s: Any) -> Decimal | None:
    """LEN: characters (code points)."""
    text = _text(s)
    return None if text is None else Decimal(len(text))


def left(s: Any, n: Any) -> str | None:
    """LEFT(s, n): n truncated; n < 0 → NULL; n > LEN → the whole text."""
    text, count = _text(s), to_integer(n)
    if text is None or count is None or count < 0:
        return None
    return text[:min(count, len(text))]


def right(s: Any, n: Any) -> str | None:
    """RIGHT(s, n): n truncated; n < 0 → NULL; n > LEN → the whole text."""
    text, count = _text(s), to_integer(n)
    if text is None or count is None or count < 0:
        return None
    return text[len(text) - min(count, len(text)):]


def mid(s: Any, start: Any, n: Any) -> str | None:
    """MID(s, start, n): 1-based; start < 1 or n < 0 → NULL; beyond the end → ''."""
    text, first, count = _text(s), to_integer(start), to_integer(n)
    if text is None or first is None or count is None or first < 1 or count < 0:
        return None
    begin = min(first - 1, len(text))
    return text[begin:begin + min(count, len(text))]


def _text_function(method: Callable[[str], Any]) -> Callable[[Any], Any]:
    def apply(s: Any) -> Any:
        text = _text(s)
        return None if text is None else method(text)
    return apply


#: UPPER / LOWER: Unicode case mapping (``straße`` → ``STRASSE``).
upper = _text_function(str.upper)
lower = _text_function(str.lower)
#: TRIM: spaces, tabs, CR, LF and full-width spaces (U+3000) at both ends only.
trim = _text_function(lambda text: text.strip(TRIM_CHARACTERS))


def _text_test(method: Callable[[str, str], bool]) -> Callable[[Any, Any], bool | None]:
    def test(s: Any, t: Any) -> bool | None:
        text, needle = _text(s), _text(t)
        return None if text is None or needle is None else method(text, needle)
    return test


#: CONTAINS / STARTSWITH / ENDSWITH: case-sensitive, literal; an empty needle → TRUE.
contains = _text_test(lambda text, needle: needle in text)
starts_with = _text_test(str.startswith)
ends_with = _text_test(str.endswith)


def substitute(s: Any, old: Any, new: Any) -> str | None:
    """Replace every occurrence of ``old``; ``old = ''`` leaves ``s`` unchanged."""
    text, find, replacement = _text(s), _text(old), _text(new)
    if text is None or find is None or replacement is None:
        return None
    return _limited(text.replace(find, replacement)) if find else text
