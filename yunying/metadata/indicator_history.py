"""Published indicator versions never change (指标口径不可静默修改) (metadata layer).

An indicator's value for a past period is whatever the version in force
then computed; if a package upgrade could edit an installed version's
formula or 统计口径 in place, history would change silently — the failure
this whole kind exists to prevent. :func:`changed_versions` compares the
installed package with the incoming one: every version the installed package
published must come back identical (formulas, 口径 texts, effective date,
note); a change needs a new version with its own ``effective_from``. The
installer refuses the upgrade with these issues, and nothing is written.

- ``indicator_version_changed``: a published version's content differs;
- ``indicator_version_removed``: a published version is missing.

Removing a whole indicator is the package author's decision and is allowed
(its snapshot values stay, labelled with their version).
"""

from __future__ import annotations

from yunying.metadata.indicators import IndicatorSpec, version_diff
from yunying.metadata.issues import Issue
from yunying.metadata.spec import PackageSpec
from yunying.platform.i18n import Text

__all__ = ["changed_versions"]


def changed_versions(installed: PackageSpec, incoming: PackageSpec) -> list[Issue]:
    """Issues for every published version of ``installed``'s indicators that
    ``incoming`` changes or drops (located in the incoming indicator file)."""
    issues: list[Issue] = []
    for old in installed.indicators:
        new = incoming.indicator(old.code)
        if new is not None:
            issues.extend(_compare(incoming.code, old, new))
    return issues


def _compare(package: str, old: IndicatorSpec, new: IndicatorSpec) -> list[Issue]:
    issues = []
    file = f"indicators/{old.code}.yaml"
    numbers = [v.version for v in new.versions]
    for version in old.versions:
        if version.version not in numbers:
            issues.append(Issue(
                code="indicator_version_removed", file=file, path="$.versions",
                package=package, message=Text(
                    f"指标 {old.code} 已发布的第 {version.version} 版不能删除：历史期间按它计算",
                    f"version {version.version} of the indicator {old.code} was published and "
                    f"cannot be removed: past periods are computed with it")))
            continue
        index = numbers.index(version.version)
        current = new.versions[index]
        changes = [c["field"] for c in version_diff(version, current)]
        if version.effective_from != current.effective_from:
            changes.insert(0, "effective_from")
        if changes:
            fields = ", ".join(changes)
            issues.append(Issue(
                code="indicator_version_changed", file=file, path=f"$.versions[{index}]",
                package=package, message=Text(
                    f"指标 {old.code} 已发布的第 {version.version} 版被修改（{fields}）："
                    f"修改公式或口径须新增一个版本并写明生效日期",
                    f"version {version.version} of the indicator {old.code} was published and "
                    f"has been changed ({fields}): a new formula or definition needs a new "
                    f"version with its own effective_from")))
    return issues
