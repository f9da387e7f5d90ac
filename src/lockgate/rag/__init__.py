"""RAG: collections, documents, chunks, ingestion (parse → chunk → embed → store) and search, shared by
the OpenGateLLM and h2oGPTe surfaces. Models are reached only through the gateway."""
