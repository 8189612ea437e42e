"""The formula language's one error type and its located issues (runtime layer).

Every failure of parsing, checking or evaluating a formula is a
:class:`FormulaError` holding one or more :class:`FormulaIssue` — a stable code
(``syntax``, ``unknown_name``, ``unknown_function``, ``arity``, ``type``,
``context``, ``cycle``, ``too_complex``, ``evaluation``), a zh-CN/en message,
the span, and "did you mean" suggestions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from yunying.platform.errors import YunyingError
from yunying.platform.i18n import Text
from yunying.runtime.formula.ast import Span

__all__ = ["FormulaIssue", "FormulaError", "ISSUE_CODES", "WHOLE"]

ISSUE_CODES = ("syntax", "unknown_name", "unknown_function", "arity", "type",
               "context", "cycle", "too_complex", "evaluation")

#: the span used when an issue concerns the whole formula (e.g. its length).
WHOLE = Span(1, 1, 1, 1, 0, 0)


@dataclass(frozen=True)
class FormulaIssue:
    code: str
    message: Text
    span: Span
    suggestions: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message.as_dict(),
                **self.span.as_dict(), "suggestions": list(self.suggestions)}


class FormulaError(YunyingError):
    """A formula that cannot be parsed, checked or evaluated; ``issues`` says why."""

    code = "formula_error"

    def __init__(self, issues: Iterable[FormulaIssue]) -> None:
        self.issues: tuple[FormulaIssue, ...] = tuple(issues)
        if not self.issues:
            raise ValueError("FormulaError needs at least one issue")
        first = self.issues[0]
        where = f"{first.span.line}:{first.span.column}"
        more_zh = f"（另有 {len(self.issues) - 1} 个问题）" if len(self.issues) > 1 else ""
        more_en = f" (and {len(self.issues) - 1} more)" if len(self.issues) > 1 else ""
        super().__init__(
            Text(f"公式第 {where} 处：{first.message.zh}{more_zh}",
                 f"formula at {where}: {first.message.en}{more_en}"),
            details={"issues": [i.as_dict() for i in self.issues]})

    @classmethod
    def single(cls, code: str, span: Span, zh: str, en: str,
               suggestions: Iterable[str] = ()) -> "FormulaError":
        return cls([FormulaIssue(code, Text(zh, en), span, tuple(suggestions))])
