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

import yaml

from bench.common import BIN, ROOT, free_port, rss_mb, spawn, wait_ready

MASTER = "sk-bench-master-key-0123456789"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--segments", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=25)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "memory.md"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lockgate-bench-mem-"))
    up_port, lg_port = free_port(), free_port()
    upstream = spawn([sys.executable, str(ROOT / "bench" / "fake_upstream.py"), str(up_port)])
    config = {
        "master_key": MASTER,
        "local_models": "off",
        "models": [
            {
                "name": "bench",
                "type": "text-generation",
                "providers": [
                    {"type": "openai", "url": f"http://127.0.0.1:{up_port}", "model_name": "bench-model"}
                ],
            }
        ],
    }
    (work / "lockgate.yaml").write_text(yaml.safe_dump(config))
    lockgate = spawn(
        [str(BIN / "lockgate"), "serve", "--config", str(work / "lockgate.yaml"), "--port", str(lg_port)],
        env={"LOCKGATE_DATA_DIR": str(work / "data"), "LOCKGATE_LOG_LEVEL": "warning"},
    )
    script = work / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        'wrk.body = \'{"model": "bench", "messages": [{"role": "user", "content": "ping"}]}\'\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {MASTER}"\n'
    )
    try:
        wait_ready(f"http://127.0.0.1:{up_port}/v1/models", upstream)
        wait_ready(f"http://127.0.0.1:{lg_port}/health", lockgate)
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
                    f"http://127.0.0.1:{lg_port}/v1/chat/completions",
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            total += int(re.search(r"(\d+) requests in", out).group(1))
            rows.append(f"| {total:,} | {rss_mb(lockgate.pid):.0f} |")
            print(rows[-1], flush=True)
        report = (
            "RSS of Lockgate over a long run\n\n| requests served | RSS (MB) |\n|---|---|\n"
            + "\n".join(rows)
            + "\n"
        )
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(report)
        print(report)
    finally:
        for process in (lockgate, upstream):
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                print(f"warning: {process.args[0]} did not stop within 60 s; killed", file=sys.stderr)
                process.kill()


if __name__ == "__main__":
    main()
