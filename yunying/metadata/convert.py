"""Document values → Python values: labels and ISO dates (metadata layer).

The small conversions every document builder shares (entities, dictionaries,
roles, org data). Documents are JSON: dates arrive as ISO strings (YAML dates
were already turned into strings by the YAML reader) or, from hand-built
documents, as ``date`` objects.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Mapping

from yunying.platform.i18n import Text

__all__ = ["text", "optional_text", "to_date"]


def text(label: Mapping[str, str]) -> Text:
    """``{zh: 物资, en: Material}`` → ``Text("物资", "Material")``."""
    return Text(label["zh"], label["en"])


def optional_text(label: Mapping[str, str] | None) -> Text | None:
    return text(label) if label else None


def to_date(value: Any) -> date | None:
    """A ``date`` or an ISO ``YYYY-MM-DD`` string → ``date``; raises ValueError."""
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, str) and len(value) == 10:
        return date.fromisoformat(value)
    raise ValueError(f"not a date: {value!r}")
