"""A follow-up sees the earlier turns of its conversation: each turn's messages are rebuilt from the
history (the same template that made them), the project sources are put before the current request,
and the oldest turns are left out when the whole would not fit the model's context."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Optional, Sequence

from .history import HistoryEntry
from .languages import get_language
from .tasks import fenced, get_task, render_task

Message = dict[str, str]
Turn = tuple[str, str]  # (the user's message as the model read it, the model's answer)

# Share of the context a follow-up keeps for earlier turns at the least, so a long answer
# limit does not push every earlier turn out.
MIN_HISTORY_SHARE = 0.5


def turns_of(entries: Iterable[HistoryEntry]) -> tuple[Turn, ...]:
    """The earlier turns as the model saw them, rebuilt from their history entries."""
    turns = []
    for entry in entries:
        source = entry.settings.get("source_language")
        language = get_language(source if isinstance(source, str) else entry.language)
        target = get_language(entry.language) if language.name != entry.language else None
        context_name = entry.settings.get("context_name")
        traceback = entry.settings.get("traceback")
        try:
            task = get_task(entry.task)
        except ValueError:  # a task a later release added: keep the words
            turns.append((entry.prompt, entry.output))
            continue
        _, user = render_task(
            task, language, entry.prompt, entry.context,
            context_name if isinstance(context_name, str) else None, target,
            traceback if isinstance(traceback, str) else None,
        )
        turns.append((user, entry.output))
    return tuple(turns)


def with_sources(user: str, sources: Sequence[dict[str, Any]]) -> str:
    """The user's message after the project code retrieved for it (path:lines and the code)."""
    if not sources:
        return user
    parts = ["Code from my project that may be relevant:"]
    for source in sources:
        symbol = f" ({source['symbol']})" if source.get("symbol") else ""
        parts.append(f"{source['path']}:{source['start_line']}-{source['end_line']}{symbol}")
        parts.append(fenced(str(source.get("text", "")), str(source.get("language") or "")))
    return "\n\n".join(parts) + "\n\n" + user


def conversation_messages(system: str, earlier: Sequence[Turn], user: str) -> list[Message]:
    messages: list[Message] = [{"role": "system", "content": system}]
    for asked, answered in earlier:
        messages.append({"role": "user", "content": asked})
        messages.append({"role": "assistant", "content": answered})
    messages.append({"role": "user", "content": user})
    return messages


def fit_conversation(
    system: str,
    earlier: Sequence[Turn],
    user: str,
    count_tokens: Callable[[list[Message]], int],
    limit: Optional[int],
    max_new_tokens: int,
) -> tuple[list[Message], int]:
    """(messages, how many of the oldest turns were left out) so that the prompt and the answer
    fit `limit` tokens; the current request is never cut (the caller says when it alone is too long)."""
    earlier = list(earlier)
    messages = conversation_messages(system, earlier, user)
    if limit is None or not earlier:
        return messages, 0
    room = limit - min(max_new_tokens, int(limit * (1 - MIN_HISTORY_SHARE)))
    dropped = 0
    while earlier and count_tokens(messages) > room:
        earlier.pop(0)
        dropped += 1
        messages = conversation_messages(system, earlier, user)
    return messages, dropped
