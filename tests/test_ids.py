"""Ids of requests and usage rows: unique, uuid-shaped, and not repeated by a forked worker."""

import multiprocessing
import re

from lockgate.kit.ids import unique_hex


def _child_id(queue) -> None:
    queue.put(unique_hex())


def test_ids_are_32_hex_characters_and_distinct() -> None:
    ids = [unique_hex() for _ in range(10_000)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_a_forked_process_does_not_repeat_its_parents_ids() -> None:
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child_id, args=(queue,))
    child.start()
    from_child = queue.get(timeout=30)
    child.join(timeout=30)
    assert from_child != unique_hex()  # without a reseed both would draw the same next value
