"""Generation jobs on the engine with the tiny trained LLM: streaming, seeds, Stop, timings, history."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable

import pytest

from latentstudio.codegen import CodeRequest, HistoryStore, StreamPiece, submit_code
from latentstudio.engine import Engine, EventKind, JobEvent, JobState, Priority
from latentstudio.models import MissingModelError, ModelRegistry
from latentstudio.paths import Paths
from tests.support.tiny_llm import REPLY, REPLY_CODE


@pytest.fixture
def registry(paths: Paths, tiny_models: Callable[[str], Path]) -> ModelRegistry:
    registry = ModelRegistry(paths.models)
    registry.import_path(tiny_models("llm-tiny"), kind="llm", model_id="tiny-llm", link=True)
    return registry


def _collect(pieces: list[StreamPiece]) -> Callable[[JobEvent], None]:
    def on_event(event: JobEvent) -> None:
        if event.kind is EventKind.PARTIAL:
            pieces.append(event.payload)

    return on_event


def test_streamed_pieces_join_to_the_final_text(engine: Engine, registry: ModelRegistry, paths: Paths) -> None:
    pieces: list[StreamPiece] = []
    request = CodeRequest("Write a function that adds two numbers", temperature=0, max_new_tokens=64)
    result = submit_code(engine, registry, request, on_event=_collect(pieces)).result(120)

    assert len(pieces) > 5  # token by token, not one block at the end
    assert "".join(p.text for p in pieces) == result.text
    assert [p.n_tokens for p in pieces] == sorted(p.n_tokens for p in pieces)
    assert result.text == REPLY  # the tiny model learnt this reply, so greedy gives it
    assert result.code == REPLY_CODE
    assert result.syntax.checked and result.syntax.ok
    assert not result.stopped
    assert result.n_tokens == pieces[-1].n_tokens + 1  # the end-of-turn token adds no text
    assert result.ttft_ms is not None and 0 < result.ttft_ms < result.total_ms
    assert result.tokens_per_s is not None and result.tokens_per_s > 0
    assert result.device == "cpu" and result.model_id == "tiny-llm"


def test_same_seed_and_settings_give_the_same_text(engine: Engine, registry: ModelRegistry) -> None:
    def sample(seed: int) -> str:
        request = CodeRequest("add", temperature=3.0, top_p=1.0, seed=seed, max_new_tokens=32)
        result = submit_code(engine, registry, request).result(120)
        assert result.seed == seed
        return result.text

    first = sample(7)
    assert sample(7) == first
    assert sample(8) != first  # the seed does drive the sampling


def test_stop_ends_within_one_token_keeps_the_output_and_frees_the_engine(
    engine: Engine, registry: ModelRegistry, paths: Paths
) -> None:
    history = HistoryStore(paths.code_history_db)
    seen: list[int] = []

    def on_event(event: JobEvent) -> None:
        if event.kind is EventKind.PARTIAL:
            seen.append(event.payload.n_tokens)
            if event.payload.n_tokens >= 4 and not event.handle.cancel_requested:
                seen.append(-1)
                event.handle.cancel()

    request = CodeRequest("add two numbers", temperature=0, max_new_tokens=64)
    handle = submit_code(engine, registry, request, history, on_event=on_event)
    result = handle.result(120)

    cancelled_at = seen[seen.index(-1) - 1]
    assert result.stopped
    assert handle.state is JobState.FINISHED  # Stop keeps the partial answer as the result
    assert cancelled_at <= result.n_tokens <= cancelled_at + 1
    assert REPLY.startswith(result.text) and len(result.text) < len(REPLY)
    stored = history.get(result.history_id)
    assert stored.stopped and stored.output == result.text

    follow_up = submit_code(engine, registry, CodeRequest("again", temperature=0, max_new_tokens=64))
    assert follow_up.result(120).text == REPLY


def test_stop_from_another_thread(engine: Engine, registry: ModelRegistry) -> None:
    first_piece = threading.Event()
    handle = submit_code(
        engine,
        registry,
        CodeRequest("add", temperature=0, max_new_tokens=64),
        on_event=lambda e: first_piece.set() if e.kind is EventKind.PARTIAL else None,
    )
    assert first_piece.wait(120)
    handle.cancel()
    result = handle.result(60)
    assert result.stopped and REPLY.startswith(result.text)


def test_generation_is_recorded_in_history(engine: Engine, registry: ModelRegistry, paths: Paths) -> None:
    history = HistoryStore(paths.code_history_db)
    request = CodeRequest("Sum two numbers please", temperature=0, max_new_tokens=64, seed=11)
    result = submit_code(engine, registry, request, history).result(120)
    [entry] = HistoryStore(paths.code_history_db).search("sum numbers")
    assert entry.id == result.history_id
    assert entry.output == REPLY and entry.code == REPLY_CODE and entry.model_id == "tiny-llm"
    assert entry.settings["seed"] == 11 and entry.settings["max_new_tokens"] == 64
    assert entry.n_tokens == result.n_tokens and entry.tokens_per_s == result.tokens_per_s


def test_context_that_does_not_fit_is_a_clear_error(engine: Engine, registry: ModelRegistry) -> None:
    request = CodeRequest("explain", context="x = 1\n" * 400, max_new_tokens=8)
    handle = submit_code(engine, registry, request)
    with pytest.raises(ValueError, match="shorten the context"):
        handle.result(120)


def test_missing_model_and_bad_settings_fail_before_queueing(engine: Engine, paths: Paths) -> None:
    empty = ModelRegistry(paths.models)
    with pytest.raises(MissingModelError):
        submit_code(engine, empty, CodeRequest("x"))
    for bad in (
        CodeRequest(" "),
        CodeRequest("x", language="klingon"),
        CodeRequest("x", max_new_tokens=0),
        CodeRequest("x", temperature=-1),
        CodeRequest("x", top_p=0),
        CodeRequest("x", seed=-3),
    ):
        with pytest.raises(ValueError):
            submit_code(engine, empty, bad)
    assert engine.queued() == []


@pytest.mark.parametrize(
    "text",
    [
        "naïve café ☕ — 😀 multi-byte characters split over byte tokens " * 3,
        "def add(a, b):\n    return a + b\n" * 6,
    ],
)
def test_streamer_pieces_join_to_the_full_decode(tiny_models: Callable[[str], Path], text: str) -> None:
    import torch
    from transformers import AutoTokenizer

    from latentstudio.codegen.streaming import TokenStreamer

    tokenizer = AutoTokenizer.from_pretrained(tiny_models("llm-tiny"), local_files_only=True)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    pieces: list[str] = []
    streamer = TokenStreamer(tokenizer, pieces.append)
    streamer.put(torch.tensor([[1, 2, 3]]))  # the prompt comes first and is not streamed
    for token in ids:
        streamer.put(torch.tensor([token]))
    streamer.end()
    assert "".join(pieces) == tokenizer.decode(ids, skip_special_tokens=True) == text
    assert all("\ufffd" not in piece for piece in pieces)
    assert streamer.n_tokens == len(ids) > 40


def test_out_of_memory_while_reading_the_prompt_evicts_and_retries(
    engine: Engine, registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from latentstudio.codegen import loader

    failures = iter([RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")])
    original = loader.load_language_model

    def load_with_flaky_generate(*args, **kwargs):
        lm = original(*args, **kwargs)
        generate = lm.model.generate

        def flaky(*a, **k):
            failure = next(failures, None)
            if failure is not None:
                raise failure
            return generate(*a, **k)

        lm.model.generate = flaky
        return lm

    monkeypatch.setattr("latentstudio.codegen.generation.load_language_model", load_with_flaky_generate)
    result = submit_code(engine, registry, CodeRequest("add", temperature=0, max_new_tokens=64)).result(120)
    assert result.text == REPLY


def test_a_more_urgent_job_runs_between_tokens_and_is_not_counted_as_generation_time(
    engine: Engine, registry: ModelRegistry
) -> None:
    order: list[str] = []

    def search_like_job(job) -> str:
        time.sleep(0.3)
        order.append("interactive done")
        return "answer"

    urgent: list = []

    def on_event(event: JobEvent) -> None:
        if event.kind is EventKind.PARTIAL and not urgent:
            urgent.append(engine.submit(search_like_job, Priority.INTERACTIVE, name="search"))
        elif event.kind is EventKind.FINISHED:
            order.append("generation done")

    request = CodeRequest("add", temperature=0, max_new_tokens=64)
    result = submit_code(engine, registry, request, on_event=on_event).result(120)
    assert urgent[0].result(10) == "answer"
    assert order == ["interactive done", "generation done"]  # it ran in place, mid-generation
    assert result.text == REPLY and not result.stopped
    decode_s = (result.n_tokens - 1) / result.tokens_per_s
    assert result.total_ms / 1000 - decode_s >= 0.3  # the lent time is left out of tokens/s
