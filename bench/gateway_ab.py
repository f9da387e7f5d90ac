"""Lockgate's server CPU time per chat request, this working tree against a git revision, in one run.

    python -m bench.gateway_ab [--base main] [--rounds 8] [--seconds 4] [--out bench/results/gateway_ab.md]

Two `lockgate serve` side by side (the base revision's `src/`, exported with `git archive`, and this
tree's), the same fake upstream (answers at once), the master key and a user with rate limits and a
budget on each. Each round runs wrk (c=16) on every target, the order flipped every round, and reads
the server process's CPU time (user + system, /proc) before and after: CPU per request is what a change
on the hot path costs, and it depends less than req/s or latency on what else the shared machine is
doing (on 2 cores shared with other work, req/s moves by ±20% from cell to cell). It still drifts with
the machine's load, so the base and the tree are measured back to back in each round and the change is
the median of the rounds' paired differences."""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import tempfile
from pathlib import Path

from bench.common import ROOT, bench_model, serve_lockgate, start_fake_upstream, stop, write_report
from bench.gateway import user_with_accounting

_TICK = os.sysconf("SC_CLK_TCK")
_LUA = """
wrk.method = "POST"
wrk.body = '{{"model": "bench", "messages": [{{"role": "user", "content": "ping"}}]}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {key}"
"""


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (fields 14 and 15 of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def wrk_requests(url: str, key: str, seconds: int, work: Path) -> tuple[int, int]:
    """(requests completed, non-2xx or socket errors) of one wrk run at c=16."""
    script = work / f"ab-{abs(hash(key)):x}.lua"
    script.write_text(_LUA.format(key=key))
    out = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{seconds}s", "-s", str(script), f"{url}/v1/chat/completions"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return requests, errors


def export_source(revision: str, work: Path) -> Path:
    """`src/` of `revision`, exported into `work` (the base's code, whatever is checked out)."""
    target = work / "base"
    target.mkdir()
    command = ["git", "-C", str(ROOT), "archive", revision, "src"]
    archive = subprocess.run(command, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target / "src"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="main", help="git revision measured against this tree")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "gateway_ab.md"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lockgate-ab-"))
    sources = {args.base: export_source(args.base, work), "this tree": ROOT / "src"}
    fake, port = start_fake_upstream()
    processes = [fake]
    targets: dict[str, tuple[str, str, int]] = {}
    try:
        for label, src in sources.items():
            server_work = work / re.sub(r"\W", "_", label)
            server_work.mkdir()
            upstream = f"http://127.0.0.1:{port}"
            model = bench_model(upstream, cost_prompt_tokens=1.0, cost_completion_tokens=1.0)
            process, url = serve_lockgate(
                server_work, {"local_models": "off", "models": [model]}, PYTHONPATH=str(src)
            )
            processes.append(process)
            targets[f"{label}, master key"] = (url, "sk-bench-master-key-0123456789", process.pid)
            targets[f"{label}, user: limits + budget"] = (url, user_with_accounting(url), process.pid)
        for url, key, _ in targets.values():  # warm up every path
            wrk_requests(url, key, 2, work)
        per_request: dict[str, list[float]] = {name: [] for name in targets}
        rates: dict[str, list[float]] = {name: [] for name in targets}
        kinds = ("master key", "user: limits + budget")
        for round_number in range(args.rounds):
            # each base/tree pair measured back to back (their difference is what drifts least), the
            # pair's order flipped every round
            pairs = [(f"{args.base}, {kind}", f"this tree, {kind}") for kind in kinds]
            order = [name for pair in pairs for name in (pair if round_number % 2 == 0 else pair[::-1])]
            for name in order:
                url, key, pid = targets[name]
                before = cpu_seconds(pid)
                requests, errors = wrk_requests(url, key, args.seconds, work)
                used = cpu_seconds(pid) - before
                if errors or not requests:
                    raise RuntimeError(f"{name}: {errors} errors in {requests} requests")
                per_request[name].append(used / requests * 1e6)
                rates[name].append(requests / args.seconds)
                figure = per_request[name][-1]
                print(f"round {round_number + 1} {name:40s} {figure:7.1f} µs CPU/request", flush=True)
        write_report(args.out, render(args, per_request, rates))
    finally:
        stop(*processes)


def render(
    args: argparse.Namespace, per_request: dict[str, list[float]], rates: dict[str, list[float]]
) -> str:
    lines = [
        f"Server CPU per chat request: `{args.base}` vs this tree ({args.rounds} rounds of wrk c=16, "
        f"{args.seconds} s per cell, order flipped every round; fake upstream answers at once)",
        "",
        "| target | CPU µs/request, median | min | max | req/s c=16, median |",
        "|---|---|---|---|---|",
    ]
    for name, values in per_request.items():
        lines.append(
            f"| {name} | {statistics.median(values):.0f} | {min(values):.0f} | {max(values):.0f} | "
            f"{statistics.median(rates[name]):.0f} |"
        )
    lines += [
        "",
        "| change, this tree vs base | CPU µs/request: median of the rounds' paired differences | "
        "quartiles | relative |",
        "|---|---|---|---|",
    ]
    for kind in ("master key", "user: limits + budget"):
        before, after = per_request[f"{args.base}, {kind}"], per_request[f"this tree, {kind}"]
        differences = [b - a for a, b in zip(before, after, strict=True)]
        low, median, high = statistics.quantiles(differences, n=4)
        relative = median / statistics.median(before) * 100
        lines.append(f"| {kind} | {median:+.1f} | {low:+.1f} … {high:+.1f} | {relative:+.1f}% |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
