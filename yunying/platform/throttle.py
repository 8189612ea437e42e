"""Per-address login throttling, kept in the database (platform layer).

:class:`DatabaseAddressThrottle` implements identity's
:class:`~yunying.platform.identity.AddressThrottle`: one row of
``yy_address_throttle`` per client address counts failed logins from it.
After ``AddressPolicy.max_failures`` failures the address is locked for
``lock``, doubling with every further failure up to ``max_lock``; while it is
locked every attempt from it fails (with the one login-failure message) and
is not counted. The count starts again only after a quiet ``window`` with no
failure and no lock, so an address that keeps guessing after its lock ends is
locked again at once, for twice as long.

A successful login does **not** clear the count: a guesser who owns one real
account must not be able to wipe the trail of guesses at other accounts by
logging into it. Many people behind one hospital NAT address therefore share
the budget, which is why ``max_failures`` is generous (20 by default) next to
the per-account limit (5). An administrator can lift a lock with
:func:`clear_address`.

IPv6 clients are counted per /64 network (one host usually owns a whole /64
and can pick any address in it); IPv4-mapped IPv6 addresses count as IPv4.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from yunying.platform.context import Context
from yunying.platform.tables import address_throttle

__all__ = ["AddressPolicy", "DEFAULT_ADDRESS_POLICY", "DatabaseAddressThrottle",
           "address_key", "clear_address"]

_KEY_LENGTH = 64


@dataclass(frozen=True)
class AddressPolicy:
    """Lock an address after ``max_failures`` failures (counted until a quiet
    ``window``) for ``lock``, doubled per further failure, at most ``max_lock``."""

    max_failures: int = 20
    window: timedelta = timedelta(minutes=15)
    lock: timedelta = timedelta(minutes=5)
    max_lock: timedelta = timedelta(hours=1)

    def locked_until(self, failures: int, now: datetime) -> datetime | None:
        extra = failures - self.max_failures
        if extra < 0:
            return None
        return now + min(self.lock * (2 ** min(extra, 20)), self.max_lock)


DEFAULT_ADDRESS_POLICY = AddressPolicy()


def address_key(address: str | None) -> str | None:
    """The throttle key of a client address: IPv4 as is, IPv6 as its /64,
    anything unparsable as given (cut to 64 characters); ``None`` for none."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:_KEY_LENGTH]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


class DatabaseAddressThrottle:
    """The per-address throttle over ``yy_address_throttle``; both methods
    run in the login's own transaction."""

    def __init__(self, policy: AddressPolicy = DEFAULT_ADDRESS_POLICY) -> None:
        self.policy = policy

    def blocked(self, conn: Connection, ctx: Context, address: str | None) -> bool:
        """Whether logins from ``address`` are locked now."""
        key = address_key(address)
        if key is None:
            return False
        locked = conn.execute(select(address_throttle.c.locked_until)
                              .where(address_throttle.c.address == key)).scalar()
        return locked is not None and locked > ctx.now()

    def record(self, conn: Connection, ctx: Context, address: str | None,
               success: bool) -> None:
        """Count a failed attempt from ``address``; a success changes nothing."""
        key = address_key(address)
        if key is None or success:
            return
        now = ctx.now()
        row = self._locked_row(conn, key)
        if row is None:
            try:
                with conn.begin_nested():
                    conn.execute(insert(address_throttle).values(
                        address=key, failures=1, first_failure_at=now,
                        locked_until=self.policy.locked_until(1, now)))
                return
            except IntegrityError:  # the first failure from here, recorded concurrently
                row = self._locked_row(conn, key)
        self._count(conn, row, now)

    def _locked_row(self, conn: Connection, key: str) -> Any:
        return conn.execute(select(address_throttle)
                            .where(address_throttle.c.address == key)
                            .with_for_update()).first()

    def _count(self, conn: Connection, row: Any, now: datetime) -> None:
        quiet_since = max(row.first_failure_at, row.locked_until or row.first_failure_at)
        if now >= quiet_since + self.policy.window:
            failures, first = 1, now
        else:
            failures, first = row.failures + 1, row.first_failure_at
        conn.execute(update(address_throttle)
                     .where(address_throttle.c.address == row.address)
                     .values(failures=failures, first_failure_at=first,
                             locked_until=self.policy.locked_until(failures, now)))


def clear_address(conn: Connection, address: str) -> bool:
    """Forget the failures of ``address`` (an administrator lifting a lock);
    ``False`` when nothing was recorded for it."""
    key = address_key(address)
    if key is None:
        return False
    return bool(conn.execute(delete(address_throttle)
                             .where(address_throttle.c.address == key)).rowcount)
