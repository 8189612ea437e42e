"""One loaded version of the access policy: a casbin enforcer over the stored
rows (platform layer; used only by :mod:`yunying.platform.access`).

A :class:`Policy` is built from the rows of ``yy_casbin_rule`` and never
changes afterwards; a policy change in the database makes the facade build a
new one. Casbin's role manager fills caches lazily while it answers, so every
question goes through the policy's lock (one Flask app serves threads).
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Iterable, Sequence

import casbin
from casbin.model import Model
from casbin.persist import Adapter

__all__ = ["ANY_DOMAIN", "SUPERUSER_ROLE", "USER_PREFIX", "ROLE_PREFIX", "SUPERUSER_RULE",
           "Policy", "role_subject", "user_subject"]

#: a link or permission held in this domain applies in every domain.
ANY_DOMAIN = "*"
#: the built-in role allowed everything, everywhere.
SUPERUSER_ROLE = "platform.admin"
USER_PREFIX = "user:"
ROLE_PREFIX = "role:"

#: casbin's default: role chains longer than this are not followed.
MAX_ROLE_DEPTH = 10


def user_subject(code: str) -> str:
    """The casbin subject of a user (``user:<code>``)."""
    return USER_PREFIX + code


def role_subject(code: str) -> str:
    """The casbin subject of a role (``role:<qualified code>``)."""
    return ROLE_PREFIX + code


#: the superuser's permission, always part of a loaded policy so the first
#: administrator works before any package was installed.
SUPERUSER_RULE = ("p", (role_subject(SUPERUSER_ROLE), ANY_DOMAIN, "*", "*"))


def _domain_matches(requested: str, held: str) -> bool:
    """Casbin's domain matching function: a link held in ``*`` counts in every domain."""
    return held == ANY_DOMAIN or held == requested


class _Rows(Adapter):
    """A read-only casbin adapter over rows already read from the database."""

    def __init__(self, rows: Iterable[tuple[str, tuple[str, ...]]]) -> None:
        self._rows = list(dict.fromkeys(rows))

    def load_policy(self, model: Model) -> None:
        for ptype, values in self._rows:
            section = model.model.get(ptype[:1], {})
            if ptype in section:
                section[ptype].policy.append(list(values))


class Policy:
    """The enforcer and row index of one policy version."""

    def __init__(self, version: int | None, model_text: str,
                 rows: Sequence[tuple[str, tuple[str, ...]]]) -> None:
        self.version = version
        self._lock = threading.Lock()
        rows = [SUPERUSER_RULE, *rows]
        self._permissions: dict[str, list[tuple[str, str, str]]] = {}
        self._links: dict[str, list[tuple[str, str]]] = {}
        for ptype, values in dict.fromkeys(rows):
            if ptype == "p" and len(values) == 4:
                self._permissions.setdefault(values[0], []).append(values[1:])  # type: ignore
            elif ptype == "g" and len(values) == 3:
                self._links.setdefault(values[0], []).append(values[1:])  # type: ignore
        self._enforcer = _enforcer(model_text, rows)

    # -- questions (each under the lock) --------------------------------------

    def enforce(self, subject: str, domain: str, obj: str, act: str) -> bool:
        with self._lock:
            return bool(self._enforcer.enforce(subject, domain, obj, act))

    def links(self, subject: str) -> list[tuple[str, str]]:
        """The direct ``(role subject, domain)`` links of ``subject``."""
        return list(self._links.get(subject, ()))

    def permissions(self, subject: str) -> list[tuple[str, str, str]]:
        """The direct ``(domain, object, action)`` permissions of ``subject``."""
        return list(self._permissions.get(subject, ()))

    def implicit_roles(self, subject: str, domain: str) -> list[str]:
        """Every role subject ``subject`` holds in ``domain``, inherited ones too
        (links held in ``*`` included)."""
        with self._lock:
            return list(self._enforcer.get_implicit_roles_for_user(subject, domain))

    def holders(self, role: str, domain: str) -> set[str]:
        """Every subject holding ``role`` in ``domain``: directly, through ``*``,
        or through a role that inherits it."""
        seen: set[str] = set()
        queue = deque([role])
        with self._lock:
            while queue:
                for subject in self._enforcer.get_users_for_role_in_domain(queue.popleft(),
                                                                           domain):
                    if subject not in seen:
                        seen.add(subject)
                        queue.append(subject)
        return seen


def _enforcer(model_text: str, rows: Sequence[tuple[str, tuple[str, ...]]]
              ) -> casbin.Enforcer:
    model = casbin.Enforcer.new_model(text=model_text)
    enforcer = casbin.Enforcer(model)
    enforcer.add_named_domain_matching_func("g", _domain_matches)
    # names are matched exactly; without this casbin's default equality
    # "pattern" makes building a domain's role links quadratic in the users
    enforcer.add_named_matching_func("g", None)
    enforcer.set_adapter(_Rows(rows))
    enforcer.load_policy()
    return enforcer
