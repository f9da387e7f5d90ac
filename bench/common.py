"""Shared benchmark plumbing: processes, ports, readiness, RSS, wrk."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spawn(args: list[str], env: dict[str, str] | None = None, log: Path | None = None) -> subprocess.Popen:
    out = open(log, "w") if log else subprocess.DEVNULL
    return subprocess.Popen(args, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT)


def wait_ready(
    url: str, process: subprocess.Popen, timeout: float = 120, headers: dict | None = None
) -> float:
    """Seconds until `url` answers 200."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"process exited while waiting for {url}")
        try:
            if httpx.get(url, timeout=1, headers=headers).status_code == 200:
                return time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} not ready after {timeout}s")


def start_fake_upstream(delay: float = 0.0, chunks: int = 20) -> tuple[subprocess.Popen, int]:
    """`bench/fake_upstream.py` on a free port, once it answers: (process, port)."""
    port = free_port()
    process = spawn(
        [sys.executable, str(ROOT / "bench" / "fake_upstream.py"), str(port), str(delay), str(chunks)]
    )
    wait_ready(f"http://127.0.0.1:{port}/v1/models", process)
    return process, port


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB."""
    total = 0
    pids = [pid]
    try:
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        pids += [int(c) for c in children]
    except FileNotFoundError:
        pass
    for p in pids:
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except FileNotFoundError:
            continue
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        total += int(match.group(1)) if match else 0
    return total / 1024


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


_LUA = """
wrk.method = "POST"
wrk.body = '{body}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {key}"
"""
CHAT_BODY = '{{"model": "{model}", "messages": [{{"role": "user", "content": "ping"}}]}}'


def wrk(
    url: str, model: str, key: str, connections: int, seconds: int, workdir: Path, body: str = CHAT_BODY
) -> WrkResult:
    """wrk POSTing `body` (a JSON template with {model}; default: a one-message chat request)."""
    text = body.format(model=model)
    script = workdir / f"post-{model}-{abs(hash(text)):x}.lua"
    script.write_text(_LUA.format(body=text, key=key))
    threads = max(1, min(2, connections))
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors += (
        sum(
            int(n)
            for n in re.findall(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)[
                0
            ]
        )
        if "Socket errors" in out
        else 0
    )
    return WrkResult(rps, _percentile(out, "50%"), _percentile(out, "99%"), errors)


def _percentile(out: str, label: str) -> float:
    match = re.search(rf"{re.escape(label)}\s+([\d.]+)(us|ms|s)", out)
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


MASTER = "sk-bench-master-key-0123456789"


def bench_model(upstream_url: str, **router: object) -> dict:
    """The `bench` model: one OpenAI-compatible provider, the fake upstream."""
    provider = {"type": "openai", "url": upstream_url, "model_name": "bench-model"}
    return {"name": "bench", "type": "text-generation", "providers": [provider], **router}


def serve_lockgate(work: Path, config: dict, **env: str) -> tuple[subprocess.Popen, str]:
    """`lockgate serve` on a free port with `config` (master key added), once /health answers."""
    import yaml

    config_file = work / "lockgate.yaml"
    config_file.write_text(yaml.safe_dump({"master_key": MASTER, **config}))
    port = free_port()
    process = spawn(
        [str(BIN / "lockgate"), "serve", "--config", str(config_file), "--port", str(port)],
        env={"LOCKGATE_DATA_DIR": str(work / "data"), **env},
        log=work / "lockgate.log",
    )
    url = f"http://127.0.0.1:{port}"
    wait_ready(f"{url}/health", process)
    return process, url


def stop(*processes: subprocess.Popen) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            print(f"warning: {process.args[0]} did not stop within 60 s; killed", file=sys.stderr)
            process.kill()


def write_report(out: str | Path, report: str) -> None:
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report if report.endswith("\n") else report + "\n")
    print(report)
