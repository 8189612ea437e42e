"""Variants of a fixture package written to a temporary folder, and the
issues loading them reports (with the formula check, as every real load)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Mapping

import pytest

from yunying.metadata.loader import load_packages
from yunying.metadata.spec import PackageSpec
from yunying.platform.errors import InvalidPackage
from yunying.runtime.formula.package_check import FORMULA_CHECKS


def variant(tmp_path: Path, source: Path, files: Mapping[str, str | None]) -> Path:
    """A copy of ``source`` with ``files`` written (text) or removed (None)."""
    root = shutil.copytree(source, tmp_path / source.name)
    for name, text in files.items():
        target = root / name
        if text is None:
            target.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    return root


def issues_of(paths: list[Path], installed: Mapping[str, PackageSpec]) -> list:
    """The issues of loading ``paths``: each located, bilingual, with a line."""
    with pytest.raises(InvalidPackage) as caught:
        load_packages(paths, installed=installed, checks=FORMULA_CHECKS)
    issues = list(caught.value.issues)
    for issue in issues:
        assert issue.message.zh and issue.message.en != issue.message.zh, issue
        assert isinstance(issue.line, int) and issue.line >= 1, issue
    return issues


def codes_of(paths: list[Path], installed: Mapping[str, PackageSpec]) -> list[list[str]]:
    """[code, file, path] of each issue, in order."""
    return [[i.code, i.file, i.path] for i in issues_of(paths, installed)]
