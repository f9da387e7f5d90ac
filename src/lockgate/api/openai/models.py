"""GET /v1/models and /v1/models/{model} (by name or alias)."""

from typing import Any

from lockgate.api.deps import Caller, State
from lockgate.api.openai import inference_router
from lockgate.api.responses import OrjsonResponse
from lockgate.errors import NotFound
from lockgate.gateway.runtime import RouterRuntime

router = inference_router()


def _model(router_: RouterRuntime) -> dict[str, Any]:
    return {
        "id": router_.name,
        "object": "model",
        "type": router_.type.value,
        "aliases": router_.aliases,
        "created": router_.created,
        "owned_by": "lockgate",
        "max_context_length": router_.max_context_length,
        "costs": {
            "prompt_tokens": router_.cost_prompt_tokens,
            "completion_tokens": router_.cost_completion_tokens,
        },
    }


@router.get("/models")
async def list_models(caller: Caller, state: State) -> OrjsonResponse:
    return OrjsonResponse({"object": "list", "data": [_model(r) for r in state.gateway.registry.routers()]})


@router.get("/models/{model:path}")
async def get_model(model: str, caller: Caller, state: State) -> OrjsonResponse:
    found = state.gateway.registry.resolve(model)
    if found is None:
        raise NotFound(f"Model '{model}' not found.", param="model")
    return OrjsonResponse(_model(found))
