"""POST /v1/embeddings and /v1/rerank."""

from lockgate.api.deps import Caller, State
from lockgate.api.openai import inference_router
from lockgate.api.openai.schemas import EmbeddingRequest, RerankRequest
from lockgate.api.responses import OrjsonResponse

router = inference_router()


@router.post("/embeddings")
async def embeddings(body: EmbeddingRequest, caller: Caller, state: State) -> OrjsonResponse:
    return OrjsonResponse(await state.gateway.embeddings(body.model_dump(exclude_unset=True)))


@router.post("/rerank")
async def rerank(body: RerankRequest, caller: Caller, state: State) -> OrjsonResponse:
    return OrjsonResponse(await state.gateway.rerank(body.model, body.query, body.documents, body.top_n))
