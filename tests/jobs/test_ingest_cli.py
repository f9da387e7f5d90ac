"""`lockgate ingest` through the job queue across real processes, on SQLite and PostgreSQL: the server
only answers (job_workers 0), so the CLI's jobs wait in the queue; Ctrl-C leaves them there and prints
how to follow them; a `lockgate worker` started afterwards runs them, `lockgate follow` reports each file,
and running the same ingest again changes nothing."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.helpers import MASTER_KEY, bearer
from tests.jobs.conftest import EMBEDDINGS, WAIT_SECONDS, Deployment
from tests.test_cli import LOCKGATE, _env


def cli(deployment: Deployment, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LOCKGATE, *args, "--key", MASTER_KEY],
        env=_env(deployment.directory / "data"),
        capture_output=True,
        text=True,
        timeout=WAIT_SECONDS,
    )


def _interruptible() -> None:
    """Ctrl-C reaches the CLI even when the suite itself was started in the background (`make test &`):
    a non-interactive shell starts background commands with SIGINT ignored, and children inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_leaves_the_jobs_queued_a_worker_runs_them_and_follow_reports_each_file(
    deployment: Deployment, tmp_path: Path
) -> None:
    deployment.set_job_workers(0)
    base = deployment.serve(job_workers=0)
    http = httpx.Client(base_url=base, headers=bearer(MASTER_KEY), timeout=60)
    target = http.post("/v1/collections", json={"name": "notes"}).json()["id"]
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.md").write_text("# Lighthouse\n\nThe keeper counts ships at dawn.")
    (folder / "b.txt").write_text("Tides rise twice a day on this coast.")

    log = tmp_path / "ingest.log"
    command = [LOCKGATE, "ingest", str(folder), "--collection", "notes", "--url", base, "--key", MASTER_KEY]
    with log.open("w") as out:
        ingest = subprocess.Popen(
            command,
            env=_env(deployment.directory / "data"),
            stderr=out,
            stdout=out,
            preexec_fn=_interruptible,
        )
    deadline = time.monotonic() + WAIT_SECONDS
    while "queued job" not in log.read_text():  # the CLI now follows a job that no worker runs
        assert ingest.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    ingest.send_signal(signal.SIGINT)
    assert ingest.wait(timeout=WAIT_SECONDS) == 130, log.read_text()
    output = log.read_text()
    [job] = http.get("/v1/jobs").json()["data"]
    assert job["status"] == "pending" and job["kind"] == "sync_files" and job["total"] == 2
    assert f"lockgate follow --url {base} {job['id']}" in output and "Traceback" not in output
    assert http.get(f"/v1/collections/{target}/manifest").json()["data"] == []

    deployment.worker()  # a pool that consumes the queue
    followed = cli(deployment, "follow", "--url", base, job["id"])
    assert followed.returncode == 0, followed.stderr
    assert "2 created, 0 replaced, 0 unchanged, 0 removed, 0 failed" in followed.stderr
    names = {entry["name"] for entry in http.get(f"/v1/collections/{target}/manifest").json()["data"]}
    assert names == {"a.md", "b.txt"}

    again = cli(deployment, "ingest", str(folder), "--collection", str(target), "--url", base)
    assert again.returncode == 0, again.stderr
    assert "0 created, 0 replaced, 2 unchanged, 0 removed, 0 failed" in again.stderr
    assert len(http.get("/v1/jobs").json()["data"]) == 1  # nothing to send: no job queued

    unknown = cli(deployment, "follow", "--url", base, "no-such-job")
    assert unknown.returncode == 2 and "no-such-job" in unknown.stderr and "404" in unknown.stderr


def test_a_worker_killed_mid_sync_leaves_nothing_half_and_ingest_still_reports_each_file_once(
    deployment: Deployment, tmp_path: Path
) -> None:
    deployment.set_job_workers(0)
    base = deployment.serve(job_workers=0)
    http = httpx.Client(base_url=base, headers=bearer(MASTER_KEY), timeout=60)
    target = http.post("/v1/collections", json={"name": "killed"}).json()["id"]
    folder = tmp_path / "notes"
    folder.mkdir()
    for name in ("a.md", "b.md", "c.md"):
        (folder / name).write_text(f"# {name}\n\nThe keeper of {name} counts ships.")
    embedder = deployment.embedder
    embedder.hold.set()
    before = len(embedder.calls(EMBEDDINGS))
    log = tmp_path / "ingest.log"
    command = [
        LOCKGATE,
        "ingest",
        str(folder),
        "--collection",
        str(target),
        "--url",
        base,
        "--key",
        MASTER_KEY,
    ]
    with log.open("w") as out:
        ingest = subprocess.Popen(command, env=_env(deployment.directory / "data"), stderr=out, stdout=out)
    first = deployment.worker()
    deadline = time.monotonic() + WAIT_SECONDS
    while len(embedder.calls(EMBEDDINGS)) == before:  # the worker is inside the step's embedding
        assert time.monotonic() < deadline and ingest.poll() is None, log.read_text()
        time.sleep(0.1)
    first.kill()  # SIGKILL: no cleanup of any kind
    first.wait(timeout=60)
    assert http.get(f"/v1/collections/{target}/manifest").json()["data"] == []  # nothing half written

    embedder.hold.clear()
    deployment.worker()  # takes the job over once the dead worker's lease runs out
    assert ingest.wait(timeout=WAIT_SECONDS) == 0, log.read_text()
    assert "3 created, 0 replaced, 0 unchanged, 0 removed, 0 failed" in log.read_text()
    entries = http.get(f"/v1/collections/{target}/manifest").json()["data"]
    assert sorted(entry["name"] for entry in entries) == ["a.md", "b.md", "c.md"]  # each exactly once
