"""The queue that delivers job ids to workers: huey's storage (ADR 0018). A SQLite file in the data
directory by default (durable, zero configuration, shared by the processes of one machine); Redis when
`redis_url` is set, shared by every replica. A message is only a job id: what to do, and whether it
is still to be done, is read from the jobs table, so a lost or repeated message is harmless."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from huey.storage import BaseStorage, RedisStorage, SqliteStorage

log = logging.getLogger("lockgate.jobs")

QUEUE_NAME = "lockgate_jobs"
QueueBackend = Literal["auto", "sqlite", "redis"]


@dataclass(frozen=True, slots=True)
class QueuePlace:
    """Where the queue lives: `backend` is "sqlite" (then `path`) or "redis" (then `url`)."""

    backend: Literal["sqlite", "redis"]
    path: Path | None = None
    url: str | None = None


def queue_place(backend: QueueBackend, data_dir: Path, redis_url: str | None) -> QueuePlace:
    """auto: Redis when the deployment has one (replicas then share the queue), else the SQLite file."""
    if backend == "redis" or (backend == "auto" and redis_url):
        if not redis_url:
            raise ValueError("job_queue: redis needs redis_url.")
        return QueuePlace("redis", url=redis_url)
    return QueuePlace("sqlite", path=(data_dir / "queue.db").resolve())


class JobQueue:
    """push(job_id) from anywhere; pop() in a worker (None when nothing came within about a second).
    The storage calls block, so they run in a thread."""

    def __init__(self, place: QueuePlace):
        self.place = place
        self._storage: BaseStorage | None = None

    @property
    def storage(self) -> BaseStorage:
        if self._storage is None:  # opened on first use: building the app touches no file or socket
            if self.place.backend == "redis":
                self._storage = RedisStorage(QUEUE_NAME, url=self.place.url, read_timeout=1)
            else:
                assert self.place.path is not None
                self.place.path.parent.mkdir(parents=True, exist_ok=True)
                self._storage = SqliteStorage(QUEUE_NAME, filename=str(self.place.path), timeout=30)
        return self._storage

    @property
    def blocks(self) -> bool:
        """Whether pop() waits for a message (Redis) or answers at once (SQLite: the worker polls)."""
        return self.place.backend == "redis"

    async def push(self, job_id: str) -> None:
        await asyncio.to_thread(self.storage.enqueue, job_id.encode())

    async def pop(self) -> str | None:
        data = await asyncio.to_thread(self.storage.dequeue)
        return None if data is None else bytes(data).decode()

    async def size(self) -> int:
        return int(await asyncio.to_thread(self.storage.queue_size))

    def close(self) -> None:
        if self._storage is not None:
            with contextlib.suppress(Exception):
                self._storage.close()
            if isinstance(self._storage, RedisStorage):
                self._storage.pool.disconnect()
            self._storage = None
