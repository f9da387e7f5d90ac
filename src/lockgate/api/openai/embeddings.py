"""POST /v1/embeddings and /v1/rerank."""

from lockgate.api.deps import Context, State
from lockgate.api.openai import inference_router
from lockgate.api.openai.schemas import EmbeddingRequest, RerankRequest
from lockgate.api.responses import OrjsonResponse

router = inference_router()


@router.post("/embeddings")
async def embeddings(body: EmbeddingRequest, ctx: Context, state: State) -> OrjsonResponse:
    return OrjsonResponse(await state.gateway.embeddings(ctx, body.model_dump(exclude_unset=True)))


@router.post("/rerank")
async def rerank(body: RerankRequest, ctx: Context, state: State) -> OrjsonResponse:
    return OrjsonResponse(await state.gateway.rerank(ctx, body.model, body.query, body.documents, body.top_n))
