"""Bilingual text (zh-CN and en): the platform's one message type.

Every user-facing message in Yunying carries both languages; the HTTP layer
picks one for ``message`` and returns both under ``messages``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Text", "LANGUAGES", "DEFAULT_LANGUAGE", "pick_language"]

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"


@dataclass(frozen=True)
class Text:
    """A message in Chinese and English; ``format`` fills both templates."""

    zh: str
    en: str

    def format(self, **params: Any) -> "Text":
        return Text(self.zh.format(**params), self.en.format(**params))

    def get(self, language: str) -> str:
        return self.en if language.lower().startswith("en") else self.zh

    def as_dict(self) -> dict[str, str]:
        return {"zh-CN": self.zh, "en": self.en}

    def __str__(self) -> str:  # logs and CLI output show both
        return self.en if self.zh == self.en else f"{self.zh} / {self.en}"


def pick_language(accept: str | None) -> str:
    """Choose zh-CN or en from an Accept-Language-like string."""
    if not accept:
        return DEFAULT_LANGUAGE
    for part in accept.split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("en"):
            return "en"
        if tag.startswith("zh"):
            return "zh-CN"
    return DEFAULT_LANGUAGE
