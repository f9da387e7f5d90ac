"""docs/api.md holds the current audit of the `H2OGPTE` class (tests/contract_h2ogpte/audit.py): every
public method, and whether Lockgate serves the calls it makes. The methods of the client's README
examples all work."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("h2ogpte")

from tests.contract_h2ogpte import audit

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"
# Every method the client's README and its docstring examples use.
README_METHODS = (
    "create_collection",
    "upload",
    "ingest_uploads",
    "create_chat_session",
    "connect",
    "list_documents_in_collection",
    "process_document",
    "summarize_document",
    "create_chat_session_on_default_collection",
    "get_default_collection",
)


def test_docs_hold_the_current_audit_table() -> None:
    text = DOCS.read_text()
    start, end = text.index(audit.START) + len(audit.START), text.index(audit.END)
    assert text[start:end].strip() == audit.table(), (
        "docs/api.md is out of date: PYTHONPATH=src python -m tests.contract_h2ogpte.audit"
    )


def test_every_public_method_is_listed_and_the_readme_methods_work() -> None:
    import h2ogpte

    public = {
        n for n in dir(h2ogpte.H2OGPTE) if not n.startswith("_") and callable(getattr(h2ogpte.H2OGPTE, n))
    }
    assert public <= set(audit.methods())
    for name in README_METHODS:
        assert audit.status(name).startswith("✓"), name
    for name in audit.TESTED:
        assert audit.status(name).startswith("✓ works, tested") or name == "list_extractors", name
