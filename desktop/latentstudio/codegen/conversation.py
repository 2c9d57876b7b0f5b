"""A follow-up sees the earlier turns of its conversation: each turn's messages are rebuilt from the
history (the same template that made them), the project sources are put before the current request,
filled to what the model's context leaves them, and the oldest turns are summarised (the request in
one line, the names its code defined) when the whole would not fit."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any, Callable, Iterable, NamedTuple, Optional, Sequence

from ..projects.chunking import chunk_file
from .extract import extract_code
from .history import HistoryEntry
from .languages import Language, get_language
from .tasks import fenced, get_task, render_task

Message = dict[str, str]
# (the user's message as the model read it, the model's answer[, its one-line summary]); a pair
# without a summary is summarised from its own words.
Turn = tuple[str, ...]

# Share of the context a follow-up keeps for earlier turns at the least, so a long answer
# limit does not push every earlier turn out.
MIN_HISTORY_SHARE = 0.5
SUMMARY_REQUEST_CHARS = 100
SUMMARY_NAMES = 8
MAX_SOURCES = 8  # more snippets than this dilute an answer more than they ground it
SUMMARY_HEADER = "Earlier in this conversation (summarised: the full turns no longer fit):"


class Fitted(NamedTuple):
    messages: list[Message]
    dropped: int  # oldest turns no longer given in full
    summarised: int  # of those, how many the model still reads as a summary line


def one_line(text: str, most: int = SUMMARY_REQUEST_CHARS) -> str:
    line = " ".join(text.split())
    return line if len(line) <= most else line[: most - 1].rstrip() + "…"


def defined_names(code: str, language: Language) -> list[str]:
    """Functions, classes and types the code defines at its top level (languages with a grammar)."""
    names: list[str] = []
    for chunk in chunk_file(PurePath("answer" + language.suffix), code):
        name = chunk.symbol.split(".")[0]
        if name and name not in names:
            names.append(name)
    return names


def summarise_turn(request: str, answer: str, language: Language) -> str:
    """One line: what was asked, and what the answer's code defined."""
    line = f"asked: {one_line(request) or '(no words)'}"
    names = defined_names(extract_code(answer, language), language)
    if names:
        more = f" and {len(names) - SUMMARY_NAMES} more" if len(names) > SUMMARY_NAMES else ""
        line += f"; the answer defined {', '.join(names[:SUMMARY_NAMES])}{more}"
    return line


def summary_of(turn: Turn) -> str:
    if len(turn) > 2 and turn[2]:
        return turn[2]
    return f"asked: {one_line(turn[0])}"


def turns_of(entries: Iterable[HistoryEntry]) -> tuple[Turn, ...]:
    """The earlier turns as the model saw them, rebuilt from their history entries."""
    turns = []
    for entry in entries:
        source = entry.settings.get("source_language")
        language = get_language(source if isinstance(source, str) else entry.language)
        target = get_language(entry.language) if language.name != entry.language else None
        context_name = entry.settings.get("context_name")
        traceback = entry.settings.get("traceback")
        summary = summarise_turn(entry.prompt or entry.task, entry.output, get_language(entry.language))
        try:
            task = get_task(entry.task)
        except ValueError:  # a task a later release added: keep the words
            turns.append((entry.prompt, entry.output, summary))
            continue
        _, user = render_task(
            task, language, entry.prompt, entry.context,
            context_name if isinstance(context_name, str) else None, target,
            traceback if isinstance(traceback, str) else None,
        )
        turns.append((user, entry.output, summary))
    return tuple(turns)


SOURCES_HEADER = "Code from my project that may be relevant:"


def source_block(source: dict[str, Any]) -> str:
    """One source as the model reads it: its place, then its code fenced."""
    symbol = f" ({source['symbol']})" if source.get("symbol") else ""
    place = f"{source['path']}:{source['start_line']}-{source['end_line']}{symbol}"
    return place + "\n\n" + fenced(str(source.get("text", "")), str(source.get("language") or ""))


def with_sources(user: str, sources: Sequence[dict[str, Any]]) -> str:
    """The user's message after the project code retrieved for it (path:lines and the code)."""
    if not sources:
        return user
    return "\n\n".join([SOURCES_HEADER, *(source_block(s) for s in sources)]) + "\n\n" + user


def answer_reserve(limit: int, max_new_tokens: int) -> int:
    """Tokens kept for the answer: the asked maximum, but at most the share turns may not use."""
    return min(max_new_tokens, int(limit * (1 - MIN_HISTORY_SHARE)))


def source_budget(limit: int, max_new_tokens: int, request_tokens: int, turns_tokens: int) -> int:
    """Tokens the project sources may take: the context less the answer's reserve and the request
    (system prompt and template included), less the earlier turns, which give way down to half
    of that room (their oldest are then summarised)."""
    room = limit - answer_reserve(limit, max_new_tokens) - request_tokens
    return max(0, room - turns_tokens, room // 2)


def fill_sources(sources: Sequence[dict[str, Any]], budget: int, count: Callable[[str], int],
                 most: int = MAX_SOURCES) -> tuple[dict[str, Any], ...]:
    """At most `most` of the sources, in their order (pinned first, then by rank), that fit `budget`
    tokens as the model reads them; one that does not fit is passed over for smaller ones after it."""
    chosen: list[dict[str, Any]] = []
    used = count(SOURCES_HEADER + "\n\n")
    for source in sources:
        cost = count(source_block(source) + "\n\n")
        if used + cost <= budget:
            chosen.append(source)
            used += cost
            if len(chosen) >= most:
                break
    return tuple(chosen)


def conversation_messages(system: str, earlier: Sequence[Turn], user: str,
                          summaries: Sequence[str] = ()) -> list[Message]:
    if summaries:
        system += "\n\n" + "\n".join([SUMMARY_HEADER, *(f"- {line}" for line in summaries)])
    messages: list[Message] = [{"role": "system", "content": system}]
    for turn in earlier:
        messages.append({"role": "user", "content": turn[0]})
        messages.append({"role": "assistant", "content": turn[1]})
    messages.append({"role": "user", "content": user})
    return messages


def fit_conversation(
    system: str,
    earlier: Sequence[Turn],
    user: str,
    count_tokens: Callable[[list[Message]], int],
    limit: Optional[int],
    max_new_tokens: int,
) -> Fitted:
    """The messages, and how many of the oldest turns no longer fit whole, so that the prompt and the
    answer fit `limit` tokens. A turn that no longer fits becomes a line of a summary in the system
    message; when even the summary is too long, its oldest lines go. The current request is never
    cut (the caller says when it alone is too long)."""
    kept = list(earlier)
    if limit is None or not kept:
        return Fitted(conversation_messages(system, kept, user), 0, 0)
    room = limit - answer_reserve(limit, max_new_tokens)
    summaries: list[str] = []
    messages = conversation_messages(system, kept, user)
    while kept and count_tokens(messages) > room:
        summaries.append(summary_of(kept.pop(0)))
        messages = conversation_messages(system, kept, user, summaries)
    dropped = len(summaries)
    while summaries and count_tokens(messages) > room:
        summaries.pop(0)
        messages = conversation_messages(system, kept, user, summaries)
    return Fitted(messages, dropped, len(summaries))


def turns_note(dropped: int, summarised: int) -> str:
    """What the user is told when the oldest turns no longer fit the model's context."""
    turns = "the oldest turn" if dropped == 1 else f"the {dropped} oldest turns"
    if summarised == dropped:
        return f"{turns} {'was' if dropped == 1 else 'were'} summarised to fit the model's context"
    if summarised == 0:
        return f"{turns} did not fit the model's context and {'was' if dropped == 1 else 'were'} left out"
    return f"{turns} did not fit the model's context: {summarised} summarised, {dropped - summarised} left out"
