"""Anthropic's Messages API as a provider: chat (plain and streamed) for every surface of Lockgate.
Auth is `x-api-key` + `anthropic-version`; the wire translation lives in anthropic_wire."""

from __future__ import annotations

from typing import Any

import orjson

from lockgate.accounting.schemas import Usage
from lockgate.errors import UpstreamBadGateway
from lockgate.gateway.events import ChunkEvent, StreamEvents, UsageEvent
from lockgate.gateway.providers.anthropic_wire import (
    ChunkTranslator,
    chat_completion,
    chat_usage,
    messages_request,
)
from lockgate.gateway.providers.base import (
    _JSON,
    TRANSPORT_ERRORS,
    ProviderAdapter,
    raise_for_upstream,
    translate_transport_error,
)
from lockgate.gateway.request import GenerationRequest
from lockgate.gateway.schemas import Endpoint, ModelType, ProbeResult

API_VERSION = "2023-06-01"
_COUNTED = ("model", "messages", "system", "tools", "tool_choice")  # what count_tokens accepts


class AnthropicAdapter(ProviderAdapter):
    type = "anthropic"
    endpoints = frozenset({Endpoint.CHAT})
    model_types = frozenset({ModelType.TEXT_GENERATION, ModelType.IMAGE_TEXT_TO_TEXT})

    @staticmethod
    def auth_headers(key: str | None) -> dict[str, str]:
        return {"anthropic-version": API_VERSION, **({"x-api-key": key} if key else {})}

    async def probe(self, model_type: ModelType) -> ProbeResult:
        listed = await self._get_json("/v1/models?limit=1000")
        ids = [str(m.get("id")) for m in listed.get("data", [])]
        if self.config.model_name not in ids:
            raise UpstreamBadGateway(
                f"Provider {self.label} does not serve model '{self.config.model_name}' "
                f"(it has: {', '.join(ids[:10])})."
            )
        return ProbeResult()

    async def chat(self, request: GenerationRequest) -> dict[str, Any]:
        body = messages_request(request, self.config.model_name)
        return chat_completion(await self._post_json("/v1/messages", body))

    async def count_tokens(self, request: GenerationRequest) -> int:
        """Input tokens of a chat request, counted by Anthropic (POST /v1/messages/count_tokens)."""
        body = messages_request(request, self.config.model_name)
        counted = {k: v for k, v in body.items() if k in _COUNTED}
        return int((await self._post_json("/v1/messages/count_tokens", counted))["input_tokens"])

    def chat_stream(self, request: GenerationRequest) -> StreamEvents:
        return self._stream_messages(messages_request(request, self.config.model_name, stream=True))

    async def _stream_messages(self, request: dict[str, Any]) -> StreamEvents:
        """Read Anthropic's SSE (`event:` + `data:` lines) into chat chunk events; a stream that ends
        without message_stop, or with an `error` event, is an upstream failure."""
        try:
            response = await self.client.post(
                self.base + "/v1/messages", data=orjson.dumps(request), headers=_JSON
            )
        except TRANSPORT_ERRORS as exc:
            raise translate_transport_error(exc, self.label) from exc
        translator = ChunkTranslator()
        try:
            if response.status >= 400:
                raise_for_upstream(response.status, await response.read(), self.label, response.reason or "")
            finished = False
            async for raw in response.content:
                line = raw.strip()
                if not line.startswith(b"data:"):
                    continue
                event = orjson.loads(line[5:].strip())
                if event.get("type") == "error":
                    message = (event.get("error") or {}).get("message", "stream error")
                    raise UpstreamBadGateway(f"Provider {self.label} stream error: {message}")
                if event.get("type") == "message_stop":
                    finished = True
                    break
                if (payload := translator.chunk(event)) is not None:
                    yield ChunkEvent(payload)
            if not finished:
                raise UpstreamBadGateway(f"Provider {self.label} ended the stream without message_stop.")
            usage = chat_usage(translator.usage)
            yield UsageEvent(Usage.counted(usage["prompt_tokens"], usage["completion_tokens"]))
        except TRANSPORT_ERRORS as exc:
            raise translate_transport_error(exc, self.label) from exc
        except orjson.JSONDecodeError as exc:
            raise UpstreamBadGateway(f"Provider {self.label} sent an unreadable stream event.") from exc
        finally:
            response.close()
