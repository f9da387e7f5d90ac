"""When a router is saturated, requests wait here and are let in by user priority (higher first,
then arrival order) as capacity frees, up to a deadline."""

from __future__ import annotations

import asyncio
import heapq
import itertools


class CapacityGate:
    def __init__(self) -> None:
        self._heap: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    @property
    def waiting(self) -> bool:
        return bool(self._heap) and any(not future.done() for _, _, future in self._heap)

    @property
    def depth(self) -> int:
        return sum(not future.done() for _, _, future in self._heap)

    async def wait(self, priority: int, seconds: float) -> bool:
        """True when let in, False on timeout."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, (-priority, next(self._seq), future))
        try:
            await asyncio.wait_for(asyncio.shield(future), seconds)
            return True
        except TimeoutError:
            if future.done():  # let in at the very last moment: pass the turn on
                self.release()
            future.cancel()
            return False

    def release(self) -> None:
        """Capacity freed: wake the best waiter."""
        while self._heap:
            _, _, future = heapq.heappop(self._heap)
            if not future.done():
                future.set_result(None)
                return
