"""What the Code page can ask of a language model: write, explain, translate, summarise, tests, fix.

Each task is a template in `resources/code-tasks.json` (system and user messages with
placeholders) plus what it needs (a context file, a target language, a traceback) and what it
answers: code (syntax-checked in the answer's language) or prose (never checked).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..models.catalogue import resources_dir
from .languages import Language

TASKS_FILE = "code-tasks.json"
TASKS_FORMAT = 1
WRITE = "write"
NEEDS = ("context", "target", "traceback")


@dataclass(frozen=True)
class CodeTask:
    name: str
    label: str
    answer: str  # "code" or "prose"
    needs: tuple[str, ...]
    system: str
    user: str
    user_with_code: Optional[str] = None  # when a context file is given to a task that does not need one
    user_with_request: Optional[str] = None  # when the user adds words to a task that does not need them
    # What the Code page shows for the task: its run button, the prompt's and the context's placeholders.
    button: str = ""
    hint: str = ""
    context_hint: str = ""

    @property
    def answers_code(self) -> bool:
        return self.answer == "code"

    def answer_language(self, language: Language, target: Optional[Language]) -> Language:
        return target if "target" in self.needs and target is not None else language


def _task(data: dict) -> CodeTask:
    needs = tuple(data.get("needs", ()))
    if data.get("answer") not in ("code", "prose") or any(n not in NEEDS for n in needs):
        raise ValueError(f"{TASKS_FILE}: task {data.get('name')!r} has an unknown answer kind or need")
    return CodeTask(
        name=str(data["name"]), label=str(data["label"]), answer=str(data["answer"]), needs=needs,
        system=str(data["system"]), user=str(data["user"]), user_with_code=data.get("user_with_code"),
        user_with_request=data.get("user_with_request"),
        button=str(data.get("button") or data["label"]), hint=str(data.get("hint", "")),
        context_hint=str(data.get("context_hint", "")),
    )


@functools.lru_cache(maxsize=4)
def load_tasks(path: Optional[Path] = None) -> tuple[CodeTask, ...]:
    """The bundled tasks, in the order the picker shows them (a bundled file: read once)."""
    data = json.loads((path or resources_dir() / TASKS_FILE).read_text(encoding="utf-8"))
    if data.get("format") != TASKS_FORMAT:
        raise ValueError(f"{TASKS_FILE} has format {data.get('format')!r}; this release reads {TASKS_FORMAT}")
    return tuple(_task(item) for item in data["tasks"])


def task_names() -> list[str]:
    return [task.name for task in load_tasks()]


def get_task(name: str) -> CodeTask:
    wanted = name.strip().lower()
    for task in load_tasks():
        if task.name == wanted:
            return task
    raise ValueError(f"unknown task {name!r}; choose one of: {', '.join(task_names())}")


def fenced(text: str, tag: str = "") -> str:
    """`text` in a Markdown fence longer than any backtick run inside it."""
    longest = max((len(run) for run in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * (longest + 1)
    return f"{fence}{tag}\n{text.rstrip()}\n{fence}"


def render_task(
    task: CodeTask,
    language: Language,
    request: str = "",
    context: Optional[str] = None,
    context_name: Optional[str] = None,
    target: Optional[Language] = None,
    traceback: Optional[str] = None,
) -> tuple[str, str]:
    """(system message, user message) for a task; the user's texts are inserted, never parsed."""
    answer = task.answer_language(language, target)
    has_code = bool(context and context.strip())
    has_request = bool(request.strip())
    template = task.user
    if has_code and task.user_with_code and "context" not in task.needs:
        template = task.user_with_code
    elif has_request and task.user_with_request:
        template = task.user_with_request
    values = {
        "label": language.label,
        "name": language.name,
        "target_label": answer.label,
        "target_name": answer.name,
        "request": request.strip(),
        "code": fenced(context or "", language.name),
        "source": f" ({context_name})" if context_name else "",
        "traceback": fenced(traceback or ""),
    }
    return task.system.format(**values), template.format(**values)
