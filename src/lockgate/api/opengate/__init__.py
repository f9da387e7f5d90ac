"""The OpenGateLLM 0.4 surface: /v1/admin, /v1/auth, /v1/me (and, later, RAG and models)."""
