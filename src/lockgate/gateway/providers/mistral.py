"""Mistral (La Plateforme): chat, embeddings, OCR (/v1/ocr), and speech recognition through chat with an
audio part (as OpenGateLLM does). Mistral's API refuses fields it does not know (422), so every body is
cut to the fields it accepts, the OpenAI names mapped to Mistral's (`seed` → `random_seed`)."""

from __future__ import annotations

import base64
from typing import Any

from lockgate.errors import UpstreamBadGateway
from lockgate.gateway.events import StreamEvents
from lockgate.gateway.providers.base import FilePart, ProviderAdapter, RawResponse
from lockgate.gateway.request import GenerationRequest
from lockgate.gateway.schemas import Endpoint, ModelType

# https://docs.mistral.ai/api/#tag/chat/operation/chat_completion_v1_chat_completions_post
CHAT_FIELDS = frozenset(
    {
        "model",
        "messages",
        "temperature",
        "top_p",
        "max_tokens",
        "stream",
        "stop",
        "random_seed",
        "response_format",
        "tools",
        "tool_choice",
        "presence_penalty",
        "frequency_penalty",
        "n",
        "prediction",
        "parallel_tool_calls",
        "prompt_mode",
        "safe_prompt",
    }
)
EMBEDDING_FIELDS = frozenset({"model", "input", "output_dimension", "output_dtype", "encoding_format"})
TRANSCRIBE_INSTRUCTION = "Transcribe this audio exactly, word for word. Answer with the transcript only."


def chat_body(body: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI chat body as Mistral accepts it. Mistral streams usage on its last chunk unasked, so
    `stream_options` goes with the other fields it does not know."""
    mapped = dict(body)
    if "seed" in mapped:
        mapped.setdefault("random_seed", mapped.pop("seed"))
    if "max_completion_tokens" in mapped:
        mapped.setdefault("max_tokens", mapped.pop("max_completion_tokens"))
    return {k: v for k, v in mapped.items() if k in CHAT_FIELDS and v is not None}


def embeddings_body(body: dict[str, Any]) -> dict[str, Any]:
    mapped = dict(body)
    if "dimensions" in mapped:
        mapped.setdefault("output_dimension", mapped.pop("dimensions"))
    return {k: v for k, v in mapped.items() if k in EMBEDDING_FIELDS and v is not None}


class MistralAdapter(ProviderAdapter):
    type = "mistral"
    endpoints = frozenset({Endpoint.CHAT, Endpoint.EMBEDDINGS, Endpoint.OCR, Endpoint.TRANSCRIPTION})
    model_types = frozenset(
        {
            ModelType.TEXT_GENERATION,
            ModelType.IMAGE_TEXT_TO_TEXT,
            ModelType.TEXT_EMBEDDINGS,
            ModelType.IMAGE_TO_TEXT,
            ModelType.SPEECH_RECOGNITION,
        }
    )

    async def chat(self, request: GenerationRequest) -> Any:
        return await self._post_json(
            "/v1/chat/completions", chat_body(request.openai_body(self.config.model_name))
        )

    def chat_stream(self, request: GenerationRequest) -> StreamEvents:
        body = request.openai_body(self.config.model_name, stream=True)
        return self._stream_sse("/v1/chat/completions", chat_body(body))

    async def embeddings(self, body: dict[str, Any]) -> Any:
        return await self._post_json("/v1/embeddings", embeddings_body(body))

    async def ocr(self, body: dict[str, Any]) -> Any:
        return await self._post_json("/v1/ocr", body)

    async def transcribe(self, file: FilePart, fields: dict[str, str]) -> dict[str, Any] | RawResponse:
        """The audio as an `input_audio` part of a chat message; the answer's text is the transcript."""
        instruction = TRANSCRIBE_INSTRUCTION
        if fields.get("language"):
            instruction += f" The audio is in {fields['language']}."
        if fields.get("prompt"):
            instruction += f" Context: {fields['prompt']}"
        audio = base64.b64encode(file.content).decode()
        body = {
            "model": self.config.model_name,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_audio", "input_audio": audio},
                        {"type": "text", "text": instruction},
                    ],
                }
            ],
            "temperature": float(fields.get("temperature") or 0),
        }
        answer = await self._post_json("/v1/chat/completions", body)
        try:
            text = answer["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError) as exc:
            raise UpstreamBadGateway(f"Provider {self.label} answered without a transcript.") from exc
        if fields.get("response_format") == "text":
            return RawResponse(text.encode(), "text/plain; charset=utf-8")
        return {"text": text}
