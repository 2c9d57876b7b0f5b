"""`latent-studio generate-code PROMPT`: stream code from the local language model to stdout."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from ..engine import Cancelled, EventKind, JobEvent
from .context_file import read_context
from .conversation import turns_note, turns_of
from .generation import CodeRequest, GenerationResult
from .service import submit_code
from .history import HistoryStore
from .languages import DEFAULT_LANGUAGE, language_for_file, language_names
from .tasks import WRITE, task_names


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = sub.add_parser(
        "generate-code",
        help="generate code from a prompt with the local language model (streams to stdout)",
        description="Tokens stream to stdout as they are produced; timings and the syntax status go "
        "to stderr. Ctrl-C stops generation and keeps what was produced in the history.",
    )
    parser.add_argument("prompt", nargs="?", default="",
                        help="what the code should do (write); other tasks: optional extra instructions")
    parser.add_argument(
        "--task", default=WRITE, choices=task_names(),
        help="write (default), explain, translate (--to), summarise, tests or fix (--traceback); "
        "all but write work on the --context file",
    )
    parser.add_argument(
        "--language", default=None, metavar="NAME",
        help=f"language of the code (default: the context file's, else {DEFAULT_LANGUAGE}): "
        f"{', '.join(language_names())}",
    )
    parser.add_argument("--to", dest="target_language", metavar="LANGUAGE", help="translate: the language to translate to")
    parser.add_argument("--context", type=Path, metavar="FILE", help="a file to edit or build on (the code a task works on)")
    parser.add_argument("--traceback", type=Path, metavar="FILE", help="fix: a file holding the error's traceback ('-': stdin)")
    parser.add_argument("--max-tokens", type=int, default=512, metavar="N", help="new tokens at most (default 512)")
    parser.add_argument("--temperature", type=float, default=0.2, metavar="X", help="0 for greedy (default 0.2)")
    parser.add_argument("--top-p", type=float, default=0.95, metavar="P", help="nucleus sampling (default 0.95)")
    parser.add_argument("--seed", type=int, metavar="N", help="same seed and settings give the same output")
    parser.add_argument("--model", dest="model_id", metavar="ID", help="installed model id (default: the default)")
    parser.add_argument(
        "--project", type=Path, metavar="DIR",
        help="give the model the project's code that best matches the prompt (indexed or refreshed first); "
        "--json adds the sources",
    )
    parser.add_argument(
        "--continue", dest="continue_conversation", nargs="?", const=LAST, metavar="CONVERSATION",
        help="a follow-up: the model sees the earlier turns of the conversation (default: the latest one; "
        "its number is printed after each answer)",
    )
    parser.add_argument(
        "--json", action="store_true",
        help="print one JSON object at the end (text, code, syntax, ttft_ms, tokens_per_s, …) instead of streaming",
    )
    parser.set_defaults(func=cmd_generate_code)


def cmd_generate_code(args: argparse.Namespace, ctx) -> int:
    context = read_context(args.context) if args.context else None
    language = args.language
    if language is None:
        from_file = language_for_file(args.context.name) if args.context else None
        language = from_file.name if from_file else DEFAULT_LANGUAGE
    traceback = None
    if args.traceback is not None:
        traceback = sys.stdin.read() if str(args.traceback) == "-" else read_context(args.traceback)
    request = CodeRequest(
        prompt=args.prompt,
        language=language,
        task=args.task,
        target_language=args.target_language,
        traceback=traceback,
        context=context,
        context_name=args.context.name if args.context else None,
        max_new_tokens=args.max_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        seed=args.seed,
        model_id=args.model_id,
    )
    history = HistoryStore(ctx.paths.code_history_db)
    if args.continue_conversation is not None:
        conversation = _conversation(history, args.continue_conversation)
        request = replace(request, conversation_id=conversation,
                          earlier=turns_of(history.conversation(conversation)))
    request.validate()
    if args.project is not None:
        request = replace(request, sources=project_sources(ctx, args.project, request.prompt, not args.json))

    def stream(event: JobEvent) -> None:
        if event.kind is EventKind.PARTIAL:
            sys.stdout.write(event.payload.text)
            sys.stdout.flush()

    handle = submit_code(ctx.engine, ctx.registry, request, history, None if args.json else stream)
    interrupted = False
    try:
        handle.wait()
    except KeyboardInterrupt:
        interrupted = True
        handle.cancel()
        handle.wait()
    try:
        result: GenerationResult = handle.result()
    except Cancelled:
        print("stopped before generation began", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(_json_report(result), indent=2))
    else:
        if result.text and not result.text.endswith("\n"):
            sys.stdout.write("\n")
        sys.stdout.flush()
        print(_footer(result), file=sys.stderr)
    return 130 if interrupted else 0


LAST = "last"


def project_sources(ctx, folder: Path, prompt: str, show_progress: bool) -> tuple[dict, ...]:
    """The project chunks for a prompt (path, lines, symbol, score, why, code), best first; the job
    gives the model those that fit its context."""
    from ..projects.cli import project_hits

    hits = project_hits(ctx, folder, prompt, limit=10, model_id=None, show_progress=show_progress)
    return tuple(hit.to_json(with_text=True) for hit in hits)


def _conversation(history: HistoryStore, wanted: str) -> int:
    """The conversation `--continue` names (a number, or the latest); ValueError in words when none."""
    if wanted == LAST:
        latest = history.conversations(limit=1)
        if not latest:
            raise ValueError("there is no conversation to continue yet; ask without --continue first")
        return latest[0].id
    try:
        number = int(wanted)
    except ValueError:
        raise ValueError(f"--continue takes a conversation number, not {wanted!r}") from None
    if not history.conversation(number):
        raise ValueError(f"there is no conversation {number} in the code history")
    return number


def _json_report(result: GenerationResult) -> dict:
    data = result.to_json()
    keys = ("text", "code", "syntax", "ttft_ms", "tokens_per_s", "task")
    return {**{key: data[key] for key in keys}, **{k: v for k, v in data.items() if k not in keys}}


def _footer(result: GenerationResult) -> str:
    parts = [result.syntax.describe(), f"{result.n_tokens} tokens"]
    if result.task != WRITE:
        parts.insert(0, f"task {result.task}")
    if result.ttft_ms is not None:
        parts.append(f"first token after {result.ttft_ms:.0f} ms")
    if result.tokens_per_s is not None:
        parts.append(f"{result.tokens_per_s:.1f} tokens/s")
    parts.append(f"seed {result.seed}")
    if result.stopped:
        parts.append("stopped")
    if result.history_id is not None:
        parts.append(f"history #{result.history_id}")
    if result.conversation_id is not None:
        parts.append(f"conversation {result.conversation_id}, turn {result.turn}")
    if result.sources:
        parts.append(f"{len(result.sources)} sources: " + ", ".join(
            f"{s['path']}:{s['start_line']}-{s['end_line']}" for s in result.sources))
    if result.dropped_turns:
        parts.append(turns_note(result.dropped_turns, result.summarised_turns))
    return f"[{' · '.join(parts)}]"

