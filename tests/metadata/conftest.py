"""Fixtures of the metadata tests: the bundled packages, loaded once per test."""

from __future__ import annotations

import pytest

from yunying.metadata.loader import load_packages
from yunying.metadata.spec import PackageSpec

from metadata_paths import MODULES


@pytest.fixture
def bundled() -> dict[str, PackageSpec]:
    """The bundled packages (base, finance, materials), loaded and validated."""
    return {s.code: s for s in load_packages(
        [MODULES / "base", MODULES / "finance", MODULES / "materials"])}
