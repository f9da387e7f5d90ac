"""llama-cpp-python's server extras (the Jan API, spec 003): /extras/tokenize, /count, /detokenize."""
