"""The chat sent to the model: the task's system prompt, the user's request with the context
file (and a traceback, a target language); rendered with the tokenizer's chat template when it has one."""

from __future__ import annotations

import logging
from typing import Any, Optional

from .languages import Language
from .tasks import WRITE, get_task, render_task

log = logging.getLogger(__name__)

Message = dict[str, str]

# Used when the tokenizer has no chat template (base models): a plain instruction layout
# that ends where the answer should begin.
FALLBACK_TEMPLATE = "### System:\n{system}\n\n### User:\n{user}\n\n### Assistant:\n"


def build_messages(
    prompt: str,
    language: Language,
    context: Optional[str] = None,
    context_name: Optional[str] = None,
    task: str = WRITE,
    target: Optional[Language] = None,
    traceback: Optional[str] = None,
) -> list[Message]:
    """System and user messages for a request, from the task's template (`resources/code-tasks.json`)."""
    system, user = render_task(get_task(task), language, prompt, context, context_name, target, traceback)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def render_prompt(tokenizer: Any, messages: list[Message]) -> str:
    """The prompt text: the chat template with the generation prompt, or the fallback layout."""
    if getattr(tokenizer, "chat_template", None):
        try:
            return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        except Exception as exc:  # jinja raises its own TemplateError, e.g. "system role not supported"
            log.info("chat template refused a system message (%s); folding it into the user turn", exc)
            return tokenizer.apply_chat_template(
                _fold_system(messages), tokenize=False, add_generation_prompt=True
            )
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    user = "\n\n".join(m["content"] for m in messages if m["role"] != "system")
    return FALLBACK_TEMPLATE.format(system=system, user=user)


def _fold_system(messages: list[Message]) -> list[Message]:
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if system and rest:
        rest[0]["content"] = f"{system}\n\n{rest[0]['content']}"
    return rest
