"""RSS of Lockgate over a long run: ~200k chat requests (wrk, 16 connections) in segments, RSS sampled
after each one. Flat means no leak on the request path (auth cache, registry, usage journal, metrics).

    python -m bench.memory [--segments 8] [--seconds 25]
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import subprocess
import tempfile
from pathlib import Path

from bench.common import (
    ROOT,
    bench_model,
    rss_mb,
    serve_lockgate,
    start_fake_upstream,
    stop,
    write_report,
)
from bench.gateway import user_with_accounting


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--segments", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=25)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "memory.md"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lockgate-bench-mem-"))
    upstream, up_port = start_fake_upstream()
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
        f'wrk.headers["Authorization"] = "Bearer {user_with_accounting(url)}"\n'
    )
    try:
        rows = [f"| 0 | {rss_mb(lockgate.pid):.0f} | 0 |"]
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
            rows.append(f"| {total:,} | {rss_mb(lockgate.pid):.0f} | {_journal_kb(work):,.0f} |")
            print(rows[-1], flush=True)
    finally:
        stop(lockgate, upstream)
    with sqlite3.connect(work / "data" / "lockgate.db") as db:
        recorded = db.execute(
            "SELECT count(*) FROM usage WHERE endpoint = '/v1/chat/completions'"
        ).fetchone()[0]
    header = (
        "RSS of Lockgate over a long run (a user with limits and a budget; every request journaled and "
        "recorded)\n\n"
        "| requests served | RSS (MB) | usage journal not yet in the database (kB) |\n|---|---|---|\n"
    )
    footer = f"\n\nUsage rows in the database after stop: {recorded:,} (wrk counted {total:,} answers)."
    write_report(args.out, header + "\n".join(rows) + footer)


def _journal_kb(work: Path) -> float:
    """Usage rows written to the journal but not yet flushed to the database: the recorder's backlog."""
    return sum(path.stat().st_size for path in (work / "data" / "journal").glob("*.jsonl")) / 1024


if __name__ == "__main__":
    main()
