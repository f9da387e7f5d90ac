"""Public API of the fake upstream providers.

    with FakeUpstream("vllm", "my-model") as fake:
        httpx.post(f"{fake.url}/v1/chat/completions", json={...})
        fake.fail_status = 503  # knobs are plain attributes, read on every request

Hostile knobs: `raw_answer` (bytes answered with 200 to non-streamed calls), `stream_script` (bytes,
pauses in seconds and CUT, played as a streamed answer; a callable for endless ones), `retry_after`.

Flavors: "openai", "vllm", "albert" (OpenAI-compatible routes under /v1), "mistral" (strict: unknown
fields are a 422, audio through chat), "tei" (/info, /health, /embed, /rerank, /v1/embeddings) and
"anthropic" (Anthropic's /v1/models and /v1/messages, x-api-key auth). Every request is recorded in
`fake.requests`.
"""

from tests.fakes.server import CUT, FLAVORS, FakeUpstream, FormFile, Recorded, free_port

__all__ = ["CUT", "FLAVORS", "FakeUpstream", "FormFile", "Recorded", "free_port"]
