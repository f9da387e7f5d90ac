"""Gateway overhead, side by side in one run: the same fake upstream reached directly, through Lockgate
(master key: no limits; and a user with rate limits + budget: full admission and accounting), and through
the LiteLLM proxy (installed in its own throwaway venv).

    python bench/gateway.py [--seconds 5] [--no-litellm] [--out bench/results/gateway.md]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import yaml

from bench.common import (
    MASTER,
    ROOT,
    bench_model,
    free_port,
    rss_mb,
    serve_lockgate,
    spawn,
    start_fake_upstream,
    wait_ready,
    write_report,
    wrk,
)

LITELLM_KEY = "sk-litellm-bench"


def litellm_venv(work: Path) -> Path | None:
    """A throwaway venv with litellm[proxy] (reused from $LITELLM_VENV or bench/.litellm-venv)."""
    venv = Path(os.environ.get("LITELLM_VENV", ROOT / "bench" / ".litellm-venv"))
    if not (venv / "bin" / "litellm").exists():
        print("installing litellm[proxy] into", venv, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        result = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "litellm[proxy]"])
        if result.returncode != 0:
            return None
    return venv


def start_lockgate(work: Path, upstream: str) -> tuple[subprocess.Popen, str]:
    model = bench_model(upstream, cost_prompt_tokens=1.0, cost_completion_tokens=1.0)
    return serve_lockgate(work, {"local_models": "off", "models": [model]})


def user_with_accounting(url: str) -> str:
    """A user whose every request goes through rate limits (rpm, tpm) and a budget reservation."""
    admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {MASTER}"})
    routers = [router["id"] for router in admin.get("/v1/admin/routers").json()["data"]]
    kinds = ("rpm", "rpd", "tpm", "tpd")
    limits = [{"router": router, "type": t, "value": 10**9} for router in routers for t in kinds]
    role = admin.post("/v1/admin/roles", json={"name": "bench", "limits": limits}).json()["id"]
    user = admin.post(
        "/v1/admin/users",
        json={"email": "bench@example.org", "password": "bench", "role": role, "budget": 1e9},
    ).json()["id"]
    return admin.post("/v1/admin/tokens", json={"name": "bench", "user": user}).json()["token"]


def start_replica_stack(work: Path, upstream: str) -> tuple[list[subprocess.Popen], str]:
    """Lockgate as replicas run it: PostgreSQL (pgserver) for the database and usage rows, Redis for the
    shared rate limits and budgets. Returns the processes to stop (Redis, Lockgate) and Lockgate's URL."""
    import pgserver

    server = pgserver.get_server(work / "pg", cleanup_mode="stop")  # stopped when this process exits
    socket_dir = server.get_uri().split("host=")[1]
    redis_port = free_port()
    redis = spawn(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    )
    replica_work = work / "replica"
    replica_work.mkdir()
    model = bench_model(upstream, cost_prompt_tokens=1.0, cost_completion_tokens=1.0)
    config = {
        "local_models": "off",
        "models": [model],
        "database_url": f"postgresql+asyncpg://postgres@/postgres?host={socket_dir}",
        "redis_url": f"redis://127.0.0.1:{redis_port}/0",
    }
    lockgate, url = serve_lockgate(replica_work, config)
    return [redis, lockgate], url


def start_litellm(work: Path, upstream: str, venv: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    config = work / "litellm.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "model_list": [
                    {
                        "model_name": "bench",
                        "litellm_params": {
                            "model": "openai/bench-model",
                            "api_base": f"{upstream}/v1",
                            "api_key": "x",
                        },
                    }
                ],
                "general_settings": {"master_key": LITELLM_KEY},
            }
        )
    )
    process = spawn(
        [str(venv / "bin" / "litellm"), "--config", str(config), "--port", str(port), "--host", "127.0.0.1"],
        env={"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"},
        log=work / "litellm.log",
    )
    url = f"http://127.0.0.1:{port}"
    wait_ready(f"{url}/health/liveliness", process, timeout=180)
    return process, url


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--no-litellm", action="store_true")
    parser.add_argument("--no-replica", action="store_true", help="skip Lockgate on PostgreSQL + Redis")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "gateway.md"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lockgate-bench-"))
    fake, upstream_port = start_fake_upstream()
    upstream = f"http://127.0.0.1:{upstream_port}"
    processes = [fake]
    try:
        lockgate, lockgate_url = start_lockgate(work, upstream)
        processes.append(lockgate)
        targets = {
            "direct": (f"{upstream}/v1/chat/completions", "bench-model", "none", processes[0].pid),
            "lockgate (master key)": (f"{lockgate_url}/v1/chat/completions", "bench", MASTER, lockgate.pid),
            "lockgate (user: limits + budget)": (
                f"{lockgate_url}/v1/chat/completions",
                "bench",
                user_with_accounting(lockgate_url),
                lockgate.pid,
            ),
        }
        if not args.no_replica:
            stack, replica_url = start_replica_stack(work, upstream)
            processes += stack
            targets["lockgate (user: limits + budget, PostgreSQL + Redis)"] = (
                f"{replica_url}/v1/chat/completions",
                "bench",
                user_with_accounting(replica_url),
                stack[-1].pid,
            )
        venv = None if args.no_litellm else litellm_venv(work)
        if venv is not None:
            litellm, litellm_url = start_litellm(work, upstream, venv)
            processes.append(litellm)
            targets["litellm proxy"] = (
                f"{litellm_url}/v1/chat/completions",
                "bench",
                LITELLM_KEY,
                litellm.pid,
            )
        results: dict[str, dict[str, float]] = {name: {} for name in targets}
        for url, model, key, _ in targets.values():  # warm up every path once
            wrk(url, model, key, 4, 2, work)
        for connections in (1, 16, 64):
            for name, (url, model, key, _) in targets.items():  # interleaved: same conditions for all
                result = wrk(url, model, key, connections, args.seconds, work)
                results[name][f"c{connections}"] = result
                print(
                    f"{name:34s} c={connections:<3d} {result.rps:9.0f} req/s  p50 {result.p50_ms:7.3f} ms  "
                    f"p99 {result.p99_ms:7.3f} ms  errors {result.errors}",
                    flush=True,
                )
        for name, (_, _, _, pid) in targets.items():
            results[name]["rss"] = rss_mb(pid)
        report = render(results, args.seconds)
        write_report(args.out, report)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def render(results: dict, seconds: int) -> str:
    direct = results["direct"]
    lines = [
        f"Gateway overhead ({seconds}s per cell, wrk, one run, interleaved; fake upstream answers at once)",
        "",
        "| target | p50 c=1 (ms) | p99 c=1 (ms) | added p50 (ms) | req/s c=16 | req/s c=64 | p99 c=64 (ms) "
        "| RSS (MB) | errors |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        added = r["c1"].p50_ms - direct["c1"].p50_ms if name != "direct" else 0.0
        errors = sum(r[c].errors for c in ("c1", "c16", "c64"))
        lines.append(
            f"| {name} | {r['c1'].p50_ms:.3f} | {r['c1'].p99_ms:.3f} | {added:.3f} | {r['c16'].rps:.0f} | "
            f"{r['c64'].rps:.0f} | {r['c64'].p99_ms:.1f} | {r['rss']:.0f} | {errors} |"
        )
    if "litellm proxy" in results:
        for name in [n for n in results if n.startswith("lockgate")]:
            ratio = results[name]["c64"].rps / max(results["litellm proxy"]["c64"].rps, 1e-9)
            lines.append(f"\n{name} / LiteLLM requests/s at c=64: **{ratio:.1f}x**")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
