"""Package validation issues: one located finding each (metadata layer).

Loading a package collects every :class:`Issue` — a stable code, the file, the
JSON path, the YAML line when known, and a zh-CN / en message — and raises
them together as :class:`~yunying.platform.errors.InvalidPackage`, the way
Django's system checks report ``Error(msg, obj, id=...)`` lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

from yunying.platform.i18n import Text

__all__ = ["Issue", "json_path", "path_key"]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Issue:
    """One problem found in a package file.

    ``file`` is relative to the package root (``entities/item.yaml``);
    ``path`` is a JSON path into that file's document (``$.fields[2].length``);
    ``package`` names the package (its code, or its folder when the manifest
    is unreadable) so that issues of several packages loaded together can be
    told apart.
    """

    code: str
    message: Text
    file: str
    path: str = "$"
    line: int | None = None
    package: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "package": self.package,
            "file": self.file,
            "line": self.line,
            "path": self.path,
            "message": self.message.as_dict(),
        }

    @property
    def location(self) -> str:
        """``materials/entities/item.yaml:12`` (package and line when known)."""
        where = f"{self.package}/{self.file}" if self.package else self.file
        return f"{where}:{self.line}" if self.line else where

    def __str__(self) -> str:
        return f"{self.location} {self.path} [{self.code}] {self.message}"


def json_path(parts: Iterable[str | int]) -> str:
    """``["fields", 2, "length"]`` → ``$.fields[2].length``.

    Keys that are not identifiers are quoted: ``$['odd key']``.
    """
    out = ["$"]
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _IDENTIFIER.match(part):
            out.append(f".{part}")
        else:
            escaped = part.replace("\\", "\\\\").replace("'", "\\'")
            out.append(f"['{escaped}']")
    return "".join(out)


_PATH_TOKEN = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]")


def path_key(path: str) -> tuple[tuple[int, Any], ...]:
    """A sort key for JSON paths that orders ``[2]`` before ``[10]``."""
    key: list[tuple[int, Any]] = []
    for name, index, quoted in _PATH_TOKEN.findall(path):
        if index:
            key.append((0, int(index)))
        else:
            key.append((1, name or quoted))
    return tuple(key)
