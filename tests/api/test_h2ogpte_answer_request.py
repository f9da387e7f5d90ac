"""The h2oGPTe completion arguments become one typed answer request; malformed ones are a 4xx naming
the field (before anything is stored), never a 5xx."""

from __future__ import annotations

import pytest

from lockgate.api.h2ogpte.answer_request import answer_request
from lockgate.conversations.schemas import RagType, TagFilter
from lockgate.errors import InvalidRequest


def _request(**changes):
    args = {
        "llm": None,
        "llm_args": None,
        "system_prompt": None,
        "pre_prompt_query": None,
        "prompt_query": None,
        "rag_config": None,
        "self_reflection_config": None,
        "include_chat_history": None,
        "tags": None,
    }
    return answer_request("What is green tea?", **{**args, **changes})


def test_defaults_and_typed_fields() -> None:
    request = _request()
    assert request.llm is None and request.retrieval.rag_type is RagType.AUTO
    assert request.retrieval.max_chunks == 4 and request.retrieval.min_score is None
    assert request.include_history and request.tags is None and request.reflection is None

    request = _request(
        llm="auto",
        rag_config={
            "rag_type": "hyde2",
            "rag_max_chunks": "6",
            "rag_min_chunk_score": 0.25,
            "meta_data_to_include": {"name": True, "page": False},
        },
        include_chat_history="off",
        tags=TagFilter(("a",), ("b",)),
        metadata_filter={"kind": ["memo", "note"]},
        self_reflection_config={"llm_reflection": "judge", "llm_args_reflection": {}},
    )
    assert request.llm is None  # "auto" is the default model
    assert request.retrieval.rag_type is RagType.HYDE2 and request.retrieval.max_chunks == 6
    assert request.retrieval.min_score == 0.25 and request.retrieval.include_name
    assert not request.retrieval.include_page and not request.include_history
    assert request.tags == TagFilter(("a",), ("b",)) and request.metadata_filter == {"kind": ["memo", "note"]}
    assert request.reflection is not None and request.reflection.llm == "judge"
    assert request.reflection.llm_args is None  # empty: the answer's own llm_args


def test_rag_type_resolves_against_the_session() -> None:
    assert RagType.AUTO.resolved(has_collection=True) is RagType.RAG
    assert RagType.HYDE1.resolved(has_collection=False) is RagType.LLM_ONLY


@pytest.mark.parametrize(
    ("changes", "param"),
    [
        ({"rag_config": {"rag_type": "telepathy"}}, "rag_config.rag_type"),
        ({"rag_config": {"rag_max_chunks": "many"}}, "rag_config.rag_max_chunks"),
        ({"rag_config": {"rag_min_chunk_score": [1]}}, "rag_config.rag_min_chunk_score"),
        ({"rag_config": {"meta_data_to_include": "name"}}, "rag_config"),
    ],
)
def test_malformed_arguments_are_a_4xx_naming_the_field(changes, param) -> None:
    with pytest.raises(InvalidRequest) as refused:
        _request(**changes)
    assert 400 <= refused.value.status_code < 500 and refused.value.param == param
