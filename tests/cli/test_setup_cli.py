"""`yunying init` and `yunying demo`: the secret key and the first administrator."""

from __future__ import annotations

import stat

import pytest
import yaml
from click.testing import CliRunner

from yunying.cli import cli
from yunying.platform import identity
from yunying.platform.access import ANY_DOMAIN, SUPERUSER_ROLE, AccessControl
from yunying.platform.context import Context
from yunying.platform.errors import NotFound


@pytest.fixture
def instance(tmp_path):
    return tmp_path / "instance"


@pytest.fixture
def run(database_url, instance, monkeypatch):
    monkeypatch.setenv("YUNYING_DATABASE_URL", database_url)
    monkeypatch.setenv("YUNYING_INSTANCE", str(instance))
    monkeypatch.delenv("YUNYING_CONFIG", raising=False)
    monkeypatch.delenv("YUNYING_SECRET_KEY", raising=False)
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(cli, list(args), input=input, catch_exceptions=False)
    return invoke


def _signs_in(database, code, password) -> bool:
    with database.begin(write=True) as conn:
        return identity.authenticate(conn, Context(), code, password) is not None


def _admins(database) -> list[str]:
    with database.connect() as conn:
        return AccessControl(database).users_with_role(conn, SUPERUSER_ROLE, ANY_DOMAIN)


def _secret(instance) -> str:
    return yaml.safe_load((instance / "yunying.yaml").read_text())["SECRET_KEY"]


def test_init_writes_a_private_secret_key_once(run, instance):
    result = run("init")
    assert result.exit_code == 0, result.output
    assert "wrote a random SECRET_KEY" in result.output
    key = _secret(instance)
    assert isinstance(key, str) and len(key) == 64
    assert stat.S_IMODE((instance / "yunying.yaml").stat().st_mode) == 0o600
    again = run("init")
    assert "SECRET_KEY" not in again.output and _secret(instance) == key


def test_init_keeps_an_existing_config_file(run, instance):
    instance.mkdir()
    (instance / "yunying.yaml").write_text("ATTACHMENT_DIR: /srv/files", encoding="utf-8")
    assert run("init").exit_code == 0
    config = yaml.safe_load((instance / "yunying.yaml").read_text())
    assert config["ATTACHMENT_DIR"] == "/srv/files" and len(config["SECRET_KEY"]) == 64


def test_a_secret_key_from_the_environment_is_not_written(run, instance, monkeypatch):
    monkeypatch.setenv("YUNYING_SECRET_KEY", "from-the-environment")
    assert run("init").exit_code == 0
    assert not (instance / "yunying.yaml").exists()


def test_init_without_admin_says_how_to_create_one(run):
    result = run("init")
    assert "no administrator yet: run `yunying init --admin CODE`" in result.output


def test_init_creates_the_first_administrator(run, database):
    result = run("init", "--admin", "root", "--name", "信息科", "--password-stdin",
                 input="a strong secret\n")
    assert result.exit_code == 0, result.output
    assert "created administrator root" in result.output
    assert _admins(database) == ["root"]
    assert _signs_in(database, "root", "a strong secret")
    assert "no administrator yet" not in run("init").output


def test_init_prompts_for_the_password_twice(run, database):
    result = run("init", "--admin", "root", input="first secret\nother secret\n"
                                                    "first secret\nfirst secret\n")
    assert result.exit_code == 0, result.output
    assert "repeat" in result.output
    assert _signs_in(database, "root", "first secret")


def test_a_second_first_administrator_is_refused(run, database):
    run("init", "--admin", "root", "--password-stdin", input="a strong secret\n")
    result = run("init", "--admin", "other", "--password-stdin", input="a strong secret\n")
    assert result.exit_code == 1
    assert "an administrator exists already (root)" in result.output
    with database.connect() as conn:
        with pytest.raises(NotFound):
            identity.get_user(conn, "other")


def test_a_bad_password_creates_nothing(run, database):
    result = run("init", "--admin", "root", "--password-stdin", input="short\n")
    assert result.exit_code == 1
    assert "at least 8 characters" in result.output
    assert _admins(database) == []
    assert "no administrator yet" in run("init").output


def test_demo_creates_an_admin_and_prints_its_password_once(run, database):
    first = run("demo", "--no-serve")
    assert first.exit_code == 0, first.output
    [line] = [l for l in first.output.splitlines() if l.startswith("demo login")]
    password = line.split(": ", 1)[1].split(" / ")[1].split()[0]
    assert _signs_in(database, "admin", password)
    assert _admins(database) == ["admin"]
    second = run("demo", "--no-serve")
    assert second.exit_code == 0, second.output
    assert password not in second.output
    assert "set-password admin" in second.output
    assert _signs_in(database, "admin", password)
