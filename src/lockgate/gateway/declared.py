"""Models and providers declared in the config file (`models:`), checked as they load: the same fields
as POST /v1/admin/routers and /v1/admin/providers."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lockgate.gateway.schemas import ModelType, ProviderType, QosMetric, Strategy
from lockgate.kit.urls import check_base_url, check_qos_pair


class ProviderSettings(BaseModel):
    """One upstream of a model declared in the config file (same fields as POST /v1/admin/providers)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: ProviderType
    url: str | None = Field(default=None, description="Base URL, no /v1. Local providers: set by Lockgate.")
    key: str | None = None
    model_path: str | None = Field(default=None, description="Local providers: path to a .gguf file.")
    chat_format: str | None = Field(default=None, description="Local GGUF: llama-cpp-python chat_format.")
    n_ctx: int | None = Field(default=None, ge=128, le=1_048_576, description="Local GGUF: context size.")
    n_threads: int | None = Field(
        default=None, ge=1, le=1024, description="Local GGUF: llama.cpp threads (default: local_threads)."
    )
    model_name: str = Field(min_length=1)
    timeout: int = Field(default=300, ge=1, le=3600)
    model_hosting_zone: str = Field(default="WOR", min_length=3, max_length=3)
    model_total_params: int = Field(default=0, ge=0)
    model_active_params: int = Field(default=0, ge=0)
    qos_metric: QosMetric | None = None
    qos_limit: float | None = Field(default=None, ge=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _url_for_type(self) -> ProviderSettings:
        from lockgate.inference.engines import gguf_url, local_url

        if self.type == ProviderType.LOCAL:
            if self.url is None:
                if self.model_path:
                    url = gguf_url(self.model_path, self.chat_format, self.n_ctx, self.n_threads)
                else:
                    url = local_url(self.model_name)
                object.__setattr__(self, "url", url)
            elif not self.url.startswith("local://"):
                raise ValueError("url: a local provider's url starts with local:// (or give model_path)")
        elif self.url is None:
            raise ValueError("url: required for remote providers")
        else:
            object.__setattr__(self, "url", check_base_url(self.url))
        return self

    @field_validator("model_hosting_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if not value.isalpha():
            raise ValueError("must be an ISO 3166-1 alpha-3 code such as FRA")
        return value.upper()

    @model_validator(mode="after")
    def _qos_pair(self) -> ProviderSettings:
        check_qos_pair(self.qos_metric, self.qos_limit)
        return self


class ModelSettings(BaseModel):
    """A model (router) declared in the config file, OpenGateLLM style."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=255)
    type: ModelType
    aliases: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(default_factory=list)
    load_balancing_strategy: Strategy = Strategy.SHUFFLE
    cost_prompt_tokens: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    cost_completion_tokens: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    providers: list[ProviderSettings] = Field(min_length=1)

    @model_validator(mode="after")
    def _providers_fit(self) -> ModelSettings:
        from lockgate.gateway.providers.registry import ADAPTERS

        for provider in self.providers:
            if self.type not in ADAPTERS[provider.type].model_types:
                raise ValueError(
                    f"a '{provider.type.value}' provider cannot serve a '{self.type.value}' model"
                )
        return self
