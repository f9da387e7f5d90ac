"""RSS of Lockgate over a long run: ~200k chat requests (wrk, 16 connections) in segments, RSS sampled
after each one. Flat means no leak on the request path (auth cache, registry, usage journal, metrics).

    python -m bench.memory [--segments 8] [--seconds 25]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import (
    MASTER,
    ROOT,
    bench_model,
    free_port,
    rss_mb,
    serve_lockgate,
    spawn,
    stop,
    wait_ready,
    write_report,
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--segments", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=25)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "memory.md"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lockgate-bench-mem-"))
    up_port = free_port()
    upstream = spawn([sys.executable, str(ROOT / "bench" / "fake_upstream.py"), str(up_port)])
    wait_ready(f"http://127.0.0.1:{up_port}/v1/models", upstream)
    lockgate, url = serve_lockgate(
        work,
        {"local_models": "off", "models": [bench_model(f"http://127.0.0.1:{up_port}")]},
        LOCKGATE_LOG_LEVEL="warning",
    )
    script = work / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        'wrk.body = \'{"model": "bench", "messages": [{"role": "user", "content": "ping"}]}\'\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {MASTER}"\n'
    )
    try:
        rows = [f"| 0 | {rss_mb(lockgate.pid):.0f} |"]
        total = 0
        for _ in range(args.segments):
            out = subprocess.run(
                [
                    "wrk",
                    "-t2",
                    "-c16",
                    f"-d{args.seconds}s",
                    "-s",
                    str(script),
                    f"{url}/v1/chat/completions",
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            total += int(re.search(r"(\d+) requests in", out).group(1))
            rows.append(f"| {total:,} | {rss_mb(lockgate.pid):.0f} |")
            print(rows[-1], flush=True)
        header = "RSS of Lockgate over a long run\n\n| requests served | RSS (MB) |\n|---|---|\n"
        write_report(args.out, header + "\n".join(rows))
    finally:
        stop(lockgate, upstream)


if __name__ == "__main__":
    main()
