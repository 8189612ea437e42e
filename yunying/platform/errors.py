"""The error hierarchy shared by every layer.

One root, :class:`YunyingError`, carrying a stable ``code``, a bilingual
``message`` and JSON-ready ``details``. Only the HTTP layer maps these to
status codes (see ``yunying.runtime.api.errors``).
"""

from __future__ import annotations

from typing import Any

from yunying.platform.i18n import Text

__all__ = [
    "YunyingError",
    "InvalidPackage",
    "InvalidQuery",
    "ValidationFailed",
    "TransitionRejected",
    "NotFound",
    "StaleRecord",
    "Conflict",
    "LossyChange",
    "PermissionDenied",
    "ConfigurationError",
]


class YunyingError(Exception):
    """Root of every error Yunying raises on purpose."""

    code = "error"

    def __init__(self, message: Text, *, code: str | None = None,
                 details: Any = None) -> None:
        super().__init__(str(message))
        self.message = message
        if code is not None:
            self.code = code
        self.details = details if details is not None else {}


class InvalidPackage(YunyingError):
    """A package failed validation; ``details['issues']`` lists every issue."""

    code = "invalid_package"

    def __init__(self, issues: list, *, message: Text | None = None) -> None:
        self.issues = tuple(issues)
        msg = message or Text(
            f"配置包校验失败，共 {len(self.issues)} 个问题",
            f"package validation failed with {len(self.issues)} issue(s)",
        )
        super().__init__(msg, details={"issues": [i.as_dict() for i in self.issues]})


class InvalidQuery(YunyingError):
    """A list query (filter, sort, paging) names something that does not exist
    or carries a value of the wrong type. Nothing was executed."""

    code = "invalid_query"


class ValidationFailed(YunyingError):
    """A record failed validation; ``details['fields']`` maps field → errors."""

    code = "validation_failed"


class NotFound(YunyingError):
    code = "not_found"


class StaleRecord(YunyingError):
    """An update carried a version older than the stored one."""

    code = "stale_record"


class Conflict(YunyingError):
    """A write would violate a uniqueness rule or similar state conflict."""

    code = "conflict"


class LossyChange(YunyingError):
    """A schema plan would lose or violate data; nothing was applied."""

    code = "lossy_change"


class PermissionDenied(YunyingError):
    code = "permission_denied"


class ConfigurationError(YunyingError):
    code = "configuration_error"


class TransitionRejected(YunyingError):
    """A workflow action is not possible now: a guard formula failed, the
    document is in a state the action does not leave from, no approver could
    be found, a required comment is missing. ``details`` names the reason."""

    code = "transition_rejected"
