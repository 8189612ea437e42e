"""Broken fixture packages report exactly the expected issues (code, file, path).

Each folder under ``tests/fixtures/packages/broken/<case>/`` holds a package
(or, as listed under ``packages:`` in its ``expected.yaml``, several packages
or a zip) and ``expected.yaml`` with the exact issue list in order. Packages
load with the formula check, as every real load does.
"""

from __future__ import annotations

import re
import shutil
import zipfile

import pytest
import yaml

from yunying.metadata import loader
from yunying.metadata.loader import load_package, load_packages
from yunying.platform.errors import InvalidPackage
from yunying.runtime.formula.package_check import FORMULA_CHECKS

from metadata_paths import BROKEN, MODULES, ROOT

CASES = sorted(p.name for p in BROKEN.iterdir() if (p / "expected.yaml").is_file())


def _expected(case: str) -> dict:
    return yaml.safe_load((BROKEN / case / "expected.yaml").read_text(encoding="utf-8"))


def _issues(paths, installed=None) -> list:
    with pytest.raises(InvalidPackage) as caught:
        load_packages(paths, installed=installed or {}, checks=FORMULA_CHECKS)
    return list(caught.value.issues)


@pytest.mark.parametrize("case", CASES)
def test_broken_package_reports_exactly_the_expected_issues(case, bundled):
    expected = _expected(case)
    folder = BROKEN / case
    paths = [folder / name for name in expected.get("packages", [])] or [folder]
    issues = _issues(paths, bundled if expected.get("with_bundled") else None)
    assert [[i.code, i.file, i.path] for i in issues] == expected["issues"]


@pytest.mark.parametrize("case", CASES)
def test_every_issue_is_located_and_bilingual(case, bundled):
    expected = _expected(case)
    folder = BROKEN / case
    paths = [folder / name for name in expected.get("packages", [])] or [folder]
    for issue in _issues(paths, bundled if expected.get("with_bundled") else None):
        assert issue.message.zh and issue.message.en and issue.message.zh != issue.message.en
        assert issue.package
        data = issue.as_dict()
        assert set(data) == {"code", "package", "file", "line", "path", "message"}
        assert set(data["message"]) == {"zh-CN", "en"}
        if issue.code not in ("missing_manifest", "invalid_archive"):
            assert isinstance(issue.line, int) and issue.line >= 1, issue


def test_every_static_issue_code_of_the_docs_has_a_broken_case():
    docs = (ROOT / "docs" / "packages.md").read_text(encoding="utf-8")
    table = docs.split("## Issue codes", 1)[1]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", table, flags=re.M))
    covered = {issue[0] for case in CASES for issue in _expected(case)["issues"]}
    by_installer = {"invalid_seed", "downgrade"}  # reported when installing, not statically
    assert by_installer <= documented
    assert documented - by_installer <= covered


def test_several_problems_carry_the_lines_of_their_nodes():
    issues = _issues([BROKEN / "several_problems"])
    assert [(i.file, i.line) for i in issues] == [
        ("dictionaries/broken.yaml", 5),
        ("dictionaries/status.yaml", 4),
        ("entities/line.yaml", 1),
        ("entities/order.yaml", 3),
        ("entities/order.yaml", 5),
        ("entities/order.yaml", 8),
        ("entities/order.yaml", 9),
        ("entities/order.yaml", 10),
        ("seed/order.yaml", 3),
    ]
    assert str(issues[3]) == (
        "several/entities/order.yaml:3 $.title_field [unknown_field] "
        "实体 order 没有字段 heading / entity order has no field 'heading'")


def test_invalid_package_details_list_every_issue_as_dicts():
    with pytest.raises(InvalidPackage) as caught:
        load_package(BROKEN / "formula_unknown_function", checks=FORMULA_CHECKS)
    error = caught.value
    assert error.code == "invalid_package"
    [issue] = error.details["issues"]
    message = issue.pop("message")
    assert issue == {"code": "formula_unknown_function", "package": "ffunc",
                     "file": "entities/sample.yaml", "line": 5, "path": "$.fields[1].formula"}
    # where in the file, where in the formula, what is wrong, what was meant
    assert message["zh-CN"].startswith("计算字段 rounded 的公式：第 1 行第 1 列：")
    assert message["en"].startswith("the formula of rounded: line 1, column 1: ")
    assert "ROUNDD" in message["en"] and "ROUND," in message["en"]
    assert "1 issue" in error.message.en


def test_a_schema_type_error_names_the_allowed_types():
    issues = _issues([BROKEN / "schema"])
    bad_type = next(i for i in issues if i.path == "$.fields[0].type")
    assert bad_type.message.en.startswith(
        "must be one of: string, text, integer, decimal, money, boolean, date")
    assert bad_type.message.en.endswith('got "strin"')
    # one issue for that field, not a cascade from every type-specific rule
    assert [i.path for i in issues if i.path.startswith("$.fields[0]")] == ["$.fields[0].type"]


def test_a_path_that_does_not_exist_is_a_missing_manifest(tmp_path):
    issues = _issues([tmp_path / "nowhere"])
    assert [(i.code, i.file) for i in issues] == [("missing_manifest", "package.yaml")]


def test_a_zip_with_a_corrupted_member_is_an_invalid_archive(tmp_path):
    archive = tmp_path / "pkg.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as out:
        out.writestr("package.yaml", "code: corrupt\nversion: 1.0.0\n"
                                     "name: {zh: 坏, en: Corrupt}\n")
    data = bytearray(archive.read_bytes())
    at = data.index(b"code: corrupt")
    data[at:at + 4] = b"CODE"  # the stored CRC no longer matches
    archive.write_bytes(bytes(data))
    issues = _issues([archive])
    assert [(i.code, i.file) for i in issues] == [("invalid_archive", "pkg.zip")]
    assert "CRC" in issues[0].message.en


def test_an_oversized_zip_member_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(loader, "MAX_FILE_BYTES", 64)
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("package.yaml", "description: " + "x" * 1000)
    issues = _issues([archive])
    assert [i.code for i in issues] == ["invalid_archive"]
    assert "larger than 64 bytes" in issues[0].message.en


def test_a_zip_without_a_manifest_reports_missing_manifest(tmp_path):
    archive = tmp_path / "empty.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("one/entities/a.yaml", "code: aa\n")
        out.writestr("two/package.yaml", "code: bb\n")
    assert [i.code for i in _issues([archive])] == ["missing_manifest"]


def test_issues_of_all_packages_are_raised_together(bundled):
    issues = _issues([BROKEN / "formula_context", BROKEN / "invalid_pattern"])
    assert [(i.package, i.code) for i in issues] == [
        ("fcontext", "formula_context"),
        ("badpattern", "invalid_pattern"),
        ("badpattern", "invalid_pattern"),
    ]


def test_an_overlong_seed_file_name_is_reported(tmp_path):
    root = tmp_path / "longname"
    (root / "seed").mkdir(parents=True)
    (root / "package.yaml").write_text("code: longname\nversion: 1.0.0\n"
                                       "name: {zh: 长, en: Long}\n", encoding="utf-8")
    name = "seed/" + "s" * 60 + ".yaml"
    (root / name).write_text("entity: nothing\nrows: []\n", encoding="utf-8")
    issues = _issues([root])
    assert [(i.code, i.file) for i in issues] == [("schema", name)]


def test_an_upgrade_that_drops_what_installed_packages_use_is_refused(tmp_path, bundled):
    base = shutil.copytree(MODULES / "base", tmp_path / "base")
    (base / "dictionaries" / "uom.yaml").unlink()
    manifest = base / "package.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("1.0.0", "1.1.0"),
                        encoding="utf-8")
    issues = _issues([base], installed=bundled)
    assert [(i.code, i.package, i.file, i.path, i.line) for i in issues] == [
        ("unknown_dictionary", "base", "package.yaml", "$", 1)]
    assert issues[0].message.en == (
        "installed package materials refers to base.uom (item.uom), "
        "which this version no longer has")
