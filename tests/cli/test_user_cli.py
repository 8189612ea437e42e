"""The `yunying user` commands: create, set-password, token."""

from __future__ import annotations

from sqlalchemy import select

from yunying.platform import identity
from yunying.platform.context import Context
from yunying.platform.tables import api_token, user


def _login(database, code, password):
    with database.begin(write=True) as conn:
        return identity.authenticate(conn, Context(), code, password)


def test_create_with_password_from_stdin(run, database):
    result = run("user", "create", "admin", "--name", "管理员", "--name-en", "Admin",
                 "--password-stdin", input="s3cret pass\n")
    assert result.exit_code == 0, result.output
    assert "created user admin" in result.output
    found = _login(database, "admin", "s3cret pass")
    assert found is not None and found.name.en == "Admin" and found.name.zh == "管理员"


def test_create_prompts_twice_and_refuses_a_mismatch(run, database):
    result = run("user", "create", "bob", "--name", "Bob",
                 input="first pass\nother pass\nfirst pass\nfirst pass\n")
    assert result.exit_code == 0, result.output
    assert "repeat" in result.output
    assert _login(database, "bob", "first pass") is not None


def test_create_refuses_a_short_password_bilingually(run, database):
    result = run("user", "create", "bob", "--name", "Bob", "--password-stdin",
                 input="short\n")
    assert result.exit_code == 1
    assert "at least 8 characters" in result.output
    assert "至少需要 8 个字符" in result.output
    with database.connect() as conn:
        assert conn.execute(select(user)).first() is None


def test_create_twice_is_a_conflict(run):
    run("user", "create", "bob", "--name", "Bob", "--password-stdin", input="first pass\n")
    result = run("user", "create", "bob", "--name", "Bob", "--password-stdin",
                 input="first pass\n")
    assert result.exit_code == 1 and "[conflict]" in result.output


def test_set_password(run, database):
    run("user", "create", "bob", "--name", "Bob", "--password-stdin", input="first pass\n")
    result = run("user", "set-password", "bob", input="second pass\nsecond pass\n")
    assert result.exit_code == 0, result.output
    assert _login(database, "bob", "first pass") is None
    assert _login(database, "bob", "second pass") is not None


def test_set_password_of_unknown_user_fails(run):
    result = run("user", "set-password", "ghost", "--password-stdin", input="second pass\n")
    assert result.exit_code == 1 and "[not_found]" in result.output


def test_token_is_printed_once_and_works(run, database):
    run("user", "create", "bob", "--name", "Bob", "--password-stdin", input="first pass\n")
    result = run("user", "token", "bob", "--name", "ci", "--days", "7")
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith(identity.TOKEN_PREFIX)
    with database.begin(write=True) as conn:
        assert identity.verify_token(conn, Context(), token).code == "bob"
        stored = conn.execute(select(api_token.c.token_hash)).scalar_one()
    assert stored == identity.hash_token(token)


def test_token_for_unknown_user_fails(run):
    result = run("user", "token", "ghost", "--name", "ci")
    assert result.exit_code == 1 and "[not_found]" in result.output
