"""Lockgate: a self-hosted, OpenAI-compatible generative-AI platform."""

__version__ = "0.1.0"
