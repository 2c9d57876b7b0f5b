"""Translate and expand image prompts on the tiny LLM: streaming, Stop, style examples, model choice, CLI."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Callable

import pytest

from latentstudio.cli import main
from latentstudio.codegen import StreamPiece
from latentstudio.config import load_settings, save_settings
from latentstudio.context import AppContext
from latentstudio.engine import EventKind, JobEvent
from latentstudio.imagegen.prompt_help import (
    build_prompt_messages,
    clean_reply,
    get_prompt_task,
    prompt_model,
    style_examples,
    submit_prompt_help,
)
from latentstudio.library import add_generated_image
from latentstudio.models import MissingModelError
from tests.support import tiny_clip
from tests.support.tiny_llm import REPLY

TIMEOUT = 120


@pytest.fixture
def llm_ctx(ctx: AppContext, tiny_models: Callable[[str], Path]) -> AppContext:
    ctx.registry.import_path(tiny_models("llm-tiny"), kind="llm", model_id="tiny-llm", link=True)
    return ctx


def _scored_outputs(ctx: AppContext, tiny_models: Callable[[str], Path], prompts: dict[str, float]) -> None:
    """Generated images in the outputs folder with these prompts and CLIP scores."""
    ctx.registry.import_path(tiny_models("clip-shapes"), kind="clip", model_id="shapes", link=True)
    rng = random.Random(0)
    for index, (prompt, score) in enumerate(prompts.items()):
        path = ctx.paths.outputs / f"{index}.png"
        tiny_clip.shape_image("red", "circle", rng).save(path)
        job = add_generated_image(ctx, path, prompt, (score, "shapes"))
        if job is not None:
            job.result(TIMEOUT)


@pytest.mark.parametrize("task", ["translate", "expand"])
def test_the_fixed_answer_streams_into_the_prompt(task: str, llm_ctx: AppContext) -> None:
    pieces: list[StreamPiece] = []

    def on_event(event: JobEvent) -> None:
        if event.kind is EventKind.PARTIAL:
            pieces.append(event.payload)

    result = submit_prompt_help(llm_ctx, task, "un chat rouge sur un toit", on_event).result(TIMEOUT)
    # The tiny model learnt one reply for chats like its training ones; after chats unlike them it
    # still opens with that reply's first line, then may wander until the token limit.
    assert len(pieces) > 5 and "".join(p.text for p in pieces) == result.text
    assert result.text.splitlines()[0] == REPLY.splitlines()[0]
    assert result.prompt == clean_reply(REPLY) == "Here is the function:"
    assert result.task == task and result.model_id == "tiny-llm" and not result.stopped
    assert result.original == "un chat rouge sur un toit"


@pytest.mark.parametrize("task", ["translate", "expand"])
def test_stop_keeps_what_was_produced(task: str, llm_ctx: AppContext) -> None:
    def on_event(event: JobEvent) -> None:
        if event.kind is EventKind.PARTIAL and event.payload.n_tokens >= 3 and not event.handle.cancel_requested:
            event.handle.cancel()

    result = submit_prompt_help(llm_ctx, task, "a cat", on_event).result(TIMEOUT)
    assert result.stopped and REPLY.startswith(result.text) and 0 < len(result.text) < len(REPLY)


def test_expand_follows_the_best_scored_prompts(llm_ctx: AppContext, tiny_models: Callable[[str], Path]) -> None:
    _scored_outputs(llm_ctx, tiny_models, {"a red circle, oil painting": 0.31, "a cat": 0.12,
                                           "a lighthouse at dusk, film grain": 0.35, "a dog": 0.2})
    assert style_examples(llm_ctx.registry, llm_ctx.library, "a cat") == ["a lighthouse at dusk, film grain", "a red circle, oil painting",
                                                "a dog"]
    result = submit_prompt_help(llm_ctx, "expand", "a cat").result(TIMEOUT)
    assert result.examples == ("a lighthouse at dusk, film grain", "a red circle, oil painting", "a dog")
    user = build_prompt_messages(get_prompt_task("expand"), "a cat", list(result.examples))[1]["content"]
    assert "- a lighthouse at dusk, film grain\n- a red circle, oil painting" in user and user.endswith("a cat")
    assert submit_prompt_help(llm_ctx, "translate", "a cat").result(TIMEOUT).examples == ()


def test_the_model_recommended_for_prompts_is_preferred(llm_ctx: AppContext, tiny_models: Callable[[str], Path]) -> None:
    assert prompt_model(llm_ctx.registry).id == "tiny-llm"  # only a code model: it answers
    llm_ctx.registry.import_path(tiny_models("llm-tiny"), kind="llm", model_id="qwen2.5-0.5b-instruct", link=True)
    assert llm_ctx.registry.default("llm").id == "tiny-llm"  # the default stays the code model
    assert prompt_model(llm_ctx.registry).id == "qwen2.5-0.5b-instruct"
    assert submit_prompt_help(llm_ctx, "translate", "chat").result(TIMEOUT).model_id == "qwen2.5-0.5b-instruct"


def test_bad_requests_fail_before_queueing(ctx: AppContext, llm_ctx: AppContext) -> None:
    with pytest.raises(ValueError, match="prompt is empty"):
        submit_prompt_help(llm_ctx, "expand", "  ")
    with pytest.raises(ValueError, match="unknown prompt help"):
        submit_prompt_help(llm_ctx, "poem", "a cat")
    llm_ctx.registry.remove("tiny-llm")
    with pytest.raises(MissingModelError):
        submit_prompt_help(llm_ctx, "translate", "a cat")


def test_clean_reply() -> None:
    assert clean_reply('\n  Prompt: "a red fox in snow"\nmore') == "a red fox in snow"
    assert clean_reply("```\nEnglish prompt: a house\n```") == "a house"
    assert clean_reply("   \n") == ""


def test_prompt_help_cli(llm_ctx: AppContext, capsys: pytest.CaptureFixture[str], paths) -> None:
    llm_ctx.close()
    settings = load_settings(paths.settings_file)
    settings.update(device="cpu")
    save_settings(settings, paths.settings_file)
    assert main(["prompt-help", "translate", "un chat rouge"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "Here is the function:\n" and REPLY in captured.err
    assert main(["prompt-help", "expand", "a cat", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["task"] == "expand" and report["text"].startswith(REPLY.splitlines()[0])
    assert report["prompt"] == "Here is the function:"
    assert main(["prompt-help", "expand", " "]) == 1
    assert "prompt is empty" in capsys.readouterr().err
