"""Added latency of the Responses (/v1/responses) and Anthropic Messages (/v1/messages) surfaces next to
chat completions, side by side in one run: the same fake upstream, the same Lockgate, the same user with
rate limits and a budget (full admission and accounting on every request), requests interleaved.

    python -m bench.dialects [--seconds 5] [--out bench/results/dialects.md]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

from bench.common import (
    CHAT_BODY,
    ROOT,
    bench_model,
    serve_lockgate,
    start_fake_upstream,
    write_report,
    wrk,
)
from bench.gateway import user_with_accounting

RESPONSES = '{{"model": "{model}", "input": "ping", "store": false}}'
RESPONSES_STORED = '{{"model": "{model}", "input": "ping"}}'
MESSAGES = '{{"model": "{model}", "max_tokens": 16, "messages": [{{"role": "user", "content": "ping"}}]}}'


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "dialects.md"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lockgate-bench-dialects-"))
    fake, upstream_port = start_fake_upstream()
    upstream = f"http://127.0.0.1:{upstream_port}"
    processes = [fake]
    try:
        model = bench_model(upstream, cost_prompt_tokens=1.0, cost_completion_tokens=1.0)
        lockgate, url = serve_lockgate(work, {"local_models": "off", "models": [model]})
        processes.append(lockgate)
        key = user_with_accounting(url)
        targets = {
            "direct (upstream chat completions)": (
                f"{upstream}/v1/chat/completions",
                "bench-model",
                CHAT_BODY,
            ),
            "lockgate /v1/chat/completions": (f"{url}/v1/chat/completions", "bench", CHAT_BODY),
            "lockgate /v1/responses (store: false)": (f"{url}/v1/responses", "bench", RESPONSES),
            "lockgate /v1/responses (stored)": (f"{url}/v1/responses", "bench", RESPONSES_STORED),
            "lockgate /v1/messages": (f"{url}/v1/messages", "bench", MESSAGES),
        }
        results: dict[str, dict] = {name: {} for name in targets}
        for target, model_name, body in targets.values():  # warm up every path once
            wrk(target, model_name, key, 4, 2, work, body)
        for connections in (1, 16):
            for name, (target, model_name, body) in targets.items():  # interleaved
                result = wrk(target, model_name, key, connections, args.seconds, work, body)
                results[name][f"c{connections}"] = result
                print(
                    f"{name:40s} c={connections:<3d} {result.rps:9.0f} req/s  p50 {result.p50_ms:7.3f} ms  "
                    f"p99 {result.p99_ms:7.3f} ms  errors {result.errors}",
                    flush=True,
                )
        write_report(args.out, render(results, args.seconds))
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def render(results: dict, seconds: int) -> str:
    direct = results["direct (upstream chat completions)"]["c1"].p50_ms
    chat = results["lockgate /v1/chat/completions"]["c1"].p50_ms
    lines = [
        f"Dialect overhead ({seconds}s per cell, wrk, one run, interleaved; user with limits + budget)",
        "",
        "| target | p50 c=1 (ms) | p99 c=1 (ms) | added p50 vs upstream (ms) "
        "| added p50 vs chat completions (ms) | req/s c=16 | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        first = name.startswith("direct")
        errors = sum(r[c].errors for c in ("c1", "c16"))
        p50 = r["c1"].p50_ms
        versus_chat = "" if first else f"{p50 - chat:.3f}"
        lines.append(
            f"| {name} | {p50:.3f} | {r['c1'].p99_ms:.3f} | {0.0 if first else p50 - direct:.3f} | "
            f"{versus_chat} | {r['c16'].rps:.0f} | {errors} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
