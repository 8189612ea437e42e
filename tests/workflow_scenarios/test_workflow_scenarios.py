"""The workflow scenario suite: every script in ``scenarios/`` played on a fresh database.

Each script installs its fixture package (``tests/fixtures/wf_scenarios``),
creates its records and plays its steps through ``Runtime.workflow``, checking
the task list, state and status after every step (see ``workflow_script``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from workflow_script import FIXTURES, Scenario, load_script

SCRIPTS = sorted((Path(__file__).parent / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_scenario(db, path: Path) -> None:
    Scenario(db, load_script(path), name=path.stem).play()


def test_every_fixture_package_has_a_script() -> None:
    """A fixture nobody plays is dead weight; a script without its package is a typo."""
    packages = {load_script(p)["package"].split("/")[0] for p in SCRIPTS}
    fixtures = {p.name for p in FIXTURES.iterdir() if p.is_dir()} - {"concurrency"}
    assert packages == fixtures
