"""Wire models of /v1/admin/routers and /v1/admin/providers (spec 000)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, ValidationInfo, field_validator, model_validator

from lockgate.api.opengate.schemas import Name, Wire
from lockgate.gateway.schemas import HealthStatus, ModelType, ProviderType, QosMetric, Strategy
from lockgate.kit.urls import check_base_url, check_qos_pair

Alias = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Zone = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{3}$")]
DbInt = Annotated[int, Field(ge=0, le=2**31 - 1)]


class RouterCreate(Wire):
    name: Name
    type: ModelType
    aliases: list[Alias] = Field(default_factory=list, max_length=64)
    load_balancing_strategy: Strategy = Strategy.SHUFFLE
    cost_prompt_tokens: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    cost_completion_tokens: float = Field(default=0.0, ge=0, allow_inf_nan=False)


class RouterUpdate(Wire):
    name: Name | None = None
    type: ModelType | None = None
    aliases: list[Alias] | None = Field(default=None, max_length=64)
    load_balancing_strategy: Strategy | None = None
    cost_prompt_tokens: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    cost_completion_tokens: float | None = Field(default=None, ge=0, allow_inf_nan=False)


class RouterOut(Wire):
    object: Literal["router"] = "router"
    id: int
    name: str
    user_id: int | None
    type: ModelType
    aliases: list[str]
    load_balancing_strategy: Strategy
    vector_size: int | None
    max_context_length: int | None
    cost_prompt_tokens: float
    cost_completion_tokens: float
    providers: int
    created: int
    updated: int


class RouterList(Wire):
    object: Literal["list"] = "list"
    total: int
    offset: int
    limit: int
    data: list[RouterOut]


class ProviderCreate(Wire):
    router: DbInt
    type: ProviderType
    url: str
    key: str | None = None
    timeout: int = Field(default=300, ge=1, le=3600)
    model_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
    model_hosting_zone: Zone = "WOR"
    model_total_params: int = Field(default=0, ge=0, le=100_000)
    model_active_params: int = Field(default=0, ge=0, le=100_000)
    qos_metric: QosMetric | None = None
    qos_limit: float | None = Field(default=None, ge=0, allow_inf_nan=False)

    @field_validator("url")
    @classmethod
    def _url(cls, url: str, info: ValidationInfo) -> str:
        if info.data.get("type") == ProviderType.LOCAL:
            if not url.startswith("local://"):
                raise ValueError("a local provider's url is local://<model> (a model loaded by this server)")
            return url
        return check_base_url(url)

    @model_validator(mode="after")
    def _qos_pair(self) -> ProviderCreate:
        check_qos_pair(self.qos_metric, self.qos_limit)
        return self


class ProviderUpdate(Wire):
    router: DbInt | None = None
    timeout: int | None = Field(default=None, ge=1, le=3600)
    model_hosting_zone: Zone | None = None
    model_total_params: int | None = Field(default=None, ge=0, le=100_000)
    model_active_params: int | None = Field(default=None, ge=0, le=100_000)
    qos_metric: QosMetric | None = None
    qos_limit: float | None = Field(default=None, ge=0, allow_inf_nan=False)


class ProviderHealthOut(Wire):
    """Lockgate extension: the provider's health as seen by the replica that answers."""

    status: HealthStatus = Field(
        description="healthy; cooling_down (failed provider_failure_threshold times in a row, rests for "
        "provider_cooldown_seconds); unreachable (its probe fails, retried every provider_retry_seconds)."
    )
    since: int = Field(description="When the provider entered this status (Unix seconds).")
    last_error: str | None = Field(description="The last failure seen on this provider, if any.")
    last_error_at: int | None = Field(description="When it happened (Unix seconds).")
    cooldown_until: int | None = Field(description="End of the current cool-down (Unix seconds).")


class ProviderOut(Wire):
    object: Literal["provider"] = "provider"
    id: int
    router_id: int
    user_id: int | None
    type: ProviderType
    url: str
    key: str | None
    timeout: int
    model_name: str
    model_hosting_zone: str
    model_total_params: int
    model_active_params: int
    qos_metric: QosMetric | None
    qos_limit: float | None
    created: int
    updated: int
    health: ProviderHealthOut | None = Field(
        default=None, description="Lockgate extension: null when this replica has not loaded the provider."
    )
