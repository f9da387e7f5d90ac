"""Carbon footprint of a request with the `ecologits` methodology, as OpenGateLLM reports it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# Data-centre efficiency used when the provider does not say (ecologits' usual cloud figures).
DATACENTER_PUE = 1.2
DATACENTER_WUE = 0.569


@dataclass(frozen=True, slots=True)
class Footprint:
    kwh_min: float = 0.0
    kwh_max: float = 0.0
    kgco2_min: float = 0.0
    kgco2_max: float = 0.0

    def as_usage(self) -> dict[str, Any]:
        return {
            "kWh": {"min": self.kwh_min, "max": self.kwh_max},
            "kgCO2eq": {"min": self.kgco2_min, "max": self.kgco2_max},
        }


ZERO = Footprint()


@lru_cache(maxsize=512)
def _mix(zone: str) -> Any:  # ecologits' ElectricityMix (the library is untyped)
    from ecologits.electricity_mix_repository import electricity_mixes

    return electricity_mixes.find_electricity_mix(zone=zone) or electricity_mixes.find_electricity_mix(
        zone="WOR"
    )


def _bounds(value: Any) -> tuple[float, float]:
    if hasattr(value, "min") and hasattr(value, "max"):
        return float(value.min), float(value.max)
    return float(value), float(value)


def footprint(
    active_params: int, total_params: int, zone: str, output_tokens: int, latency_seconds: float
) -> Footprint:
    """Energy and emissions from the model size (billions of parameters), the hosting zone's electricity
    mix, the output tokens and the measured latency. Zero when the provider declares no parameters."""
    if not (active_params or total_params) or output_tokens <= 0:
        return ZERO
    from ecologits.impacts.llm import compute_llm_impacts

    mix = _mix(zone or "WOR")
    impacts = compute_llm_impacts(
        model_active_parameter_count=active_params or total_params,
        model_total_parameter_count=total_params or active_params,
        output_token_count=output_tokens,
        if_electricity_mix_adpe=mix.adpe,
        if_electricity_mix_pe=mix.pe,
        if_electricity_mix_gwp=mix.gwp,
        if_electricity_mix_wue=mix.wue,
        datacenter_pue=DATACENTER_PUE,
        datacenter_wue=DATACENTER_WUE,
        request_latency=max(latency_seconds, 1e-3),
    )
    kwh_min, kwh_max = _bounds(impacts.energy.value)
    co2_min, co2_max = _bounds(impacts.gwp.value)
    return Footprint(kwh_min, kwh_max, co2_min, co2_max)


def cost(prompt_tokens: int, completion_tokens: int, price_prompt: float, price_completion: float) -> float:
    """Prices are per million tokens."""
    return (prompt_tokens * price_prompt + completion_tokens * price_completion) / 1_000_000
