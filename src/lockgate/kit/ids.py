"""Unique ids for the request path. uuid4 asks the kernel for randomness on every call (a syscall, ~4% of
the gateway's CPU per request under load); these ids need to be unique, not unguessable: a random
per-process prefix and a counter give 32 hex characters, like uuid4().hex."""

from __future__ import annotations

import itertools
import os

_prefix = os.urandom(8).hex()
_counter = itertools.count()


def _reseed() -> None:
    global _prefix, _counter
    _prefix, _counter = os.urandom(8).hex(), itertools.count()


os.register_at_fork(after_in_child=_reseed)  # a forked worker must not repeat its parent's ids


def unique_hex() -> str:
    return f"{_prefix}{next(_counter):016x}"
