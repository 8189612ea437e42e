"""Cross-reference checks of indicator documents that need no formula (metadata layer).

:func:`check_indicators` checks every indicator of a package through the
package :class:`~yunying.metadata.crossref.Checker`. Issue codes:

- ``invalid_versions`` — version numbers not 1, 2, 3 … in the order listed,
  or ``effective_from`` dates not strictly increasing;
- ``invalid_thresholds`` — thresholds whose amber limit lies on the wrong
  side of green for the direction (higher_better: amber below green;
  lower_better: amber above green), or thresholds on a ``monitor`` indicator.

Duplicate indicator codes are ``duplicate_code`` issues of the loader. The
formulas (entities, fields, ``@`` references, period functions, dimensions
of the aggregated entities, cycles) are checked by the runtime's indicator
package check, which parses them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from yunying.metadata.convert import to_date
from yunying.metadata.indicators import IndicatorSpec
from yunying.metadata.yaml_source import Source

if TYPE_CHECKING:
    from yunying.metadata.crossref import Checker

__all__ = ["check_indicators"]


def check_indicators(check: Checker, sources: Mapping[str, Source]) -> None:
    """Check every indicator of ``check.spec``."""
    for indicator in check.spec.indicators:
        source = sources[indicator.code]
        _versions(check, source, source.data["versions"])
        _thresholds(check, source, indicator)


def _versions(check: Checker, source: Source, versions: list[Mapping[str, Any]]) -> None:
    previous = None
    for n, version in enumerate(versions):
        path = f"$.versions[{n}]"
        if version["version"] != n + 1:
            check.add(source, "invalid_versions", f"{path}.version",
                      f"第 {n + 1} 个版本的版本号应为 {n + 1}（实际为 {version['version']}）："
                      f"版本号按列出的顺序为 1, 2, 3 …",
                      f"version {n + 1} in the list must be numbered {n + 1}, not "
                      f"{version['version']}: versions are numbered 1, 2, 3 … in order")
        effective = to_date(version["effective_from"])
        if previous is not None and effective is not None and effective <= previous:
            check.add(source, "invalid_versions", f"{path}.effective_from",
                      f"版本 {version['version']} 的生效日期 {effective} 必须晚于上一版本的 "
                      f"{previous}",
                      f"version {version['version']} takes effect on {effective}, which must "
                      f"be after the previous version's {previous}")
        previous = effective


def _thresholds(check: Checker, source: Source, spec: IndicatorSpec) -> None:
    limits = spec.thresholds
    if limits is None:
        return
    if spec.direction == "monitor":
        check.add(source, "invalid_thresholds", "$.thresholds",
                  "仅监测（monitor）的指标没有好坏之分，不能设置阈值",
                  "a monitor indicator is neither good nor bad: it cannot have thresholds")
        return
    if limits.amber is None:
        return
    wrong = (limits.amber > limits.green if spec.direction == "higher_better"
             else limits.amber < limits.green)
    if wrong:
        side = ("不高于", "at most") if spec.direction == "higher_better" else ("不低于",
                                                                               "at least")
        check.add(source, "invalid_thresholds", "$.thresholds.amber",
                  f"{spec.direction} 指标的黄色阈值 {limits.amber} 应{side[0]}绿色阈值 "
                  f"{limits.green}",
                  f"for a {spec.direction} indicator the amber limit {limits.amber} must be "
                  f"{side[1]} the green limit {limits.green}")
