"""Configuration: defaults, file, environment, overrides — in that order."""

import pytest

from yunying.platform.config import load_config
from yunying.platform.errors import ConfigurationError


def test_default_database_is_sqlite_in_the_instance_folder(tmp_path):
    config = load_config(tmp_path, environ={})
    assert config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'yunying.db'}"
    assert config["SECRET_KEY"]


def test_file_then_environment_then_overrides(tmp_path):
    (tmp_path / "yunying.yaml").write_text(
        "database_url: sqlite:///from-file.db\nattachment_dir: /files\n", encoding="utf-8")
    assert load_config(tmp_path, environ={})["DATABASE_URL"] == "sqlite:///from-file.db"
    env = {"YUNYING_DATABASE_URL": "sqlite:///from-env.db"}
    config = load_config(tmp_path, environ=env)
    assert config["DATABASE_URL"] == "sqlite:///from-env.db"
    assert config["ATTACHMENT_DIR"] == "/files"
    config = load_config(tmp_path, {"DATABASE_URL": "sqlite:///override.db"}, environ=env)
    assert config["DATABASE_URL"] == "sqlite:///override.db"


def test_config_file_named_by_environment(tmp_path):
    path = tmp_path / "elsewhere.yaml"
    path.write_text("SECRET_KEY: s3cret\n", encoding="utf-8")
    assert load_config(tmp_path, environ={"YUNYING_CONFIG": str(path)})["SECRET_KEY"] == "s3cret"


@pytest.mark.parametrize("content", ["- a list\n", "key: [unclosed\n"])
def test_bad_config_file_is_a_clear_error(tmp_path, content):
    (tmp_path / "yunying.yaml").write_text(content, encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        load_config(tmp_path, environ={})
    assert "yunying.yaml" in caught.value.message.en
