"""rag/ and conversations/ keep their place in the layers: conversations builds on rag, never the other
way round, and neither knows the HTTP surfaces or FastAPI (ADR 0001)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "lockgate"
FORBIDDEN = {
    "rag": ("lockgate.conversations", "lockgate.api", "lockgate.web", "fastapi", "starlette"),
    "conversations": ("lockgate.api", "lockgate.web", "fastapi", "starlette"),
}


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_domain_package_imports_nothing_above_it(package: str) -> None:
    offending = [
        f"{path.relative_to(SRC)}:{line} imports {module}"
        for path in sorted((SRC / package).rglob("*.py"))
        for line, module in _imports(path)
        if any(module == banned or module.startswith(banned + ".") for banned in FORBIDDEN[package])
    ]
    assert offending == []
