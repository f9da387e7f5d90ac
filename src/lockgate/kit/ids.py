"""Unique ids for the request path. uuid4 asks the kernel for randomness on every call (a syscall, ~4% of
the gateway's CPU per request under load); these ids need to be unique, not unguessable: 128 bits from a
generator seeded once per process from the kernel, 32 hex characters like uuid4().hex. Not a counter:
ids seen by clients must not tell how many requests a replica serves."""

from __future__ import annotations

import os
import random

_generator = random.Random()  # seeded from os.urandom; never the global one, which tests may seed
os.register_at_fork(after_in_child=_generator.seed)  # a forked worker must not repeat its parent's ids


def unique_hex() -> str:
    return f"{_generator.getrandbits(128):032x}"
