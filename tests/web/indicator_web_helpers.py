"""Shared set-up of the indicator API and dashboard tests: one app per module
over the bundled ``base`` package (its demo hospital) and a copy of the
``indicators_small`` fixture package with a role granting ``view_indicators``."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

from flask import Flask

from yunying.app import services
from yunying.runtime.installer import bundled_package_paths, install_packages
from ui_form_helpers import module_database
from web_helpers import INSTALLER, make_app

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "packages" / "indicators_small"
VIEWER_ROLE = """\
code: viewer
name: {zh: 指标查看, en: Indicator viewer}
platform: [view_indicators]
"""


def package_with_viewer(where: Path) -> Path:
    """A copy of the fixture package in ``where`` with the ``viewer`` role."""
    copy = where / "indicators_small"
    shutil.copytree(FIXTURE, copy)
    (copy / "roles").mkdir(exist_ok=True)
    (copy / "roles" / "viewer.yaml").write_text(VIEWER_ROLE, encoding="utf-8")
    return copy


def indicator_app(where: Path, pg_url, name: str, package: Path,
                  rows: Callable[[Flask], None]) -> Flask:
    """An app whose database (per module) holds base with demo data, ``package``
    and the ``rows`` written by the caller."""
    application = make_app(module_database(where, pg_url, name), where / "instance",
                           install=False)
    base = [p for p in bundled_package_paths() if Path(p).name == "base"]
    install_packages(services(application).db, [*base, package], INSTALLER, with_demo=True)
    rows(application)
    return application
