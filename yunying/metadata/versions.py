"""Package versions, version ranges and dependency order (metadata layer).

Versions are semantic versions (``1.2.0``) compared with
:class:`packaging.version.Version`; ranges are comma-separated comparisons
(``>=1.0,<2``) read by :class:`packaging.specifiers.SpecifierSet`.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from yunying.platform.errors import YunyingError
from yunying.platform.i18n import Text

__all__ = ["parse_version", "parse_range", "satisfies", "dependency_order"]


def parse_version(text: str) -> Version:
    """``"1.2.0"`` → a comparable :class:`Version`.

    Raises YunyingError (code ``invalid_version``) for anything else.
    """
    try:
        return Version(str(text))
    except InvalidVersion as exc:
        raise YunyingError(Text(f"无效的版本号 {text!r}（应如 1.0.0）",
                                f"invalid version {text!r} (expected e.g. 1.0.0)"),
                           code="invalid_version") from exc


def parse_range(text: str) -> SpecifierSet:
    """``">=1.0,<2"`` → a :class:`SpecifierSet`.

    Raises YunyingError (code ``invalid_version``) when a comparison is malformed
    (``~=1`` needs two parts, ``>=1.*`` is not allowed).
    """
    try:
        return SpecifierSet(str(text))
    except InvalidSpecifier as exc:
        raise YunyingError(Text(f"无效的版本范围 {text!r}（应如 >=1.0,<2）",
                                f"invalid version range {text!r} (expected e.g. >=1.0,<2)"),
                           code="invalid_version") from exc


def satisfies(version: str, version_range: str) -> bool:
    """Whether ``version`` lies in ``version_range`` (pre-releases included)."""
    return parse_range(version_range).contains(parse_version(version), prereleases=True)


def dependency_order(requires: Mapping[str, Iterable[str]]
                     ) -> tuple[list[str], list[list[str]]]:
    """Order package codes so that each comes after the packages it requires.

    ``requires`` maps every package to the codes it requires; codes that are
    not keys (already installed packages) are ignored. Returns the order
    (ties broken by code, so it is stable) and the cycles found, each as the
    list of codes around it starting from its smallest code.
    """
    deps = {code: sorted({r for r in wanted if r in requires})
            for code, wanted in requires.items()}
    order: list[str] = []
    state: dict[str, str] = {}
    cycles: list[list[str]] = []

    def visit(code: str, trail: list[str]) -> None:
        if state.get(code) == "done":
            return
        if state.get(code) == "open":
            cycles.append(_rotate(trail[trail.index(code):-1]))
            return
        state[code] = "open"
        for dep in deps[code]:
            visit(dep, [*trail, dep])
        state[code] = "done"
        order.append(code)

    for code in sorted(deps):
        visit(code, [code])
    unique = {tuple(c): c for c in cycles}
    return order, [unique[key] for key in sorted(unique)]


def _rotate(cycle: Sequence[str]) -> list[str]:
    start = cycle.index(min(cycle))
    return [*cycle[start:], *cycle[:start]]
