"""Code generation's entry point for the CLI and the Code page: one FOREGROUND job per request."""

from __future__ import annotations

from typing import Optional

from ..engine import Engine, JobHandle, Priority
from ..engine.jobs import EventCallback
from ..models import ModelRegistry
from .generation import CodeRequest, run_generation
from .history import HistoryStore
from .languages import get_language
from .tasks import WRITE, get_task


def submit_code(
    engine: Engine,
    registry: ModelRegistry,
    request: CodeRequest,
    history: Optional[HistoryStore] = None,
    on_event: Optional[EventCallback] = None,
) -> JobHandle:
    """Validate, pick the model (MissingModelError now, not later) and queue a FOREGROUND job."""
    request.validate()
    installed = registry.resolve("llm", request.model_id)
    return engine.submit(
        lambda job: run_generation(job, request, installed, history),
        priority=Priority.FOREGROUND,
        name=f"Code: {job_title(request)}",
        kind="codegen",
        on_event=on_event,
        memory_bytes=installed.size_bytes,
    )


def job_title(request: CodeRequest) -> str:
    """"add two numbers" for write; "Explain calc.py" (and the user's words) for the other tasks."""
    words = request.prompt.strip().splitlines()[0][:40] if request.prompt.strip() else ""
    if request.task == WRITE:
        return words
    task = get_task(request.task)
    subject = f"{task.label.split(' ')[0]} {request.context_name or 'code'}"
    if request.target_language:
        subject += f" → {get_language(request.target_language).label}"
    return f"{subject}: {words}" if words else subject
