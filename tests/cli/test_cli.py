"""The `yunying` command: init, package validate / install / list, demo."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, text

from yunying.platform import migrate
from yunying.cli import cli
from yunying.runtime.installer import bundled_package_paths

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "packages"


@pytest.fixture
def run(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("YUNYING_DATABASE_URL", database_url)
    monkeypatch.setenv("YUNYING_INSTANCE", str(tmp_path / "instance"))
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(cli, list(args), catch_exceptions=False)
    return invoke


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_init_creates_platform_tables(run, database_url):
    result = run("init")
    assert result.exit_code == 0, result.output
    assert f"revision {migrate.head_revision()}" in result.output
    assert "yy_metadata_item" in _tables(database_url)


def test_validate_reports_ok_for_bundled_packages(run):
    result = run("package", "validate", *bundled_package_paths())
    assert result.exit_code == 0, result.output
    assert "ok  materials 1.4.0" in result.output


def test_validate_reports_every_issue_and_exits_1(run):
    result = run("package", "validate", str(FIXTURES / "upgrade" / "v0_downgrade"),
                 str(FIXTURES / "bad_seed" / "seed"))
    assert result.exit_code == 1
    assert "missing_manifest" in result.output


def test_install_dry_run_prints_the_plan_and_changes_nothing(run, database_url):
    run("init")
    result = run("package", "install", "--dry-run", *bundled_package_paths())
    assert result.exit_code == 0, result.output
    assert "materials_requisition" in result.output
    assert "dry run: nothing changed" in result.output
    assert "materials_item" not in _tables(database_url)


def test_install_then_list(run, database_url):
    run("init")
    result = run("package", "install", *bundled_package_paths())
    assert result.exit_code == 0, result.output
    assert "seeded" in result.output
    listed = run("package", "list")
    assert "materials" in listed.output and "1.4.0" in listed.output
    assert "materials_requisition__lines" in _tables(database_url)


def test_lossy_install_fails_with_row_counts_and_exit_1(run, database_url):
    run("init")
    assert run("package", "install", str(FIXTURES / "upgrade" / "v1")).exit_code == 0
    assert run("package", "install", str(FIXTURES / "upgrade" / "v2")).exit_code == 0
    result = run("package", "install", str(FIXTURES / "upgrade" / "v3_lossy"))
    assert result.exit_code == 1
    assert "lossy_change" in result.output and "title" in result.output


def test_demo_without_serving_loads_demo_rows(run, database_url):
    result = run("demo", "--no-serve")
    assert result.exit_code == 0, result.output
    engine = create_engine(database_url)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM materials_requisition")).scalar()
    engine.dispose()
    assert count == 2


def test_demo_on_a_fresh_checkout_creates_its_instance_folder(tmp_path, monkeypatch):
    """The quick start: no instance folder, no database URL — SQLite in ./instance."""
    monkeypatch.delenv("YUNYING_DATABASE_URL", raising=False)
    monkeypatch.delenv("YUNYING_CONFIG", raising=False)
    instance = tmp_path / "fresh" / "instance"
    monkeypatch.setenv("YUNYING_INSTANCE", str(instance))
    result = CliRunner().invoke(cli, ["demo", "--no-serve"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    engine = create_engine(f"sqlite:///{instance / 'yunying.db'}")
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM materials_requisition")).scalar()
    engine.dispose()
    assert count == 2


def _demo_password(server) -> str:
    """The demo admin's password from the demo's console output."""
    seen = []
    for raw in iter(server.stdout.readline, b""):
        line = raw.decode()
        seen.append(line)
        if line.startswith("demo login"):
            return line.split(": ", 1)[1].split(" / ")[1].split()[0]
    raise AssertionError("the demo printed no login:\n" + "".join(seen))


def test_demo_serves_http(database_url, tmp_path):
    """`yunying demo` really serves: sign in as the printed demo admin over
    plain HTTP (cookie + CSRF), then list and create through a live server."""
    import http.cookiejar
    import json
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "YUNYING_DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1",
           "YUNYING_INSTANCE": str(tmp_path / "instance")}
    env.pop("YUNYING_CONFIG", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "yunying.cli", "demo", "--port", str(port)], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    browser = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def call(method, path, body=None, headers=None):
        request = urllib.request.Request(
            base + path, method=method, data=json.dumps(body).encode() if body else None,
            headers={"Content-Type": "application/json", **(headers or {})})
        with browser.open(request) as r:
            return r.status, json.load(r)
    try:
        password = _demo_password(server)
        for _ in range(300):
            try:
                _, state = call("GET", "/api/v1/session")
                break
            except OSError:
                assert server.poll() is None, server.stdout.read().decode()
                time.sleep(0.1)
        else:
            raise AssertionError("the demo server did not answer within 30 s")
        assert state["authenticated"] is False
        status, state = call("POST", "/api/v1/session", {"code": "admin", "password": password},
                             {"X-CSRFToken": state["csrf_token"]})
        assert status == 200 and state["authenticated"] is True
        _, listed = call("GET", "/api/v1/records/materials.requisition")
        assert listed["total"] == 2
        status, created = call("POST", "/api/v1/records/materials.requisition",
                               {"department": "0301", "urgency": "urgent",
                                "urgent_reason": "急用",
                                "lines": [{"item": 1, "quantity": "2"}]},
                               {"X-CSRFToken": state["csrf_token"]})
        assert status == 201
        assert created["number"].startswith("LY") and created["created_by"] == "admin"
    finally:
        server.terminate()
        server.wait(timeout=10)
