"""Settings: defaults < YAML config file (with ${VAR:-default} substitution) < LOCKGATE_* environment."""

from __future__ import annotations

import os
import re
from ipaddress import ip_network
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lockgate.gateway.declared import ModelSettings

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
    max_key_lifetime_days: int | None = Field(
        default=365,
        ge=1,
        le=36500,
        description="Longest lifetime of an API key a user creates for themselves (POST /v1/me/keys, "
        "POST /v1/admin/tokens without another `user`): no `expires` means this long, a later one is "
        "refused (400). null: no maximum.",
    )
    auth_cache_ttl_seconds: float = Field(
        default=10.0, ge=0, description="How long an authenticated key is served from memory (0 disables)."
    )
    db_pool_size: int = Field(default=10, ge=1, description="PostgreSQL connection pool size per replica.")
    secret_key: str | None = Field(
        default=None,
        min_length=16,
        description="Encrypts provider keys at rest. Default: generated once into data_dir/secret.key.",
    )
    login_failures_per_account: int = Field(
        default=10, ge=1, description="Failed logins allowed per account per window; then 429."
    )
    login_failures_per_address: int = Field(
        default=30, ge=1, description="Failed logins allowed per client address per window; then 429."
    )
    login_window_seconds: int = Field(
        default=900, ge=1, description="The window login failures are counted in."
    )
    login_hashing_slots: int = Field(
        default=1, ge=1, description="Password checks (argon2) run at once; more wait their turn."
    )
    provider_failure_threshold: int = Field(
        default=3, ge=1, description="Consecutive failures after which a provider cools down."
    )
    provider_cooldown_seconds: float = Field(
        default=30.0, ge=0, description="How long a failing provider rests."
    )
    provider_retry_seconds: float = Field(
        default=15.0, gt=0, description="How often an unreachable provider is probed again."
    )
    registry_refresh_seconds: float = Field(
        default=10.0, gt=0, description="How often a replica checks the database for router/provider changes."
    )
    health_check_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often the database and Redis are checked in the background "
        "(a loss or a recovery is logged once).",
    )
    otlp_traces_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP traces URL (http://collector:4318/v1/traces): turns OpenTelemetry tracing on. "
        "The standard OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT variables do too.",
    )
    redis_url: str | None = Field(
        default=None,
        description="redis://host:port/db. Set it on every replica so rate limits and budgets are shared.",
    )
    usage_flush_seconds: float = Field(
        default=1.0, gt=0, description="How often journaled usage rows are written to the database."
    )
    qos_queue_seconds: float = Field(
        default=10.0, ge=0, description="How long a request waits for a saturated model before a 503."
    )
    local_models: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="auto: serve the installed local models when no models are configured; on: always; "
        "off: never.",
    )
    local_threads: int | None = Field(
        default=None,
        ge=1,
        le=1024,
        description="Threads each local engine uses for one request (llama.cpp n_threads, onnxruntime and "
        "CTranslate2 intra-op threads). Default: half the CPU cores.",
    )
    rag_embedding_model: str = Field(
        default="all-minilm-l6-v2",
        description="Model (name or alias) that embeds RAG chunks and queries, through the gateway.",
    )
    stream_usage_always: bool = Field(
        default=False,
        description="End every OpenAI stream with a usage chunk, even when the client did not ask with "
        "stream_options.include_usage (the behaviour before 0.2; some clients break on it).",
    )
    public_api_docs: bool = Field(
        default=True,
        description="Serve /docs, /redoc and /openapi.json to anyone. false: /openapi.json needs a key "
        "(any valid one) and the browsable /docs and /redoc are not served.",
    )
    max_upload_bytes: int = Field(default=25 * 1024 * 1024, ge=1, description="Largest accepted file upload.")
    parse_cpu_seconds: int = Field(
        default=120,
        ge=1,
        le=86_400,
        description="CPU time (seconds) reading one uploaded file may use in a parsing worker; past it the "
        "upload is refused with 422 and the worker replaced.",
    )
    parse_memory_mb: int = Field(
        default=2048,
        ge=128,
        le=1_048_576,
        description="Address space (MiB) of each parsing worker process; a file whose reading needs more is "
        "refused with 422.",
    )
    job_queue: Literal["auto", "sqlite", "redis"] = Field(
        default="auto",
        description="Where queued jobs wait: sqlite (the file queue.db in data_dir, shared by the processes "
        "of one machine) or redis (redis_url, shared by every replica). auto: redis when redis_url is set.",
    )
    job_workers: int = Field(
        default=2,
        ge=0,
        le=64,
        description="Jobs (ingestion, h2oGPTe *_job routes) each `lockgate serve` process runs at once; 0 "
        "leaves them to `lockgate worker` pools.",
    )
    job_lease_seconds: float = Field(
        default=30.0,
        ge=1,
        description="A running job whose worker has not reported for this long (it died) is queued again.",
    )
    job_max_attempts: int = Field(
        default=3, ge=1, le=100, description="Times a job is started before a dying worker fails it."
    )
    jobs_per_user: int = Field(
        default=2,
        ge=1,
        le=1000,
        description="Jobs of one user that run at the same time (queued ones wait); a synchronous "
        "ingestion request takes one while it runs, and is refused with 429 when none is free.",
    )
    console_insecure_cookies: bool = Field(
        default=False,
        description="Send the web console's cookies without the Secure flag, for a console served over "
        "plain HTTP on another host than localhost (testing only: put TLS in front instead).",
    )
    max_request_body_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        description="Largest request body outside uploads (JSON); refused with 413 while it is read.",
    )
    client_header_timeout_seconds: float = Field(
        default=20.0, gt=0, description="A connection that has not sent its request head in time is closed."
    )
    client_body_timeout_seconds: float = Field(
        default=60.0, gt=0, description="A request body that stalls this long is refused with 408."
    )
    client_keepalive_seconds: float = Field(
        default=5.0, ge=1, description="How long an idle keep-alive connection is kept open."
    )
    provider_allowed_networks: list[str] = Field(
        default_factory=list,
        description="Networks (CIDR) that providers added through the API may reach besides public "
        "addresses, e.g. 10.0.0.0/8 for an internal vLLM. Config-file providers are not restricted.",
    )
    upstream_max_body_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        description="Largest answer (or whole stream) read from a provider, decompressed; more is a 502.",
    )
    upstream_max_line_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Longest line of a provider's stream; more is an error frame.",
    )
    stream_deadline_seconds: float = Field(
        default=900.0, gt=0, description="Longest life of a streamed answer, however steadily it flows."
    )
    stream_max_chunks: int = Field(
        default=100_000,
        ge=1,
        description="Chunks relayed for a stream whose request sets no max_tokens (else ~2 per token).",
    )
    models: list[ModelSettings] = Field(default_factory=list, description="Models served, see docs.")

    @field_validator("provider_allowed_networks", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        if isinstance(value, str):  # from the environment: comma-separated
            value = [part.strip() for part in value.split(",") if part.strip()]
        for network in value if isinstance(value, list) else ():
            try:
                ip_network(network, strict=False)
            except ValueError as exc:
                raise ValueError(f"'{network}' is not a network such as 10.0.0.0/8") from exc
        return value

    @model_validator(mode="after")
    def _model_names_unique(self) -> Settings:
        seen: set[str] = set()
        for model in self.models:
            for name in (model.name, *model.aliases):
                if name in seen:
                    raise ValueError(f"models: '{name}' is used twice as a model name or alias")
                seen.add(name)
        return self

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, url: str | None) -> str | None:
        """Lockgate talks to databases through async drivers only: say the right scheme."""
        if not url:
            return url
        scheme, separator, _ = url.partition("://")
        if not separator:
            raise ValueError("must be a URL such as postgresql+asyncpg://user:password@host:5432/lockgate")
        if scheme.startswith("postgres") and scheme != "postgresql+asyncpg":
            raise ValueError(f"use postgresql+asyncpg:// instead of {scheme}:// (the asyncpg driver)")
        if scheme.startswith("sqlite") and scheme != "sqlite+aiosqlite":
            raise ValueError(f"use sqlite+aiosqlite:// instead of {scheme}:// (the aiosqlite driver)")
        if scheme not in ("postgresql+asyncpg", "sqlite+aiosqlite"):
            raise ValueError(
                f"unsupported scheme {scheme}://: use postgresql+asyncpg:// or sqlite+aiosqlite://"
            )
        return url

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
        if name == "models":
            continue
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
        try:
            loaded = yaml.safe_load(substitute_env(path.read_text(), env)) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(_yaml_problem(path, exc)) from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must contain a mapping at the top level")
        values.update(loaded)
    values.update(_env_overrides(env))
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from exc


def _yaml_problem(path: Path, exc: yaml.YAMLError) -> str:
    """`file:line:column: YAML syntax error: problem` (line and column counted from 1)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
    return f"{where}: YAML syntax error: {problem}" + (f" ({context})" if context else "")
