"""The prompts of an h2oGPTe answer: defaults, how a template and a request combine, how retrieved
chunks are laid into the prompt, and how h2oGPTe's llm_args become an OpenAI chat body."""

from __future__ import annotations

import json
from typing import Any

DEFAULTS: dict[str, str] = {
    "system_prompt": "You are h2oGPTe, an expert question-answering AI system.",
    "pre_prompt_query": (
        "Pay attention and remember the information below, which will help to answer the question or "
        "imperative after the context ends.\n"
    ),
    "prompt_query": (
        "According to only the information in the document sources provided within the context above, "
    ),
    "hyde_no_rag_llm_prompt_extension": (
        "\nKeep the answer brief, and list the 5 most relevant key words at the end."
    ),
    "pre_prompt_summary": (
        "In order to write a concise single-paragraph or bulleted list summary, pay attention to the "
        "following text:\n"
    ),
    "prompt_summary": (
        "Using only the text above, write a condensed and concise summary of key results relevant to: "
    ),
    "system_prompt_reflection": "You are an expert at judging the quality of answers.",
    "prompt_reflection": (
        'Here\'s the prompt and the response:\n"""Prompt:\n%s\n"""\n\n"""Response:\n%s\n"""\n\nWhat is the '
        "quality of the response for the given prompt? Respond with a score ranging from Score: 0/10 (worst) "
        "to Score: 10/10 (best), and give a brief explanation why."
    ),
}
CONTEXT_BUDGET = 3500  # characters of retrieved text per prompt (the default local model has 2k tokens)
DEFAULT_MAX_TOKENS = 256


def merged_prompts(*layers: dict[str, Any]) -> dict[str, Any]:
    """Defaults, then each layer (collection template, session template, request) overriding."""
    prompts: dict[str, Any] = dict(DEFAULTS)
    for layer in layers:
        prompts.update({k: v for k, v in (layer or {}).items() if v is not None})
    return prompts


def chunk_text(content: str, document_name: str | None, page: object) -> str:
    """A chunk headed by its document's name and page (each left out when None)."""
    head = []
    if document_name is not None:
        head.append(f"Document: {document_name}")
    if page is not None:
        head.append(f"Page: {page}")
    return ("\n".join(head) + "\n" if head else "") + content


def fit(texts: list[str], budget: int = CONTEXT_BUDGET) -> int:
    """How many of `texts` fit the context budget (always at least one)."""
    used, n = 0, 0
    for text in texts:
        if n and used + len(text) > budget:
            break
        used += len(text) + 2
        n += 1
    return n


def rag_prompt(prompts: dict[str, Any], context: str, question: str) -> str:
    return f'{prompts["pre_prompt_query"]}"""\n{context}\n"""\n{prompts["prompt_query"]}{question}'


def summary_prompt(prompts: dict[str, Any], text: str, question: str) -> str:
    return f'{prompts["pre_prompt_summary"]}"""\n{text}\n"""\n{prompts["prompt_summary"]}{question}'


def choice_grammar(choices: list[str]) -> str:
    """A GBNF grammar whose only sentences are the choices (llama.cpp engines enforce it)."""
    return "root ::= " + " | ".join(json.dumps(choice) for choice in choices)


def chat_body(model: str, llm_args: dict[str, Any], messages: list[dict[str, str]]) -> dict[str, Any]:
    """h2oGPTe llm_args → an OpenAI chat body (only the arguments every engine understands)."""
    body: dict[str, Any] = {"model": model, "messages": messages}
    body["max_tokens"] = int(
        llm_args.get("max_new_tokens") or llm_args.get("max_tokens") or DEFAULT_MAX_TOKENS
    )
    for name in ("temperature", "top_p", "top_k", "seed", "presence_penalty", "frequency_penalty"):
        if llm_args.get(name) is not None:
            body[name] = llm_args[name]
    if llm_args.get("repetition_penalty") is not None:  # llama.cpp's name for it
        body["repeat_penalty"] = llm_args["repetition_penalty"]
    if llm_args.get("guided_grammar"):
        body["grammar"] = llm_args["guided_grammar"]
    elif llm_args.get("guided_choice"):
        body["grammar"] = choice_grammar([str(c) for c in llm_args["guided_choice"]])
    if llm_args.get("guided_regex"):  # vLLM upstreams honour it; local engines answer 400 for it
        body["guided_regex"] = llm_args["guided_regex"]
    if llm_args.get("guided_json"):
        schema = llm_args["guided_json"]
        schema = json.loads(schema) if isinstance(schema, str) else schema
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}
    elif llm_args.get("response_format") in ("json_object", "json_code"):
        body["response_format"] = {"type": "json_object"}
    return body


def messages_for(system: str, history: list[tuple[str, str]], user: str) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": system}] if system else []
    for question, answer in history:
        messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return [*messages, {"role": "user", "content": user}]


def render_raw(messages: list[dict[str, str]]) -> str:
    return "\n\n".join(f"<|{m['role']}|>\n{m['content']}" for m in messages)
