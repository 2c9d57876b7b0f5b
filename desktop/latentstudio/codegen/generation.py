"""Code generation as an engine job: prompt → streamed tokens → code, syntax status, timings.

The job runs on the engine thread. Tokens leave it as PARTIAL job events (`StreamPiece`)
as they are produced; Stop (the job's cancel) ends generation after the current token and
the job still returns what was produced, marked `stopped`, and records it in the history.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import time
from dataclasses import asdict, dataclass, replace
from typing import Any, Optional

from ..engine import Cancelled, JobContext, ModelMemoryError
from ..models import InstalledModel
from .extract import extract_code, extract_code_blocks
from .history import HistoryEntry, HistoryStore
from .languages import DEFAULT_LANGUAGE, Language, find_language, get_language
from .loader import LanguageModel, cache_key, load_language_model
from .conversation import (Fitted, conversation_messages, fill_sources, fit_conversation, source_budget,
                           with_sources)
from .prompts import build_messages, render_prompt
from .syntax import SyntaxReport, check_syntax
from .tasks import WRITE, CodeTask, get_task

log = logging.getLogger(__name__)

MAX_NEW_TOKENS_LIMIT = 32768
MAX_SEED = 2**31 - 1  # fits the GUI spin box, so every seed can be typed back in
PROGRESS_INTERVAL_S = 0.1


@dataclass(frozen=True)
class CodeRequest:
    prompt: str
    language: str = DEFAULT_LANGUAGE
    context: Optional[str] = None
    context_name: Optional[str] = None  # file name of the context, shown to the model
    max_new_tokens: int = 512
    temperature: float = 0.2  # 0 means greedy
    top_p: float = 0.95
    seed: Optional[int] = None  # None: a random seed, reported with the result
    model_id: Optional[str] = None  # None: the default code-generation model
    task: str = WRITE  # see resources/code-tasks.json
    target_language: Optional[str] = None  # translate: the language to translate to
    traceback: Optional[str] = None  # fix: the error the code gives
    # A follow-up: the earlier turns (user message, answer[, one-line summary]) of its conversation,
    # oldest first (conversation.turns_of).
    earlier: tuple[tuple[str, ...], ...] = ()
    conversation_id: Optional[int] = None  # None: a new conversation
    replaces: Optional[int] = None  # regenerate / edit and resend: the history id of the turn replaced
    # Project code retrieved for the request: dicts with path, start_line, end_line, symbol, score,
    # matched and text (the text goes to the model; the history keeps the rest).
    sources: tuple[dict[str, Any], ...] = ()

    def validate(self) -> None:
        """ValueError with a message for the user when a setting is out of range."""
        task = get_task(self.task)
        language = get_language(self.language)
        if task.name == WRITE and not self.prompt.strip():
            raise ValueError("the prompt is empty")
        if "context" in task.needs and not (self.context and self.context.strip()):
            raise ValueError(f"“{task.label}” needs the code: give a context file")
        if "target" in task.needs:
            if not self.target_language:
                raise ValueError(f"“{task.label}” needs a target language (--to)")
            if get_language(self.target_language) == language:
                raise ValueError(f"the code is already {language.label}; choose another target language")
        if "traceback" in task.needs and not (self.traceback and self.traceback.strip()) and not self.prompt.strip():
            raise ValueError(f"“{task.label}” needs the error: paste its traceback (or describe it)")
        if not 1 <= self.max_new_tokens <= MAX_NEW_TOKENS_LIMIT:
            raise ValueError(f"max new tokens must be between 1 and {MAX_NEW_TOKENS_LIMIT}")
        if not 0.0 <= self.temperature <= 5.0:
            raise ValueError("temperature must be between 0 and 5")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError("top-p must be above 0 and at most 1")
        if self.seed is not None and not 0 <= self.seed <= MAX_SEED:
            raise ValueError(f"the seed must be between 0 and {MAX_SEED}")


@dataclass(frozen=True)
class StreamPiece:
    """Payload of a PARTIAL event: the text one token added, and the tokens generated so far."""

    text: str
    n_tokens: int


@dataclass(frozen=True)
class GenerationResult:
    text: str
    code: str
    syntax: SyntaxReport
    language: str
    model_id: str
    seed: int
    n_tokens: int
    prompt_tokens: int
    ttft_ms: Optional[float]  # request start (model loaded) to the first token
    tokens_per_s: Optional[float]  # decoding speed after the first token
    total_ms: float
    load_ms: float  # 0 when the model was already resident
    stopped: bool
    device: str
    history_id: Optional[int] = None
    task: str = WRITE
    dropped_turns: int = 0  # earlier turns not given whole: the conversation was longer than the model reads
    summarised_turns: int = 0  # of those, the ones given as a line of a summary (the rest left out)
    conversation_id: Optional[int] = None
    turn: int = 0
    sources: tuple[dict[str, Any], ...] = ()  # what the model was given, without the code text

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["syntax"] = self.syntax.to_json()
        return data


def answer_code(text: str, task: CodeTask, language: Language) -> tuple[str, SyntaxReport]:
    """(code, syntax) of an answer. Prose answers are not checked; code answers are checked on
    their blocks in the answer's language (a bare answer without fences counts as code)."""
    if not task.answers_code:
        return "", SyntaxReport(language.name, checked=False, message="prose answer")
    code = extract_code(text, language)
    blocks = extract_code_blocks(text)
    if not blocks:
        return code, check_syntax(code, language.name)
    own = [b.code for b in blocks if not b.tag or find_language(b.tag) == language]
    if not own:
        return code, SyntaxReport(language.name, checked=False, message=f"no {language.label} code block")
    return code, check_syntax("\n".join(own), language.name)


def run_generation(
    job: JobContext,
    request: CodeRequest,
    installed: InstalledModel,
    history: Optional[HistoryStore] = None,
) -> GenerationResult:
    job.progress(0, None, f"Loading {installed.id}…")
    load_start = time.perf_counter()
    with job.models.use(
        cache_key(installed), lambda: load_language_model(installed.path, job.device, installed.id)
    ) as lm:
        load_ms = (time.perf_counter() - load_start) * 1000
        job.checkpoint()
        result = _generate(job, lm, request, installed.id, load_ms)
    if history is not None:
        result = _record(history, request, result)
    return result


@dataclass(frozen=True)
class ChatReply:
    """What one streamed chat turn produced, with its timings."""

    text: str
    seed: int
    n_tokens: int
    prompt_tokens: int
    ttft_ms: Optional[float]
    tokens_per_s: Optional[float]
    total_ms: float
    stopped: bool


def stream_chat(
    job: JobContext,
    lm: LanguageModel,
    messages: list[dict[str, str]],
    max_new_tokens: int,
    temperature: float,
    top_p: float,
    seed: Optional[int] = None,
    what: str = "generate code",
) -> ChatReply:
    """Generate one reply, each token a PARTIAL `StreamPiece` event; Stop ends it after the
    current token and the reply so far is returned, marked stopped."""
    import torch
    from transformers import StoppingCriteriaList

    from .streaming import CancelCriterion, TokenStreamer

    start = time.perf_counter()
    prompt = render_prompt(lm.tokenizer, messages)
    has_template = bool(getattr(lm.tokenizer, "chat_template", None))
    inputs = lm.tokenizer(prompt, return_tensors="pt", add_special_tokens=not has_template).to(lm.device)
    prompt_tokens = int(inputs["input_ids"].shape[1])
    max_new_tokens = _fit_new_tokens(lm, prompt_tokens, max_new_tokens)

    seed = seed if seed is not None else random.SystemRandom().randint(0, MAX_SEED)
    torch.manual_seed(seed)

    last_progress = [0.0]

    def emit(text: str) -> None:
        job.partial(StreamPiece(text, streamer.n_tokens))

    def after_token() -> None:
        now = time.perf_counter()
        if now - last_progress[0] >= PROGRESS_INTERVAL_S:
            last_progress[0] = now
            job.progress(streamer.n_tokens, max_new_tokens, "Generating…")
        job.checkpoint()  # Stop raises Cancelled here; more urgent jobs (a search) run here

    streamer = TokenStreamer(lm.tokenizer, emit, after_token)
    job.progress(0, max_new_tokens, "Reading the prompt…")
    stopped = False

    def generate() -> None:
        if streamer.n_tokens:  # out of memory after tokens were shown: no silent restart
            raise ModelMemoryError(
                f"Ran out of memory after {streamer.n_tokens} tokens. Lower the maximum of new tokens "
                "or shorten the context, or unload other models on the Models page."
            )
        with torch.inference_mode():
            lm.model.generate(
                **inputs,
                streamer=streamer,
                stopping_criteria=StoppingCriteriaList([CancelCriterion(job.cancel_event)]),
                max_new_tokens=max_new_tokens,
                pad_token_id=_pad_token_id(lm),
                **_sampling_kwargs(temperature, top_p),
            )

    try:
        # Out of memory while reading the prompt: unload other models and try once more.
        job.models.call_with_oom_retry(generate, what=what)
    except Cancelled:
        streamer.end()  # generate() was left mid-loop: flush any held-back text
        stopped = True
    stopped = stopped or job.cancel_event.is_set()
    end = time.perf_counter()
    return ChatReply(
        text=lm.tokenizer.decode(streamer.token_ids, skip_special_tokens=True),
        seed=seed,
        n_tokens=streamer.n_tokens,
        prompt_tokens=prompt_tokens,
        ttft_ms=None if streamer.first_token_at is None else (streamer.first_token_at - start) * 1000,
        tokens_per_s=streamer.decode_tokens_per_s,
        total_ms=(end - start) * 1000,
        stopped=stopped,
    )


def _generate(
    job: JobContext, lm: LanguageModel, request: CodeRequest, model_id: str, load_ms: float
) -> GenerationResult:
    language = get_language(request.language)
    task = get_task(request.task)
    target = get_language(request.target_language) if request.target_language else None
    answer = task.answer_language(language, target)
    system, user = (m["content"] for m in build_messages(
        request.prompt, language, request.context, request.context_name, task.name, target, request.traceback))
    fitted, sources = _fit(lm, request, system, user)
    reply = stream_chat(job, lm, fitted.messages, request.max_new_tokens, request.temperature, request.top_p, request.seed)
    code, syntax = answer_code(reply.text, task, answer)
    return GenerationResult(
        text=reply.text,
        code=code,
        syntax=syntax,
        language=answer.name,
        model_id=model_id,
        seed=reply.seed,
        n_tokens=reply.n_tokens,
        prompt_tokens=reply.prompt_tokens,
        ttft_ms=reply.ttft_ms,
        tokens_per_s=reply.tokens_per_s,
        total_ms=reply.total_ms,
        load_ms=load_ms,
        stopped=reply.stopped,
        device=job.device.kind,
        task=task.name,
        dropped_turns=fitted.dropped,
        summarised_turns=fitted.summarised,
        conversation_id=request.conversation_id,
        sources=tuple(_source_record(s) for s in sources),
    )


def _fit(lm: LanguageModel, request: CodeRequest, system: str, user: str) -> tuple[Fitted, tuple[dict[str, Any], ...]]:
    """(the fitted conversation, the sources given): the sources are filled, in their order, to what
    the model's context leaves after the request, the answer's reserve and the earlier turns (which
    give way down to half of that room), each counted with the model's own tokenizer."""
    limit = lm.context_length
    sources = tuple(request.sources)

    def count(messages: list[dict[str, str]]) -> int:
        return _count_tokens(lm, messages)

    if sources and limit is not None:
        alone = count(conversation_messages(system, (), user))
        turns = count(conversation_messages(system, request.earlier, user)) - alone
        budget = source_budget(limit, request.max_new_tokens, alone, turns)
        sources = fill_sources(sources, budget, lambda text: _count_text(lm, text))
    fitted = fit_conversation(system, request.earlier, with_sources(user, sources), count, limit,
                              request.max_new_tokens)
    return fitted, sources


def _source_record(source: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in source.items() if key != "text"}


def _count_text(lm: LanguageModel, text: str) -> int:
    return len(lm.tokenizer(text, add_special_tokens=False)["input_ids"])


def _count_tokens(lm: LanguageModel, messages: list[dict[str, str]]) -> int:
    has_template = bool(getattr(lm.tokenizer, "chat_template", None))
    prompt = render_prompt(lm.tokenizer, messages)
    return len(lm.tokenizer(prompt, add_special_tokens=not has_template)["input_ids"])


def _fit_new_tokens(lm: LanguageModel, prompt_tokens: int, wanted: int) -> int:
    limit = lm.context_length
    if limit is None:
        return wanted
    if prompt_tokens >= limit:
        raise ValueError(
            f"the prompt and context take {prompt_tokens} tokens but {lm.model_id} reads at most "
            f"{limit}; shorten the context"
        )
    return min(wanted, limit - prompt_tokens)


def _pad_token_id(lm: LanguageModel) -> Optional[int]:
    tokenizer = lm.tokenizer
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


def _sampling_kwargs(temperature: float, top_p: float) -> dict[str, Any]:
    if temperature <= 0.0:
        # Unset sampling values a model's generation_config may carry, so greedy is plain greedy.
        return {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
    return {"do_sample": True, "temperature": temperature, "top_p": top_p}


def _record(history: HistoryStore, request: CodeRequest, result: GenerationResult) -> GenerationResult:
    """Keep the generation in the history; a history failure is logged, the result is kept."""
    settings = {
        "max_new_tokens": request.max_new_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "seed": result.seed,
        "context_name": request.context_name,
        "source_language": get_language(request.language).name,
        "traceback": request.traceback,
        "dropped_turns": result.dropped_turns,
        "summarised_turns": result.summarised_turns,
    }
    entry = HistoryEntry(
        model_id=result.model_id,
        language=result.language,
        prompt=request.prompt,
        output=result.text,
        code=result.code,
        syntax=result.syntax,
        settings=settings,
        context=request.context,
        n_tokens=result.n_tokens,
        ttft_ms=result.ttft_ms,
        tokens_per_s=result.tokens_per_s,
        total_ms=result.total_ms,
        stopped=result.stopped,
        task=result.task,
        conversation_id=request.conversation_id,
        sources=result.sources,
    )
    try:
        stored = history.add(entry, replaces=request.replaces)
    except (sqlite3.Error, OSError):
        log.exception("could not record the generation in the code history")
        return result
    return replace(result, history_id=stored.id, conversation_id=stored.conversation_id, turn=stored.turn)

