"""Follow-ups see the earlier turns: rebuilt from the history, the oldest summarised (then left out)
when the model's context is full, and said so; recorded as the next turn; project sources go
before the request."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from latentstudio.codegen import CodeRequest, HistoryStore, submit_code
from latentstudio.codegen.cli import _footer
from latentstudio.codegen.conversation import (SUMMARY_HEADER, fit_conversation, summarise_turn, turns_note,
                                               turns_of, with_sources)
from latentstudio.codegen.history import HistoryEntry
from latentstudio.codegen.languages import get_language
from latentstudio.codegen.syntax import SyntaxReport
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


def test_a_conversation_longer_than_the_context_summarises_its_oldest_turns(
    engine: Engine, registry: ModelRegistry, paths: Paths
) -> None:
    long_answer = "```python\n" + "def f():\n    return 1\n" * 60 + "```"  # ~300 tokens; the tiny model reads 512
    earlier = tuple((f"turn {k}", long_answer, f"asked: turn {k}; the answer defined f") for k in range(4))
    result = submit_code(engine, registry, CodeRequest(
        "and one more", temperature=0, max_new_tokens=16, earlier=earlier), HistoryStore(paths.code_history_db),
    ).result(120)
    assert 3 <= result.dropped_turns <= 4 and result.summarised_turns == result.dropped_turns
    assert result.prompt_tokens + 16 <= 512
    [entry] = HistoryStore(paths.code_history_db).list()
    assert entry.settings["dropped_turns"] == result.dropped_turns
    assert entry.settings["summarised_turns"] == result.summarised_turns
    footer = _footer(result)
    assert f"the {result.dropped_turns} oldest turns were summarised to fit the model's context" in footer


def _chars(messages) -> int:  # one token per character
    return sum(len(m["content"]) for m in messages)


def test_fit_keeps_the_newest_turns_and_never_cuts_the_request() -> None:
    earlier = [("a" * 100, "b" * 100, "A"), ("c" * 100, "d" * 100, "C"), ("e" * 100, "f" * 100, "E")]
    room = len("s\n\n" + SUMMARY_HEADER + "\n- A") + 400 + 5  # the summary, two turns, the request
    fitted = fit_conversation("s", earlier, "q" * 5, _chars, limit=room + 10, max_new_tokens=10)
    assert (fitted.dropped, fitted.summarised) == (1, 1)
    assert fitted.messages[0]["content"] == "s\n\n" + SUMMARY_HEADER + "\n- A"
    assert [m["content"][0] for m in fitted.messages[1:]] == ["c", "d", "e", "f", "q"]
    fitted = fit_conversation("s", earlier, "q" * 500, _chars, limit=60, max_new_tokens=10)
    assert (fitted.dropped, fitted.summarised) == (3, 0)  # even the summary does not fit: left out
    assert fitted.messages[-1]["content"] == "q" * 500 and fitted.messages[0]["content"] == "s"
    assert fit_conversation("s", earlier, "q", _chars, limit=None, max_new_tokens=10).dropped == 0


def test_the_summary_loses_its_oldest_lines_first_when_it_is_too_long() -> None:
    earlier = [("a" * 50, "b" * 50, "X" * 30), ("c" * 50, "d" * 50, "Y" * 30)]
    limit = len("s\n\n" + SUMMARY_HEADER + "\n- " + "Y" * 30) + 5 + 10
    fitted = fit_conversation("s", earlier, "q" * 5, _chars, limit=limit, max_new_tokens=10)
    assert (fitted.dropped, fitted.summarised) == (2, 1)
    assert fitted.messages[0]["content"].endswith("- " + "Y" * 30) and "X" not in fitted.messages[0]["content"]


def test_a_turn_is_summarised_by_its_request_and_the_names_its_code_defined() -> None:
    python = get_language("python")
    answer = ("Here it is:\n```python\nimport json\n\ndef parse_config(path):\n    return json.load(open(path))\n\n"
              "class Loader:\n    def load(self):\n        pass\n```\nCall it with a path.")
    line = summarise_turn("write a function that\nparses the config " + "really " * 30, answer, python)
    assert line.startswith("asked: write a function that parses the config really")
    assert "\n" not in line and line.endswith("; the answer defined parse_config, Loader")
    assert len(line) < 160
    assert summarise_turn("explain it", "It reads a file.", python) == "asked: explain it"
    rust = summarise_turn("a point", "```rust\nstruct Point { x: i32 }\nfn main() {}\n```", get_language("rust"))
    assert rust.endswith("defined Point, main")
    entry = HistoryEntry(model_id="m", language="python", prompt="parse the config", output=answer, code="",
                         syntax=SyntaxReport("python", checked=False, message=""))
    [turn] = turns_of([entry])
    assert "parse the config" in turn[0] and turn[1] == answer
    assert turn[2] == "asked: parse the config; the answer defined parse_config, Loader"


def test_the_user_is_told_what_became_of_the_oldest_turns() -> None:
    assert turns_note(1, 1) == "the oldest turn was summarised to fit the model's context"
    assert turns_note(3, 3) == "the 3 oldest turns were summarised to fit the model's context"
    assert turns_note(2, 0) == "the 2 oldest turns did not fit the model's context and were left out"
    assert turns_note(3, 1) == "the 3 oldest turns did not fit the model's context: 1 summarised, 2 left out"


def test_sources_come_before_the_request_with_their_place() -> None:
    text = with_sources("add tests for parse", [
        {"path": "pkg/io.py", "start_line": 3, "end_line": 9, "symbol": "parse", "text": "def parse(): ...",
         "language": "python"},
    ])
    assert text.startswith("Code from my project")
    assert "pkg/io.py:3-9 (parse)" in text and "```python\ndef parse(): ...\n```" in text
    assert text.endswith("add tests for parse")
    assert with_sources("plain", []) == "plain"
