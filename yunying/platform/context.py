"""The explicit context every service call carries (platform layer).

Services never read ``flask.g`` or globals: the HTTP layer, the CLI and tests
build a :class:`Context` and pass it down.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

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
    #: the client's address (HTTP requests), recorded in the audit trail.
    address: str | None = None
    #: what the actor may do (a ``yunying.runtime.access.Grants``). ``None``
    #: means a trusted internal caller — the CLI, package installs, seed
    #: loading, background jobs — which is not restricted. The HTTP edge
    #: always attaches the signed-in user's grants.
    grants: Any = None

    def now(self) -> datetime:
        return self.clock()


#: the explicit system principal used by installs and background work.
SYSTEM = Context(actor="system")
