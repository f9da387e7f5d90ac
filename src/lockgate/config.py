"""Settings: defaults < YAML config file (with ${VAR:-default} substitution) < LOCKGATE_* environment."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

_VAR_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
ENV_PREFIX = "LOCKGATE_"


class ConfigError(Exception):
    """The configuration cannot be used; the message says which setting and why."""


class Settings(BaseModel):
    """Every setting Lockgate reads. Documented one by one in docs/configuration.md."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data_dir: Path = Field(
        default=Path("./data"), description="Where the embedded database and local state live."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL. Default: SQLite file lockgate.db inside data_dir.",
    )
    master_key: str | None = Field(
        default=None,
        min_length=16,
        description="Bootstrap admin key. If unset on first start, one is generated and printed once.",
    )
    host: str = Field(default="127.0.0.1", description="Interface `lockgate serve` binds to.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `lockgate serve` listens on.")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "text"] = "json"
    session_ttl_seconds: int = Field(
        default=86400, ge=60, description="Lifetime of the key returned by POST /v1/auth/login."
    )
    auth_cache_ttl_seconds: float = Field(
        default=10.0, ge=0, description="How long an authenticated key is served from memory (0 disables)."
    )
    db_pool_size: int = Field(default=10, ge=1, description="PostgreSQL connection pool size per replica.")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'lockgate.db').resolve()}"


def substitute_env(text: str, environ: dict[str, str] | None = None) -> str:
    """Replace ${VAR} and ${VAR:-default} with values from the environment."""
    env = os.environ if environ is None else environ

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = env.get(name)
        if value is None or (value == "" and default is not None):
            if default is None:
                raise ConfigError(f"config references ${{{name}}} but it is not set and has no default")
            return default
        return value

    return _VAR_PATTERN.sub(replace, text)


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for name in Settings.model_fields:
        value = environ.get(ENV_PREFIX + name.upper())
        if value is not None and value != "":
            overrides[name] = value
    return overrides


def load_settings(
    config_file: str | Path | None = None,
    environ: dict[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build Settings from an optional YAML file, the environment and explicit overrides (CLI flags)."""
    env = dict(os.environ if environ is None else environ)
    config_file = config_file or env.get(ENV_PREFIX + "CONFIG") or None
    values: dict[str, Any] = {}
    if config_file:
        path = Path(config_file)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        loaded = yaml.safe_load(substitute_env(path.read_text(), env)) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must contain a mapping at the top level")
        values.update(loaded)
    values.update(_env_overrides(env))
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"invalid configuration: {problems}") from exc
