"""Follow-ups see the earlier turns: rebuilt from the history, trimmed oldest first to the model's
context (and said so), recorded as the next turn; project sources go before the request."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from latentstudio.codegen import CodeRequest, HistoryStore, submit_code
from latentstudio.codegen.conversation import fit_conversation, turns_of, with_sources
from latentstudio.engine import Engine
from latentstudio.models import ModelRegistry
from latentstudio.paths import Paths


@pytest.fixture
def registry(paths: Paths, tiny_models: Callable[[str], Path]) -> ModelRegistry:
    registry = ModelRegistry(paths.models)
    registry.import_path(tiny_models("llm-tiny"), kind="llm", model_id="tiny-llm", link=True)
    return registry


def test_a_follow_up_reads_the_earlier_turn_and_is_its_next_turn(
    engine: Engine, registry: ModelRegistry, paths: Paths
) -> None:
    history = HistoryStore(paths.code_history_db)
    first = submit_code(engine, registry, CodeRequest("add two numbers", temperature=0, max_new_tokens=32),
                        history).result(120)
    alone = submit_code(engine, registry, CodeRequest("now add tests", temperature=0, max_new_tokens=8)).result(120)
    earlier = turns_of(history.conversation(first.conversation_id))
    assert len(earlier) == 1 and "add two numbers" in earlier[0][0] and earlier[0][1] == first.text
    follow = submit_code(engine, registry, CodeRequest(
        "now add tests", temperature=0, max_new_tokens=8, earlier=earlier, conversation_id=first.conversation_id,
    ), history).result(120)
    assert (first.turn, follow.turn) == (1, 2) and follow.conversation_id == first.conversation_id
    assert follow.dropped_turns == 0
    assert follow.prompt_tokens > alone.prompt_tokens + first.n_tokens - 2  # the earlier answer was read
    assert [t.prompt for t in history.conversation(first.conversation_id)] == ["add two numbers", "now add tests"]


def test_a_conversation_longer_than_the_context_drops_its_oldest_turns(
    engine: Engine, registry: ModelRegistry, paths: Paths
) -> None:
    long_answer = "def f():\n    return 1\n" * 60  # about 300 tokens a turn; the tiny model reads 512
    earlier = tuple((f"turn {k}", long_answer) for k in range(4))
    result = submit_code(engine, registry, CodeRequest(
        "and one more", temperature=0, max_new_tokens=16, earlier=earlier), HistoryStore(paths.code_history_db),
    ).result(120)
    assert 1 <= result.dropped_turns <= 4 and result.prompt_tokens + 16 <= 512
    [entry] = HistoryStore(paths.code_history_db).list()
    assert entry.settings["dropped_turns"] == result.dropped_turns


def test_fit_keeps_the_newest_turns_and_never_cuts_the_request() -> None:
    def count(messages):  # one token per character
        return sum(len(m["content"]) for m in messages)

    earlier = [("a" * 10, "b" * 10), ("c" * 10, "d" * 10), ("e" * 10, "f" * 10)]
    messages, dropped = fit_conversation("s", earlier, "q" * 5, count, limit=60, max_new_tokens=10)
    assert dropped == 1 and [m["content"][0] for m in messages] == ["s", "c", "d", "e", "f", "q"]
    messages, dropped = fit_conversation("s", earlier, "q" * 500, count, limit=60, max_new_tokens=10)
    assert dropped == 3 and messages[-1]["content"] == "q" * 500  # too long alone: the caller says so
    assert fit_conversation("s", earlier, "q", count, limit=None, max_new_tokens=10)[1] == 0


def test_sources_come_before_the_request_with_their_place() -> None:
    text = with_sources("add tests for parse", [
        {"path": "pkg/io.py", "start_line": 3, "end_line": 9, "symbol": "parse", "text": "def parse(): ...",
         "language": "python"},
    ])
    assert text.startswith("Code from my project")
    assert "pkg/io.py:3-9 (parse)" in text and "```python\ndef parse(): ...\n```" in text
    assert text.endswith("add tests for parse")
    assert with_sources("plain", []) == "plain"
