"""The language model helps the picture: translate a prompt to English, or expand it.

CLIP's and Stable Diffusion's text encoders read English only, and short prompts leave most
of the picture to chance. Both are one streamed chat turn on the local LLM (templates in
`resources/prompt-help.json`), tokens arriving as PARTIAL `StreamPiece` events so the prompt
box can fill as they come; Stop keeps what was produced. "Expand" shows the model the user's
own best-scored prompts (CLIP score in the library) as examples of the style to follow.
The model: the installed one the catalogue recommends for prompts, else the default
language model (a code model answers too).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from ..engine import JobHandle, Priority
from ..engine.jobs import EventCallback
from ..models import MissingModelError
from ..models.catalogue import Catalogue, CatalogueError, resources_dir

if TYPE_CHECKING:
    from ..context import AppContext
    from ..engine import JobContext
    from ..library.photo_library import Library
    from ..models.registry import InstalledModel, ModelRegistry

HELP_FILE = "prompt-help.json"
HELP_FORMAT = 1
PROMPTS_ROLE = "prompts"
EXAMPLES = 5
MAX_NEW_TOKENS = 160
NO_EXAMPLES = "(none yet)"
MAX_PROMPT_CHARS = 4000


@dataclass(frozen=True)
class PromptTask:
    name: str
    label: str
    system: str
    user: str


@functools.lru_cache(maxsize=4)
def load_prompt_tasks(path: Optional[Path] = None) -> dict[str, PromptTask]:
    data = json.loads((path or resources_dir() / HELP_FILE).read_text(encoding="utf-8"))
    if data.get("format") != HELP_FORMAT:
        raise ValueError(f"{HELP_FILE} has format {data.get('format')!r}; this release reads {HELP_FORMAT}")
    tasks = [PromptTask(str(t["name"]), str(t["label"]), str(t["system"]), str(t["user"])) for t in data["tasks"]]
    return {task.name: task for task in tasks}


def get_prompt_task(name: str) -> PromptTask:
    tasks = load_prompt_tasks()
    if name not in tasks:
        raise ValueError(f"unknown prompt help {name!r}; choose one of: {', '.join(tasks)}")
    return tasks[name]


def prompt_model(registry: "ModelRegistry", catalogue: Optional[Catalogue] = None) -> "InstalledModel":
    """The installed language model to use: one the catalogue recommends for prompts, else the
    default language model; MissingModelError when none is installed."""
    try:
        catalogue = catalogue or Catalogue.load()
        wanted = {e.id for e in catalogue.for_role(PROMPTS_ROLE)}
    except CatalogueError:
        wanted = set()
    for model in registry.list("llm"):
        if model.id in wanted or model.extra.get("catalogue_id") in wanted:
            return model
    model = registry.default("llm")
    if model is None:
        raise MissingModelError("llm")
    return model


def build_prompt_messages(task: PromptTask, prompt: str, examples: list[str]) -> list[dict[str, str]]:
    listed = "\n".join(f"- {' '.join(e.split())}" for e in examples) or NO_EXAMPLES
    return [
        {"role": "system", "content": task.system},
        {"role": "user", "content": task.user.format(prompt=prompt.strip(), examples=listed)},
    ]


def clean_reply(text: str) -> str:
    """The prompt in a reply: its first non-empty line, without quotes, fences or a "Prompt:" label."""
    for line in text.splitlines():
        line = line.strip().strip("`").strip()
        line = re.sub(r"^(english |expanded )?prompt\s*:\s*", "", line, flags=re.IGNORECASE)
        line = line.strip().strip('"“”\'').strip()
        if line:
            return line
    return ""


@dataclass(frozen=True)
class PromptHelpResult:
    task: str
    original: str
    prompt: str  # the cleaned prompt to put in the box ("" when the model said nothing usable)
    text: str  # the model's whole reply
    model_id: str
    examples: tuple[str, ...]
    stopped: bool
    n_tokens: int

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task, "original": self.original, "prompt": self.prompt, "text": self.text,
            "model": self.model_id, "examples": list(self.examples), "stopped": self.stopped,
            "tokens": self.n_tokens,
        }


def style_examples(registry: "ModelRegistry", library: "Library", prompt: str, limit: int = EXAMPLES) -> list[str]:
    """The user's best-scored prompts (by the library's CLIP model), the one being expanded left out."""
    clip = registry.default("clip")
    if clip is None:
        return []
    same = " ".join(prompt.split()).lower()
    best = library.store.best_scored_prompts(clip.id, limit + 1)
    return [p for p, _ in best if " ".join(p.split()).lower() != same][:limit]


def prompt_help_job(
    job: "JobContext", examples: Callable[[], list[str]], task: PromptTask, prompt: str,
    installed: "InstalledModel", temperature: float, seed: Optional[int],
) -> PromptHelpResult:
    from ..codegen.generation import stream_chat
    from ..codegen.loader import cache_key, load_language_model

    # Read here, not by the caller: the query grows with the library and the caller may be the GUI.
    examples = examples() if task.name == "expand" else []
    job.progress(0, None, f"Loading {installed.id}…")
    with job.models.use(cache_key(installed), lambda: load_language_model(installed.path, job.device, installed.id)) as lm:
        job.checkpoint()
        reply = stream_chat(job, lm, build_prompt_messages(task, prompt, examples), MAX_NEW_TOKENS, temperature,
                            0.95, seed, what=task.label.lower())
    return PromptHelpResult(task.name, prompt, clean_reply(reply.text), reply.text, installed.id, tuple(examples),
                            reply.stopped, reply.n_tokens)


def submit_prompt_help(
    ctx: "AppContext",
    task_name: str,
    prompt: str,
    on_event: Optional[EventCallback] = None,
    model_id: Optional[str] = None,
    temperature: Optional[float] = None,
    seed: Optional[int] = None,
) -> JobHandle:
    """Queue a FOREGROUND job; its result is a PromptHelpResult. Errors (no model, no prompt) now."""
    task = get_prompt_task(task_name)
    if not prompt.strip():
        raise ValueError("the prompt is empty: type a prompt first")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ValueError(f"the prompt is over {MAX_PROMPT_CHARS} characters")
    installed = ctx.registry.resolve("llm", model_id) if model_id else prompt_model(ctx.registry)
    # Translation wants the likeliest words; expansion some variety.
    temperature = (0.0 if task.name == "translate" else 0.7) if temperature is None else temperature
    return ctx.engine.submit(
        lambda job: prompt_help_job(job, lambda: style_examples(ctx.registry, ctx.library, prompt), task, prompt,
                                    installed, temperature, seed),
        priority=Priority.FOREGROUND, name=f"{task.label}: {' '.join(prompt.split())[:40]}", kind="prompt-help",
        on_event=on_event,
    )
