"""The project code given with a request is filled to what the code model's context leaves: its
context length (config or tokenizer, the smaller), less the request, the answer's reserve and the
earlier turns kept, each counted with the model's own tokenizer."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import pytest

from latentstudio.codegen import CodeRequest, submit_code
from latentstudio.codegen.conversation import answer_reserve, fill_sources, source_block, source_budget
from latentstudio.codegen.loader import LanguageModel
from latentstudio.engine import Engine
from latentstudio.models import ModelRegistry
from latentstudio.paths import Paths


@pytest.fixture
def registry(paths: Paths, tiny_models: Callable[[str], Path]) -> ModelRegistry:
    registry = ModelRegistry(paths.models)
    registry.import_path(tiny_models("llm-tiny"), kind="llm", model_id="tiny-llm", link=True)
    return registry


def _source(k: int, lines: int = 1) -> dict:
    body = "".join(f"    total = total + item_{j}\n" for j in range(lines))
    return {"path": f"pkg/mod{k}.py", "start_line": 1, "end_line": lines + 2, "symbol": f"step_{k}",
            "score": 0.5, "matched": "words", "text": f"def step_{k}(total):\n{body}    return total\n",
            "language": "python"}


def test_the_budget_is_the_context_less_request_answer_and_turns() -> None:
    assert answer_reserve(4096, 512) == 512 and answer_reserve(1024, 4000) == 512  # at most half
    assert source_budget(4096, 512, request_tokens=100, turns_tokens=0) == 4096 - 512 - 100
    assert source_budget(4096, 512, request_tokens=100, turns_tokens=1000) == 4096 - 512 - 100 - 1000
    # long turns give way down to half of the room (their oldest are then summarised)
    assert source_budget(4096, 512, request_tokens=100, turns_tokens=3400) == (4096 - 612) // 2
    assert source_budget(512, 512, request_tokens=600, turns_tokens=0) == 0


def test_sources_are_filled_in_order_passing_over_one_too_big() -> None:
    sources = [_source(0), _source(1, lines=40), _source(2), _source(3)]
    size = len(source_block(sources[0]) + "\n\n")
    header = len("Code from my project that may be relevant:\n\n")
    chosen = fill_sources(sources, header + 2 * size + 5, len)
    assert [s["symbol"] for s in chosen] == ["step_0", "step_2"]
    assert [s["symbol"] for s in fill_sources(sources, 10**6, len, most=2)] == ["step_0", "step_1"]
    assert fill_sources(sources, header, len) == ()


def test_context_length_is_the_smaller_of_config_and_tokenizer() -> None:
    def lm(config: dict, tokenizer_length) -> LanguageModel:
        return LanguageModel(SimpleNamespace(config=SimpleNamespace(**config)),
                             SimpleNamespace(model_max_length=tokenizer_length), "m")

    assert lm({"max_position_embeddings": 32768}, 16384).context_length == 16384
    assert lm({"max_position_embeddings": 4096}, int(1e30)).context_length == 4096  # no-limit sentinel
    assert lm({"n_positions": 1024}, None).context_length == 1024  # GPT-2 style config
    assert lm({}, int(1e30)).context_length is None


def test_a_request_gets_the_sources_its_context_has_room_for(engine: Engine, registry: ModelRegistry) -> None:
    sources = tuple(_source(k) for k in range(8))

    def ask(max_new_tokens: int, earlier=()) -> object:
        return submit_code(engine, registry, CodeRequest(
            "write tests for step", temperature=0, max_new_tokens=max_new_tokens, sources=sources,
            earlier=earlier)).result(120)

    roomy = ask(8)
    tight = ask(200)
    assert len(sources) > len(roomy.sources) > len(tight.sources) >= 1
    for result, wanted in ((roomy, 8), (tight, 200)):
        given = [s["symbol"] for s in result.sources]
        assert given == [s["symbol"] for s in sources[:len(given)]]  # best first, none skipped here
        assert result.prompt_tokens + answer_reserve(512, wanted) <= 512
        assert "text" not in result.sources[0]  # the result keeps where, not the code
    long_turn = ("earlier request", "```python\n" + "def f():\n    return 1\n" * 40 + "```")
    with_turns = ask(8, earlier=(long_turn,))
    assert 1 <= len(with_turns.sources) < len(roomy.sources)
    assert with_turns.prompt_tokens + 8 <= 512
