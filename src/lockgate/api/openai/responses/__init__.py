"""The OpenAI Responses API (/v1/responses) over the gateway core."""
