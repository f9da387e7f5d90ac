"""POST /v1/audio/transcriptions (multipart) and /v1/ocr (Mistral OCR shape)."""

from typing import Annotated, Literal

from fastapi import File, Form, UploadFile
from starlette.responses import Response

from lockgate.api.deps import Context, State
from lockgate.api.openai import inference_router
from lockgate.api.openai.schemas import OcrRequest
from lockgate.api.responses import OrjsonResponse
from lockgate.api.uploads import read_upload
from lockgate.gateway.providers.base import FilePart, RawResponse

router = inference_router()


@router.post("/audio/transcriptions")
async def transcriptions(
    ctx: Context,
    state: State,
    file: Annotated[UploadFile, File(description="The audio file (mp3, wav, ...).")],
    model: Annotated[str, Form(min_length=1)],
    language: Annotated[str, Form()] = "",
    prompt: Annotated[str, Form()] = "",
    response_format: Annotated[Literal["json", "text", "verbose_json", "srt", "vtt"], Form()] = "json",
    temperature: Annotated[float, Form(ge=0, le=1)] = 0,
) -> Response:
    content = await read_upload(file, state.settings.max_upload_bytes)
    fields = {"response_format": response_format, "temperature": str(temperature)}
    if language:
        fields["language"] = language
    if prompt:
        fields["prompt"] = prompt
    part = FilePart(file.filename or "audio", content, file.content_type or "application/octet-stream")
    answer = await state.gateway.transcribe(ctx, model, part, fields)
    if isinstance(answer, RawResponse):
        return Response(answer.content, media_type=answer.media_type)
    return OrjsonResponse(answer)


@router.post("/ocr")
async def ocr(body: OcrRequest, ctx: Context, state: State) -> OrjsonResponse:
    return OrjsonResponse(await state.gateway.ocr(ctx, body.model_dump(exclude_unset=True)))
