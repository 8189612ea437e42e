"""The explicit context every service call carries (platform layer).

Services never read ``flask.g`` or globals: the HTTP layer, the CLI and tests
build a :class:`Context` and pass it down.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

__all__ = ["Context", "SYSTEM", "utcnow"]


def utcnow() -> datetime:
    """Current UTC time as a naive datetime (how Yunying stores timestamps)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True)
class Context:
    """Who acts, in which language, at which time, for which request."""

    actor: str = "system"
    language: str = "zh-CN"
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    clock: Callable[[], datetime] = utcnow

    def now(self) -> datetime:
        return self.clock()


#: the explicit system principal used by installs and background work.
SYSTEM = Context(actor="system")
