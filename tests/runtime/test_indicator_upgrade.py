"""A package upgrade may add indicator versions, never edit or drop published ones."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from yunying.metadata.store import MetadataStore
from yunying.platform.context import Context
from yunying.platform.errors import InvalidPackage
from yunying.runtime.installer import bundled_package_paths, install_packages

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "packages"
CTX = Context(actor="tester")
BASE = [p for p in bundled_package_paths() if Path(p).name == "base"]
V2_NUMERATOR = '    numerator: "SUM(discharge.los_days, surgery = FALSE)"'
V3 = '''  - version: 3
    effective_from: 2026-01-01
    definition:
      summary: {zh: 含日间病房的平均住院日, en: Average stay including day wards}
    numerator: "SUM(discharge.los_days)"
    denominator: "COUNT(discharge)"
'''


def _copy(tmp_path: Path, version: str, edit=lambda text: text) -> Path:
    target = tmp_path / f"ind-{version}"
    shutil.copytree(FIXTURES / "indicators_small", target)
    manifest = target / "package.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(
        "version: 1.0.0", f"version: {version}"), encoding="utf-8")
    avg_los = target / "indicators" / "avg_los.yaml"
    avg_los.write_text(edit(avg_los.read_text(encoding="utf-8")), encoding="utf-8")
    return target


def _installed(db) -> dict[str, str]:
    with db.connect() as conn:
        return {p.code: p.version for p in MetadataStore().installed(conn)}


def _install(db, path: Path) -> None:
    install_packages(db, [*BASE, path], CTX)


def test_an_upgrade_adding_a_version_installs(db, tmp_path):
    _install(db, FIXTURES / "indicators_small")
    _install(db, _copy(tmp_path, "1.1.0", lambda text: text + V3))
    assert _installed(db)["ind"] == "1.1.0"
    with db.connect() as conn:
        spec = {p.code: p for p in MetadataStore().installed(conn)}["ind"].indicator("avg_los")
    assert [v.version for v in spec.versions] == [1, 2, 3]


@pytest.mark.parametrize("edit, code, path, word", [
    (lambda t: t.replace(V2_NUMERATOR, '    numerator: "SUM(discharge.los_days)"'),
     "indicator_version_changed", "$.versions[1]", "numerator"),
    (lambda t: t.replace("出院患者占用总床日数除以出院人次数", "出院患者住院天数之和除以出院人次"),
     "indicator_version_changed", "$.versions[0]", "definition.summary"),
    (lambda t: t.replace("effective_from: 2025-01-01", "effective_from: 2024-07-01"),
     "indicator_version_changed", "$.versions[1]", "effective_from"),
    (lambda t: t[:t.index("  - version: 2")], "indicator_version_removed", "$.versions", None),
])
def test_an_upgrade_editing_a_published_version_is_refused(db, tmp_path, edit, code, path, word):
    _install(db, FIXTURES / "indicators_small")
    with pytest.raises(InvalidPackage) as caught:
        _install(db, _copy(tmp_path, "1.1.0", edit))
    issues = [i for i in caught.value.issues if i.code == code]
    assert len(issues) == 1, caught.value.issues
    issue = issues[0]
    assert (issue.package, issue.file, issue.path) == ("ind", "indicators/avg_los.yaml", path)
    assert "avg_los" in issue.message.zh and "avg_los" in issue.message.en
    if word:
        assert word in issue.message.en and word in issue.message.zh
    assert _installed(db)["ind"] == "1.0.0"   # nothing written
