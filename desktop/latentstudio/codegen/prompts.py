"""The chat sent to the model: a system prompt asking for code in one language, the user's
request and optional context; rendered with the tokenizer's chat template when it has one."""

from __future__ import annotations

import logging
from typing import Any, Optional

from .languages import Language

log = logging.getLogger(__name__)

Message = dict[str, str]

SYSTEM_PROMPT = (
    "You are an expert {label} programmer. Answer with complete, correct {label} code in a single "
    "fenced code block marked ```{name}, followed by at most a few sentences of explanation. "
    "Do not use any other programming language."
)

CONTEXT_INTRO = "Here is the existing code to work with{source}:"

# Used when the tokenizer has no chat template (base models): a plain instruction layout
# that ends where the answer should begin.
FALLBACK_TEMPLATE = "### System:\n{system}\n\n### User:\n{user}\n\n### Assistant:\n"


def build_messages(
    prompt: str,
    language: Language,
    context: Optional[str] = None,
    context_name: Optional[str] = None,
) -> list[Message]:
    """System and user messages for a request; the context goes in a fenced block after the request."""
    user = prompt.strip()
    if context and context.strip():
        source = f" ({context_name})" if context_name else ""
        fence = "````" if "```" in context else "```"
        user += (
            f"\n\n{CONTEXT_INTRO.format(source=source)}\n{fence}{language.name}\n"
            f"{context.rstrip()}\n{fence}"
        )
    return [
        {"role": "system", "content": SYSTEM_PROMPT.format(label=language.label, name=language.name)},
        {"role": "user", "content": user},
    ]


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
