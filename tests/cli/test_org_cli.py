"""The `yunying org` commands: build a small org, change it on dates, print
it as of dates, load an org document, and refuse bad input with located
bilingual messages (exit 1) or usage errors (exit 2)."""

from __future__ import annotations

import textwrap
from datetime import date

import pytest
from sqlalchemy import func, select

from yunying.platform import org
from yunying.platform.tables import org_edge, org_unit, user


def _ok(result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def hospital(run):
    """HOSP → {MED → CARD, SURG} in tree adm (from 2020-01-01); CARD at F3."""
    _ok(run("org", "add-tree", "adm", "--name", "行政", "--name-en", "Administrative",
            "--kind", "administrative", "--from", "2020-01-01"))
    _ok(run("org", "add-location", "E", "--name", "东院", "--name-en", "East",
            "--kind", "campus"))
    _ok(run("org", "add-location", "F3", "--name", "3楼", "--kind", "floor", "--parent", "E"))
    _ok(run("org", "add-unit", "HOSP", "--name", "医院", "--name-en", "Hospital",
            "--type", "hospital", "--from", "2020-01-01"))
    for code, name in (("MED", "Medicine"), ("SURG", "Surgery")):
        _ok(run("org", "add-unit", code, "--name", f"{name}科", "--name-en", name,
                "--type", "department", "--from", "2020-01-01", "--parent", "adm=HOSP"))
    _ok(run("org", "add-unit", "CARD", "--name", "心内科", "--name-en", "Cardiology",
            "--type", "ward", "--from", "2020-01-01", "--parent", "adm=MED",
            "--location", "F3"))
    for code in ("dr_li", "nurse"):
        _ok(run("user", "create", code, "--name", code, "--password-stdin",
                input="password-123\n"))
    return run


def test_units_trees_and_locations_are_listed(hospital):
    listed = _ok(hospital("org", "units"))
    assert listed.splitlines()[0].split()[:3] == ["CARD", "ward", "2020-01-01…"]
    assert "4 unit(s)" in listed
    assert "1 unit(s)" in _ok(hospital("org", "units", "--type", "hospital"))
    assert "0 unit(s)" in _ok(hospital("org", "units", "--as-of", "2019-12-31"))
    assert "administrative" in _ok(hospital("org", "trees"))
    assert "F3               floor     E" in _ok(hospital("org", "locations"))


def test_tree_prints_the_subtree_indented(hospital):
    printed = _ok(hospital("org", "tree", "adm", "HOSP", "--as-of", "2021-01-01"))
    assert printed.splitlines() == [
        "adm as of 2021-01-01:",
        "HOSP  医院 / Hospital (hospital)",
        "  MED  Medicine科 / Medicine (department)",
        "    CARD  心内科 / Cardiology (ward)",
        "  SURG  Surgery科 / Surgery (department)",
    ]


def test_reparent_move_head_and_assign_on_dates(hospital, database):
    assert "from 2026-06-01" in _ok(hospital("org", "reparent", "adm", "CARD", "SURG",
                                             "--on", "2026-06-01"))
    before = _ok(hospital("org", "tree", "adm", "MED", "--as-of", "2026-05-31"))
    after = _ok(hospital("org", "tree", "adm", "SURG", "--as-of", "2026-06-01"))
    assert "CARD" in before and "    CARD" not in before  # one level below MED
    assert "  CARD  心内科" in after
    _ok(hospital("org", "move", "CARD", "E", "--on", "2026-06-01"))
    _ok(hospital("org", "head", "SURG", "dr_li", "--on", "2026-01-01"))
    _ok(hospital("org", "assign", "nurse", "CARD", "--on", "2026-01-01"))
    assert "secondary" in _ok(hospital("org", "assign", "dr_li", "MED", "--secondary",
                                       "--on", "2026-01-01"))
    with database.connect() as conn:
        assert org.location_of(conn, "CARD", date.fromisoformat("2026-05-31")) == "F3"
        assert org.location_of(conn, "CARD", date.fromisoformat("2026-06-01")) == "E"
        assert org.primary_unit(conn, "nurse", date.fromisoformat("2026-02-01")) == "CARD"
        heads = org.heads_above(conn, "nurse", "adm", date.fromisoformat("2026-06-01"))
        assert [h.user for h in heads] == ["dr_li"]


def test_split_and_merge(hospital, database):
    _ok(hospital("org", "assign", "nurse", "CARD", "--on", "2020-01-01"))
    out = _ok(hospital("org", "split", "CARD", "--into", "CARD-A:ward:心内一:Cardiology A",
                       "--into", "CARD-B:ward:心内二", "--reassign", "nurse=CARD-B",
                       "--on", "2026-06-01"))
    assert "split CARD into CARD-A, CARD-B on 2026-06-01" in out
    out = _ok(hospital("org", "merge", "CARD-A", "CARD-B", "--into-new",
                       "CARD-X:ward:心内:Cardiology", "--on", "2026-09-01"))
    assert "merged CARD-A, CARD-B into CARD-X" in out
    with database.connect() as conn:
        assert org.primary_unit(conn, "nurse", date.fromisoformat("2026-09-01")) == "CARD-X"
        assert org.ancestors(conn, "adm", "CARD-X", date.fromisoformat("2026-09-01")) == [
            "MED", "HOSP"]
    _ok(hospital("org", "merge", "SURG", "--into", "MED", "--on", "2026-10-01"))


def _rows(database, table) -> int:
    with database.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def test_refusals_are_bilingual_and_change_nothing(hospital, database):
    result = hospital("org", "add-unit", "ICU", "--name", "重症", "--type", "ward",
                      "--from", "2020-01-01", "--parent", "adm=GHOST")
    assert result.exit_code == 1
    assert "[org_not_found]" in result.output and "GHOST" in result.output
    assert "错误：" in result.output
    result = hospital("org", "reparent", "adm", "MED", "CARD", "--on", "2026-01-01")
    assert result.exit_code == 1 and "[org_cycle]" in result.output
    result = hospital("org", "add-unit", "bad code", "--name", "x", "--type", "ward",
                      "--from", "2020-01-01")
    assert result.exit_code == 1 and "code [invalid]" in result.output
    result = hospital("org", "head", "MED", "ghost", "--on", "2026-01-01")
    assert result.exit_code == 1 and "ghost" in result.output
    result = hospital("org", "split", "CARD", "--into", "CARD-A:ward:甲", "--on", "2026-06-01",
                      "--child", "X=ELSEWHERE")
    assert result.exit_code == 1 and "[validation_failed]" in result.output
    assert _rows(database, org_unit) == 4 and _rows(database, org_edge) == 3


@pytest.mark.parametrize("args", [
    ("org", "reparent", "adm", "CARD", "SURG", "--on", "2026-02-30"),
    ("org", "reparent", "adm", "CARD", "SURG"),
    ("org", "add-unit", "X", "--name", "x", "--type", "lab", "--from", "2020-01-01"),
    ("org", "add-unit", "X", "--name", "x", "--type", "ward", "--from", "2020-01-01",
     "--parent", "adm"),
    ("org", "split", "CARD", "--into", "CARD-A", "--on", "2026-06-01"),
    ("org", "merge", "CARD", "--on", "2026-06-01"),
    ("org", "units", "--as-of", "soon"),
])
def test_bad_arguments_are_usage_errors(run, args):
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


_DOCUMENT = """\
    trees:
      - {code: admin, name: {zh: 行政, en: Administrative}, kind: administrative}
    locations:
      - {code: E, name: {zh: 东院, en: East}, kind: campus}
    units:
      - {code: HOSP, name: {zh: 医院, en: Hospital}, type: hospital,
         valid_from: 2020-01-01, location: E}
      - {code: MED, name: {zh: 内科, en: Medicine}, type: department,
         valid_from: 2020-01-01, parents: {admin: %s}}
    users:
      - {code: dean, name: {zh: 院长, en: Dean}}
    heads:
      - {unit: HOSP, user: dean, valid_from: 2020-01-01}
    role_grants:
      - {user: dean, role: platform.admin}
"""


def test_load_an_org_document(run, tmp_path, database):
    path = tmp_path / "org.yaml"
    path.write_text(textwrap.dedent(_DOCUMENT % "HOSP"), encoding="utf-8")
    out = _ok(run("org", "load", str(path)))
    assert "1 trees created" in out and "2 units created" in out and "1 roles granted" in out
    assert "yunying user set-password dean" in out
    assert "unchanged" in _ok(run("org", "load", str(path)))
    assert "  MED  内科" in _ok(run("org", "tree", "admin", "HOSP"))
    with database.connect() as conn:
        assert conn.execute(select(user.c.code)).scalars().all() == ["dean"]


def test_load_refuses_a_bad_document_with_file_and_line(run, tmp_path, database):
    path = tmp_path / "org.yaml"
    path.write_text(textwrap.dedent(_DOCUMENT % "GHOST"), encoding="utf-8")
    result = run("org", "load", str(path))
    assert result.exit_code == 1
    assert "org.yaml:9 $.units[1].parents.admin [org_not_found]" in result.output
    assert _rows(database, org_unit) == 0
    path.write_text("units:\n  - {code: X, name: x}\n", encoding="utf-8")
    result = run("org", "load", str(path))
    assert result.exit_code == 1 and "org.yaml:2 $.units[0]" in result.output
    path.write_text("units: [\n", encoding="utf-8")
    result = run("org", "load", str(path))
    assert result.exit_code == 1 and "[yaml_syntax]" in result.output
