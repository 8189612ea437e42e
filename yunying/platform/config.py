"""Application configuration: defaults, then a file, then the environment,
then explicit overrides (platform layer).

- file: ``$YUNYING_CONFIG`` or ``<instance>/yunying.yaml`` when present (YAML
  mapping of upper-case keys);
- environment: ``YUNYING_DATABASE_URL``, ``YUNYING_SECRET_KEY``,
  ``YUNYING_ATTACHMENT_DIR``;
- overrides: the mapping given to ``create_app``.

Without a configured ``SECRET_KEY`` every process invents its own, which
signs everyone out at a restart and breaks several workers behind one
address; ``yunying init`` therefore writes a random one into the config file
(:func:`ensure_secret_key`).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Mapping

import yaml

from yunying.platform.errors import ConfigurationError
from yunying.platform.i18n import Text

__all__ = ["load_config", "config_file", "ensure_secret_key", "ENVIRONMENT_KEYS"]

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
        # browser sessions and login throttling (docs/security.md)
        "SESSION_COOKIE_NAME": "yunying_session",
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": None,       # None: on unless TESTING or DEBUG
        "SESSION_LIFETIME_MINUTES": 12 * 60,
        "SESSION_IDLE_MINUTES": 2 * 60,
        "LOGIN_ADDRESS_MAX_FAILURES": 20,
        "LOGIN_ADDRESS_WINDOW_MINUTES": 15,
        "LOGIN_ADDRESS_LOCK_MINUTES": 5,
        "PROXY_COUNT": 0,                    # reverse proxies whose X-Forwarded-* to trust
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


def config_file(instance_path: str | os.PathLike,
                environ: Mapping[str, str] | None = None) -> Path:
    """The config file read for ``instance_path`` (it may not exist yet)."""
    env = os.environ if environ is None else environ
    if env.get("YUNYING_CONFIG"):
        return Path(env["YUNYING_CONFIG"])
    return Path(instance_path) / "yunying.yaml"


def ensure_secret_key(instance_path: str | os.PathLike,
                      environ: Mapping[str, str] | None = None) -> tuple[Path, str] | None:
    """Write a random ``SECRET_KEY`` into the config file when neither the
    file nor ``$YUNYING_SECRET_KEY`` sets one; ``(file, key)`` when written."""
    env = os.environ if environ is None else environ
    if env.get("YUNYING_SECRET_KEY"):
        return None
    file = config_file(instance_path, env)
    exists = file.is_file()
    if exists and _from_file(file).get("SECRET_KEY"):
        return None
    key = secrets.token_hex(32)
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        before = file.read_text(encoding="utf-8") if exists else ""
        separator = "\n" if before and not before.endswith("\n") else ""
        descriptor = os.open(file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(descriptor, "a", encoding="utf-8") as out:
            out.write(f"{separator}SECRET_KEY: \"{key}\"\n")
    except OSError as exc:
        raise ConfigurationError(Text(
            f"无法把 SECRET_KEY 写入配置文件 {file}：{exc}；请设置环境变量 YUNYING_SECRET_KEY",
            f"cannot write SECRET_KEY into config file {file}: {exc}; "
            f"set YUNYING_SECRET_KEY instead")) from exc
    return file, key


def load_config(instance_path: str | os.PathLike,
                overrides: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The effective configuration for one app."""
    env = os.environ if environ is None else environ
    instance = Path(instance_path)
    config = _defaults(instance)
    file = config_file(instance, env)
    if file.is_file():
        config.update(_from_file(file))
    for var, key in ENVIRONMENT_KEYS.items():
        if env.get(var):
            config[key] = env[var]
    config.update(overrides or {})
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = os.urandom(32).hex()
    return config
