"""Public API of the fake upstream providers.

    with FakeUpstream("vllm", "my-model") as fake:
        httpx.post(f"{fake.url}/v1/chat/completions", json={...})
        fake.fail_status = 503  # knobs are plain attributes, read on every request

Flavors: "openai", "vllm", "mistral", "albert" (OpenAI-compatible routes under /v1) and "tei"
(/info, /health, /embed, /rerank, /v1/embeddings) and "anthropic" (Anthropic's /v1/models and
/v1/messages, x-api-key auth). Every request is recorded in `fake.requests`.
"""

from tests.fakes.server import FLAVORS, FakeUpstream, FormFile, Recorded, free_port

__all__ = ["FLAVORS", "FakeUpstream", "FormFile", "Recorded", "free_port"]
