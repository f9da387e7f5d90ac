"""Worker processes that read uploaded files, each read bounded in CPU time and address space.

A parser fed a hostile file (a decompression bomb that got past the archive checks, a PDF that makes
pdfium loop, a huge JSON) burns a worker, never the server: over its CPU time the kernel ends the worker
(SIGXCPU), over its address space the parser gets a MemoryError (or dies in C code). Either way the
caller gets a 422 naming the file and the limit, and the pool starts a fresh worker for the next file.
A read whose caller went away (its request cancelled) ends its worker too (pebble kills a running task
on `cancel()`), so an abandoned upload stops using the CPU at once.

Workers live across tasks (ADR 0023): the CPU limit is set per task relative to the CPU the worker has
used so far, since RLIMIT_CPU counts a process's whole life."""

from __future__ import annotations

import asyncio
import math
import resource
import signal
import threading
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from typing import ParamSpec, TypeVar

from pebble import ProcessExpired, ProcessPool

from lockgate.errors import AppError

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ParseLimits:
    """What one read of one file may use: `cpu_seconds` of CPU time (user + system, whole seconds, as the
    kernel counts them) and `memory_mb` MiB of address space for its whole worker process."""

    cpu_seconds: int = 120
    memory_mb: int = 2048


class ParseLimitExceeded(AppError):
    """A file whose reading went past the parse limits: the file's fault, not the server's."""

    status_code = 422
    code = "parse_limit_exceeded"


def _start_worker(memory_bytes: int) -> None:
    """Runs once in each new worker: its address-space bound, no core files, the parsers loaded (so a
    task's CPU budget is spent on its own file, not on imports)."""
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, hard))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    import lockgate.rag.chunking  # noqa: F401  (parsing and the splitter with it)


def _bounded(cpu_seconds: int, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Runs in the worker: `function(*args)` with at most `cpu_seconds` more of CPU time."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = math.ceil(usage.ru_utime + usage.ru_stime)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (used + cpu_seconds, hard))
    try:
        return function(*args, **kwargs)
    finally:
        resource.setrlimit(resource.RLIMIT_CPU, (resource.RLIM_INFINITY, hard))


class ParsePool:
    """`workers` spawned processes (not forked: the server runs threads), started on first use."""

    def __init__(self, workers: int, limits: ParseLimits):
        self._workers = workers
        self.limits = limits
        self._pool: ProcessPool | None = None

    def _running(self) -> ProcessPool:
        if self._pool is None or not self._pool.active:  # never started, or broken: a fresh one
            if self._pool is not None:
                self._retire(self._pool)
            self._pool = ProcessPool(
                self._workers,
                initializer=_start_worker,
                initargs=(self.limits.memory_mb * 1024 * 1024,),
                context=get_context("spawn"),
            )
        return self._pool

    async def run(self, filename: str, function: Callable[..., T], *args: object) -> T:
        """`function(*args)` in a worker. 422 (ParseLimitExceeded, naming `filename` and the limit) when
        it goes past a limit; the function's own AppErrors as they are. Cancelling the caller ends the
        worker. A pool found broken is replaced and the read tried once more on the fresh one."""
        for attempt in (1, 2):
            pool = self._running()
            future = pool.schedule(_bounded, (self.limits.cpu_seconds, function, *args))
            try:
                return await asyncio.wrap_future(future)  # cancelled → future.cancel() → worker stopped
            except BrokenProcessPool:
                if attempt == 2:
                    raise
                self._retire(pool)
            except MemoryError as exc:
                raise self._over_memory(filename) from exc
            except ProcessExpired as exc:
                if exc.exitcode == -signal.SIGXCPU:
                    raise ParseLimitExceeded(
                        f"file: reading '{filename}' used more than {self.limits.cpu_seconds} s of CPU "
                        "time (parse_cpu_seconds): refused.",
                        param="file",
                    ) from exc
                raise self._over_memory(filename, f" (its parser ended with code {exc.exitcode})") from exc
        raise AssertionError("unreachable")

    def _over_memory(self, filename: str, how: str = "") -> ParseLimitExceeded:
        return ParseLimitExceeded(
            f"file: reading '{filename}' needed more than {self.limits.memory_mb} MiB of memory "
            f"(parse_memory_mb){how}: refused.",
            param="file",
        )

    def _retire(self, pool: ProcessPool) -> None:
        """Replace `pool` if it is still the current one (every read that broke with it lands here: only
        the first retires it, so none stops the fresh pool another has rescheduled on), and end its
        workers in a thread: pebble's stop() only marks the pool, its join() ends the workers."""
        if self._pool is not pool:
            return
        self._pool = None
        pool.stop()  # type: ignore[no-untyped-call]  # pebble leaves it unannotated
        threading.Thread(target=pool.join, name="parse-pool-retire", daemon=True).start()

    def close(self) -> None:
        """Stops the workers and waits for them to end (a running read is abandoned)."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.stop()  # type: ignore[no-untyped-call]
            pool.join()
