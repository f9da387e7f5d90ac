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
