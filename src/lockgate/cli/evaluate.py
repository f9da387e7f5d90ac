"""`lockgate eval --collection ID --queries FILE [--qrels FILE]`: retrieval quality of a collection on
your own judged queries, through POST /v1/collections/{id}/evaluate on a running Lockgate."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from lockgate.cli.common import console


def read_queries(path: Path) -> list[dict[str, Any]]:
    """A JSON list of {id, query, relevant?}, JSON lines of the same, or `id<TAB>query` lines."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return list(json.loads(text))
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    queries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        qid, tab, query = line.partition("\t")
        if not tab or not query.strip():
            raise ValueError(f"{path}:{number}: expected 'query-id<TAB>query text'")
        queries.append({"id": qid.strip(), "query": query.strip()})
    return queries


def evaluate(
    collection: Annotated[int, typer.Option(help="Collection ID.")],
    queries: Annotated[Path, typer.Option(exists=True, help=".json, .jsonl, or id<TAB>query lines.")],
    qrels: Annotated[Path | None, typer.Option(exists=True, help="TREC qrels: qid 0 docid grade.")] = None,
    match: Annotated[str, typer.Option(help="Judged documents are ids or names.")] = "id",
    k: Annotated[int, typer.Option(help="Cut-off of nDCG@k, recall@k, MRR@k.")] = 10,
    method: Annotated[list[str] | None, typer.Option(help="lexical, semantic, hybrid (repeatable).")] = None,
    fusion: Annotated[str | None, typer.Option(help="Hybrid fusion: rrf or convex.")] = None,
    semantic_weight: Annotated[float | None, typer.Option(help="Convex fusion weight, 0..1.")] = None,
    url: Annotated[str, typer.Option(help="Lockgate base URL.")] = "http://127.0.0.1:8000",
    key: Annotated[str | None, typer.Option(help="API key (default: $LOCKGATE_API_KEY).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full answer as JSON.")] = False,
) -> None:
    """Measure retrieval (nDCG@k, recall@k, MRR) on a collection with judged queries."""
    import asyncio

    api_key = key or os.environ.get("LOCKGATE_API_KEY")
    if not api_key:
        console.print("[red]Give --key or set LOCKGATE_API_KEY.[/red]")
        raise typer.Exit(2)
    try:
        body: dict[str, Any] = {"queries": read_queries(queries), "match": match, "k": k}
    except (ValueError, TypeError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    if qrels is not None:
        body["qrels"] = qrels.read_text(encoding="utf-8")
    for name, value in (("methods", method), ("fusion", fusion), ("semantic_weight", semantic_weight)):
        if value is not None:
            body[name] = value
    status, answer = asyncio.run(
        _post(f"{url.rstrip('/')}/v1/collections/{collection}/evaluate", api_key, body)
    )
    if status != 200:
        console.print(
            f"[red]{status}[/red] {answer.get('detail', answer) if isinstance(answer, dict) else answer}"
        )
        raise typer.Exit(1)
    if as_json:
        print(json.dumps(answer, indent=2))
        return
    table = Table(title=f"collection {collection}: {answer['queries']} queries, k = {answer['k']}")
    for column in ("method", f"nDCG@{k}", f"recall@{k}", f"MRR@{k}"):
        table.add_column(column)
    for row in answer["methods"]:
        table.add_row(row["method"], f"{row['ndcg']:.3f}", f"{row['recall']:.3f}", f"{row['mrr']:.3f}")
    Console(soft_wrap=True).print(table)  # the table is the output: stdout
    fused = answer["fusion"]
    console.print(
        f"hybrid: {fused['method']} (semantic_weight {fused['semantic_weight']}, rff_k {fused['rff_k']})"
    )
    if answer["unknown_documents"]:
        console.print(
            f"[yellow]{answer['unknown_documents']} judged document(s) are not in the collection.[/yellow]"
        )


async def _post(url: str, key: str, body: dict[str, Any]) -> tuple[int, Any]:
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=3600)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}, timeout=timeout) as session:
        try:
            async with session.post(url, json=body) as response:
                return response.status, await response.json(content_type=None)
        except aiohttp.ClientError as exc:
            return 0, f"unreachable: {exc}"
