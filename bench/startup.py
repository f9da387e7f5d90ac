"""Time from `lockgate serve` to a healthy /health, without local models (fresh data dir, so it
includes migrations and bootstrap). Median of several starts.

    python -m bench.startup [--starts 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from bench.common import BIN, free_port, spawn, wait_ready


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--starts", type=int, default=5)
    args = parser.parse_args()
    times = []
    for _ in range(args.starts):
        work = Path(tempfile.mkdtemp(prefix="lockgate-bench-start-"))
        port = free_port()
        process = spawn(
            [str(BIN / "lockgate"), "serve", "--port", str(port)],
            env={"LOCKGATE_DATA_DIR": str(work), "LOCKGATE_LOCAL_MODELS": "off"},
        )
        try:
            times.append(wait_ready(f"http://127.0.0.1:{port}/health", process))
        finally:
            process.terminate()
            process.wait(timeout=30)
    print(
        f"startup to healthy, no local models, fresh database: median {statistics.median(times):.2f} s "
        f"(min {min(times):.2f}, max {max(times):.2f}, {args.starts} starts)"
    )


if __name__ == "__main__":
    main()
