"""Operability costs, side by side in one run (same fake upstream, same user with rpm/rpd/tpm/tpd limits
and a budget, wrk, targets interleaved):

- tracing: this tree with tracing off, the same with tracing on (OTLP/HTTP to a sink that answers at
  once), and a baseline tree without tracing code (`--baseline REV`, default: the commit before tracing);
- workers: `lockgate serve --workers 1` vs `--workers 2` (both with Redis: limits exact across workers);
- x-ratelimit headers: the tree at the commit that added them vs its parent (`--headers-commit`).

Baseline trees are `git archive`d into the run's temporary directory and run from the same venv.

    python -m bench.operability [--seconds 3] [--rounds 3] [--baseline REV] [--out FILE]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

from bench.common import (
    BIN,
    MASTER,
    ROOT,
    WrkResult,
    bench_model,
    free_port,
    spawn,
    start_fake_upstream,
    stop,
    wait_ready,
    write_report,
    wrk,
)
from bench.gateway import user_with_accounting

HEADERS_COMMIT = "9544551"  # "x-ratelimit-{limit,remaining,reset}-{requests,tokens} on answers ..."


class _Sink(BaseHTTPRequestHandler):
    """An OTLP/HTTP endpoint that accepts every export at once (the collector's cost is not ours)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def before_tracing() -> str:
    """The commit before the one that added ops/tracing.py."""
    added = subprocess.run(
        [
            "git",
            "-C",
            str(ROOT),
            "log",
            "--diff-filter=A",
            "--format=%h",
            "--",
            "src/lockgate/ops/tracing.py",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return f"{added[-1]}^" if added else "HEAD"


def tree(rev: str, work: Path) -> Path:
    """The `src` directory of `rev`, extracted into `work`."""
    target = work / f"tree-{rev.replace('/', '_')}"
    target.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target / "src"


def serve(
    work: Path, name: str, config: dict, src: Path, workers: int = 1, **env: str
) -> tuple[subprocess.Popen, str]:
    directory = work / name
    directory.mkdir()
    config_file = directory / "lockgate.yaml"
    config_file.write_text(yaml.safe_dump({"master_key": MASTER, **config}))
    port = free_port()
    args = [str(BIN / "lockgate"), "serve", "--config", str(config_file), "--port", str(port)]
    process = spawn(
        [*args, "--workers", str(workers)] if workers > 1 else args,
        env={"LOCKGATE_DATA_DIR": str(directory / "data"), "PYTHONPATH": str(src), **env},
        log=directory / "lockgate.log",
    )
    url = f"http://127.0.0.1:{port}"
    wait_ready(f"{url}/health", process, timeout=180)
    return process, url


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", default=None, help="git revision (default: before tracing was added)")
    parser.add_argument("--headers-commit", default=HEADERS_COMMIT)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "operability.md"))
    args = parser.parse_args()
    args.baseline = args.baseline or before_tracing()
    work = Path(tempfile.mkdtemp(prefix="lockgate-bench-ops-"))
    fake, upstream_port = start_fake_upstream()
    upstream = f"http://127.0.0.1:{upstream_port}"
    sink = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    redis_port = free_port()
    redis = spawn(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    )
    processes = [fake, redis]
    here = ROOT / "src"
    model = bench_model(upstream, cost_prompt_tokens=1.0, cost_completion_tokens=1.0)
    embedded = {"local_models": "off", "models": [model]}
    shared = {**embedded, "redis_url": f"redis://127.0.0.1:{redis_port}/0"}
    setups = {
        f"baseline ({args.baseline}, no tracing code)": (embedded, tree(args.baseline, work), 1, {}),
        "tracing off": (embedded, here, 1, {}),
        "tracing on (OTLP)": (
            embedded,
            here,
            1,
            {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink.server_address[1]}"},
        ),
        "1 worker (Redis)": (shared, here, 1, {}),
        "2 workers (Redis)": ({**shared, "redis_url": f"redis://127.0.0.1:{redis_port}/1"}, here, 2, {}),
        f"{args.headers_commit}^ (no x-ratelimit headers)": (
            embedded,
            tree(f"{args.headers_commit}^", work),
            1,
            {},
        ),
        f"{args.headers_commit} (x-ratelimit headers)": (embedded, tree(args.headers_commit, work), 1, {}),
    }
    try:
        targets = {}
        for index, (name, (config, src, workers, env)) in enumerate(setups.items()):
            process, url = serve(work, f"t{index}", config, src, workers, **env)
            processes.append(process)
            targets[name] = (f"{url}/v1/chat/completions", user_with_accounting(url))
        runs: dict[str, dict[int, list[WrkResult]]] = {name: {1: [], 16: [], 64: []} for name in targets}
        for url, key in targets.values():  # warm up every path once
            wrk(url, "bench", key, 4, 2, work)
        for _ in range(args.rounds):  # on a shared machine single cells swing: rounds, then medians
            for connections in (1, 16, 64):
                for name, (url, key) in targets.items():  # interleaved: same conditions for all
                    result = wrk(url, "bench", key, connections, args.seconds, work)
                    runs[name][connections].append(result)
                    print(
                        f"{name:44s} c={connections:<3d} {result.rps:8.0f} req/s  p50 {result.p50_ms:7.3f} ms"
                        f"  p99 {result.p99_ms:7.3f} ms  errors {result.errors}",
                        flush=True,
                    )
        results = {name: {c: _median(cells) for c, cells in by_c.items()} for name, by_c in runs.items()}
        write_report(args.out, render(results, args.seconds, args.rounds))
    finally:
        stop(*processes)
        sink.shutdown()


def _median(cells: list[WrkResult]) -> WrkResult:
    """Each figure's median over the rounds (errors: the total)."""
    return WrkResult(
        statistics.median(c.rps for c in cells),
        statistics.median(c.p50_ms for c in cells),
        statistics.median(c.p99_ms for c in cells),
        sum(c.errors for c in cells),
    )


def render(results: dict, seconds: int, rounds: int) -> str:
    lines = [
        f"Operability costs ({seconds}s per cell, median of {rounds} interleaved rounds, wrk, one run; "
        "user with limits + budget)",
        "",
        "| target | p50 c=1 (ms) | p99 c=1 (ms) | req/s c=16 | req/s c=64 | p99 c=64 (ms) | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        errors = sum(x.errors for x in r.values())
        lines.append(
            f"| {name} | {r[1].p50_ms:.3f} | {r[1].p99_ms:.3f} | {r[16].rps:.0f} | {r[64].rps:.0f} "
            f"| {r[64].p99_ms:.1f} | {errors} |"
        )
    names = list(results)

    def compare(label: str, a: str, b: str) -> str:
        rps = ", ".join(f"c={c} {results[a][c].rps / results[b][c].rps:.2f}" for c in (16, 64))
        added = results[a][1].p50_ms - results[b][1].p50_ms
        return f"- {label}: req/s ratio {rps}; p50 c=1 added {added:+.3f} ms"

    lines += [
        "",
        compare("tracing off vs baseline", names[1], names[0]),
        compare("tracing on vs off", names[2], names[1]),
        compare("2 workers vs 1 worker", names[4], names[3]),
        compare("with vs without x-ratelimit headers", names[6], names[5]),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
