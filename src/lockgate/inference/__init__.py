"""Local inference engines (llama.cpp GGUF chat, ONNX embeddings, Whisper ASR, OCR), each loaded once
and running its blocking work off the event loop."""
