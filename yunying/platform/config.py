"""Application configuration: defaults, then a file, then the environment,
then explicit overrides (platform layer).

- file: ``$YUNYING_CONFIG`` or ``<instance>/yunying.yaml`` when present (YAML
  mapping of upper-case keys);
- environment: ``YUNYING_DATABASE_URL``, ``YUNYING_SECRET_KEY``,
  ``YUNYING_ATTACHMENT_DIR``;
- overrides: the mapping given to ``create_app``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import yaml

from yunying.platform.errors import ConfigurationError
from yunying.platform.i18n import Text

__all__ = ["load_config", "ENVIRONMENT_KEYS"]

ENVIRONMENT_KEYS = {
    "YUNYING_DATABASE_URL": "DATABASE_URL",
    "YUNYING_SECRET_KEY": "SECRET_KEY",
    "YUNYING_ATTACHMENT_DIR": "ATTACHMENT_DIR",
}


def _defaults(instance: Path) -> dict[str, Any]:
    return {
        "DATABASE_URL": f"sqlite:///{instance / 'yunying.db'}",
        "SECRET_KEY": None,
        "ATTACHMENT_DIR": str(instance / "attachments"),
        "MAX_CONTENT_LENGTH": 50 * 1024 * 1024,
        "JSON_SORT_KEYS": False,
    }


def _from_file(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(Text(
            f"无法读取配置文件 {path}：{exc}", f"cannot read config file {path}: {exc}")) from exc
    if not isinstance(data, dict):
        raise ConfigurationError(Text(
            f"配置文件 {path} 必须是键值映射", f"config file {path} must be a mapping"))
    return {str(k).upper(): v for k, v in data.items()}


def load_config(instance_path: str | os.PathLike,
                overrides: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The effective configuration for one app."""
    env = os.environ if environ is None else environ
    instance = Path(instance_path)
    config = _defaults(instance)
    file = Path(env["YUNYING_CONFIG"]) if env.get("YUNYING_CONFIG") else instance / "yunying.yaml"
    if file.is_file():
        config.update(_from_file(file))
    for var, key in ENVIRONMENT_KEYS.items():
        if env.get(var):
            config[key] = env[var]
    config.update(overrides or {})
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = os.urandom(32).hex()
    return config
