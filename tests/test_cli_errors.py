"""The first mistakes, through the real `lockgate` command: one clear line on stderr and exit status 2."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lockgate import __version__
from tests.test_cli import LOCKGATE, _env, _free_port


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LOCKGATE, *args], env=env, capture_output=True, text=True, timeout=120)


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


def test_version() -> None:
    result = subprocess.run([LOCKGATE, "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout.strip() == f"lockgate {__version__}"


def test_yaml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "lockgate.yaml"
    config.write_text("port: 8000\nmodels:\n  - name: chat\n    type: text-generation\n   providers: []\n")
    line = _one_line(_run(["serve", "--config", str(config)], _env(tmp_path)))
    assert f"{config}:5:" in line
    assert "YAML syntax error" in line


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg2"])
def test_a_sync_postgres_url_says_the_right_scheme(tmp_path: Path, scheme: str) -> None:
    env = _env(tmp_path, LOCKGATE_DATABASE_URL=f"{scheme}://lg:hunter2-secret@db.example:5432/lockgate")
    line = _one_line(_run(["serve"], env))
    assert "database_url" in line
    assert f"use postgresql+asyncpg:// instead of {scheme}://" in line
    assert "hunter2" not in line


@pytest.mark.parametrize("command", [["serve"], ["serve", "--no-migrate"], ["migrate"]])
def test_an_unreachable_database_names_host_and_port(tmp_path: Path, command: list[str]) -> None:
    port = _free_port()
    url = f"postgresql+asyncpg://lg:hunter2-secret@127.0.0.1:{port}/lockgate"
    line = _one_line(_run(command, _env(tmp_path, LOCKGATE_DATABASE_URL=url)))
    assert f"127.0.0.1:{port}" in line
    assert "connection refused" in line
    assert "hunter2" not in line


def test_admin_commands_say_it_too(tmp_path: Path) -> None:
    port = _free_port()
    env = _env(tmp_path, LOCKGATE_DATABASE_URL=f"postgresql+asyncpg://lg:pw@127.0.0.1:{port}/lockgate")
    line = _one_line(_run(["admin", "create-key", "--email", "a@b.org"], env))
    assert f"127.0.0.1:{port}" in line


def test_postgres_without_pgvector_says_what_to_install(tmp_path: Path) -> None:
    """A real PostgreSQL (pgserver's binaries, copied without the vector extension files)."""
    import os
    import shutil
    import tempfile

    try:
        import pgserver
    except ImportError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"pgserver not installed: {exc}")
        pytest.skip(f"pgserver not installed: {exc}")
    installed = Path(pgserver.__file__).parent
    root = Path(tempfile.mkdtemp(prefix="lockgate-nopgvector-"))  # outside pytest's 0700 tree
    user = None
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: pgserver's own user
        from pgserver.utils import ensure_user_exists

        user = "pgserver"
        ensure_user_exists(user)
    try:
        pginstall = root / "lib" / "pgserver" / "pginstall"
        shutil.copytree(installed / "pginstall", pginstall)
        shutil.copytree(installed.parent / "pgserver.libs", root / "lib" / "pgserver.libs")  # binaries' RPATH
        for extension in (pginstall / "share" / "postgresql" / "extension").glob("vector*"):
            extension.unlink()
        (pginstall / "lib" / "postgresql" / "vector.so").unlink(missing_ok=True)
        data = root / "data"
        data.mkdir()
        if user is not None:
            for path in (root, data):
                shutil.chown(path, user)
        root.chmod(0o755)
        data.chmod(0o700)
        binary = pginstall / "bin"
        run = {"user": user, "check": True, "capture_output": True, "timeout": 120}
        subprocess.run([binary / "initdb", "-D", data, "-U", "postgres", "--auth=trust"], **run)
        start = ["-D", data, "-o", f"-k {root} -h ''", "-l", root / "log", "-w", "start"]
        subprocess.run([binary / "pg_ctl", *start], **run)
        try:
            url = f"postgresql+asyncpg://postgres@/postgres?host={root}"
            line = _one_line(_run(["migrate"], _env(tmp_path, LOCKGATE_DATABASE_URL=url)))
            assert "pgvector" in line and "Install it on the database server" in line
        finally:
            subprocess.run([binary / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop"], **run)
    finally:
        shutil.rmtree(root, ignore_errors=True)
