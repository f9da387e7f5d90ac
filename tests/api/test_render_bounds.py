"""Rendering a JSON answer holding an integer beyond 64 bits (a response stored before the request
bounds of #22) gives the JSON, not a 500."""

from __future__ import annotations

import json

from lockgate.api.responses import OrjsonResponse


def test_an_integer_beyond_64_bits_still_renders() -> None:
    body = {"id": "resp_1", "max_output_tokens": 10**30, "text": "é"}
    assert json.loads(OrjsonResponse(body).body) == body


def test_ordinary_content_renders_as_orjson_does() -> None:
    assert OrjsonResponse({"a": [1, 2.5, None]}).body == b'{"a":[1,2.5,null]}'
