"""Paths of the fixture packages used by the metadata tests."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ROOT / "tests" / "fixtures" / "packages"
BROKEN = PACKAGES / "broken"
GOOD = PACKAGES / "good"
MODULES = ROOT / "yunying" / "modules"
