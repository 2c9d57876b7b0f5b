"""Code tasks beyond write, with the tiny LLM: templates, streaming, Stop, syntax rules, history, CLI."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Callable

import pytest

from latentstudio.cli import main
from latentstudio.codegen import CodeRequest, HistoryStore, StreamPiece, submit_code
from latentstudio.codegen.history import SCHEMA_1, SCHEMA_VERSION
from latentstudio.codegen.languages import get_language
from latentstudio.codegen.prompts import build_messages
from latentstudio.codegen.tasks import get_task, task_names
from latentstudio.config import load_settings, save_settings
from latentstudio.engine import Engine, EventKind, JobEvent
from latentstudio.models import ModelRegistry
from latentstudio.paths import Paths
from tests.support.tiny_llm import REPLY, REPLY_CODE

PYTHON = get_language("python")
CODE = "def sub(a, b):\n    return a - b\n"
TRACE = 'Traceback (most recent call last):\n  File "calc.py", line 2\nTypeError: boom'

# Per task: what the request carries, the answer's language, and how the fixed reply is checked.
CASES = {
    "write": (dict(prompt="add two numbers"), "python", True),
    "explain": (dict(context=CODE), "python", False),
    "translate": (dict(context=CODE, target_language="javascript"), "javascript", False),
    "summarise": (dict(context=CODE), "python", False),
    "tests": (dict(context=CODE), "python", True),
    "fix": (dict(context=CODE, traceback=TRACE), "python", True),
}


@pytest.fixture
def registry(paths: Paths, tiny_models: Callable[[str], Path]) -> ModelRegistry:
    registry = ModelRegistry(paths.models)
    registry.import_path(tiny_models("llm-tiny"), kind="llm", model_id="tiny-llm", link=True)
    return registry


def test_every_task_has_a_template_and_carries_its_inputs() -> None:
    assert task_names() == list(CASES)
    target = get_language("rust")
    for name in task_names():
        system, user = [m["content"] for m in build_messages("keep it short", PYTHON, CODE, "calc.py", name,
                                                            target, TRACE)]
        assert "Python" in system
        assert "```python\n" + CODE.rstrip() + "\n```" in user and "(calc.py)" in user
        if name == "write":
            assert user.startswith("keep it short")
        else:
            assert user.endswith("\n\nkeep it short")
    translate_system, translate_user = [m["content"] for m in build_messages("", PYTHON, CODE, None, "translate", target)]
    assert "```rust" in translate_system and "to Rust" in translate_user
    fix_user = build_messages("", PYTHON, CODE, None, "fix", traceback=TRACE)[1]["content"]
    assert "```\n" + TRACE + "\n```" in fix_user
    nested = build_messages("", PYTHON, "s = '```'\n", None, "explain")[1]["content"]
    assert "````python\ns = '```'\n````" in nested  # a longer fence around code holding one
    with pytest.raises(ValueError, match="choose one of: write"):
        get_task("poem")


@pytest.mark.parametrize("task", list(CASES))
def test_the_fixed_answer_streams_through_each_task(task: str, engine: Engine, registry: ModelRegistry,
                                                    paths: Paths) -> None:
    fields, answer_language, checked = CASES[task]
    pieces: list[StreamPiece] = []

    def on_event(event: JobEvent) -> None:
        if event.kind is EventKind.PARTIAL:
            pieces.append(event.payload)

    history = HistoryStore(paths.code_history_db)
    request = CodeRequest(**{"prompt": "", "context_name": "calc.py", **fields}, task=task, temperature=0,
                                max_new_tokens=64)
    handle = submit_code(engine, registry, request, history, on_event=on_event)
    result = handle.result(120)
    assert len(pieces) > 5 and "".join(p.text for p in pieces) == result.text == REPLY
    assert result.task == task and result.language == answer_language
    if checked:  # a code answer whose block is in the answer's language
        assert result.code == REPLY_CODE and result.syntax.checked and result.syntax.ok
    elif task == "translate":  # the reply's block is Python, not the JavaScript asked for
        assert not result.syntax.checked and "no JavaScript code block" in result.syntax.message
    else:  # prose answers are never checked
        assert result.code == "" and not result.syntax.checked and result.syntax.message == "prose answer"
    stored = history.get(result.history_id)
    assert stored.task == task and stored.output == REPLY
    assert history.search("", task=task) == [stored] and history.list(task=task) == [stored]
    if task != "write":
        assert handle.name.startswith("Code: ") and "calc.py" in handle.name and stored.title.endswith("calc.py")


@pytest.mark.parametrize("task", ["explain", "translate", "fix"])
def test_stop_works_per_task(task: str, engine: Engine, registry: ModelRegistry, paths: Paths) -> None:
    fields, _, _ = CASES[task]
    history = HistoryStore(paths.code_history_db)

    def on_event(event: JobEvent) -> None:
        if event.kind is EventKind.PARTIAL and event.payload.n_tokens >= 4 and not event.handle.cancel_requested:
            event.handle.cancel()

    request = CodeRequest(**{"prompt": "", **fields}, task=task, temperature=0, max_new_tokens=64)
    result = submit_code(engine, registry, request, history, on_event=on_event).result(120)
    assert result.stopped and REPLY.startswith(result.text) and len(result.text) < len(REPLY)
    stored = history.get(result.history_id)
    assert stored.stopped and stored.task == task


def test_a_translation_into_the_asked_language_is_checked(engine: Engine, registry: ModelRegistry) -> None:
    request = CodeRequest("", language="javascript", context="function sub(a, b) { return a - b; }",
                                task="translate", target_language="python", temperature=0, max_new_tokens=64)
    result = submit_code(engine, registry, request).result(120)
    assert result.language == "python" and result.syntax.checked and result.syntax.ok


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(task="explain"), "needs the code"),
        (dict(task="translate", context=CODE), "needs a target language"),
        (dict(task="translate", context=CODE, target_language="py"), "already Python"),
        (dict(task="fix", context=CODE), "needs the error"),
        (dict(task="poem", context=CODE), "unknown task"),
    ],
)
def test_tasks_say_what_they_need(fields: dict, message: str, engine: Engine, registry: ModelRegistry) -> None:
    with pytest.raises(ValueError, match=message):
        submit_code(engine, registry, CodeRequest("", **fields))
    assert engine.queued() == []


def test_a_history_from_before_tasks_opens_with_everything_kept(tmp_path: Path) -> None:
    path = tmp_path / "code-history.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA_1)  # exactly what release 0.1.0 wrote
    conn.execute(
        "INSERT INTO generations (created, model_id, language, prompt, context, settings, output, code, syntax, "
        "n_tokens, stopped) VALUES ('2026-01-01T00:00:00+00:00', 'm', 'python', 'Parse a CSV file', NULL, "
        "'{\"seed\": 1}', 'import csv', 'import csv', '{\"language\": \"python\", \"checked\": true, \"ok\": true}', "
        "3, 0)"
    )
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()
    store = HistoryStore(path)
    [entry] = store.search("csv")
    assert (entry.prompt, entry.output, entry.task, entry.settings, entry.n_tokens) == (
        "Parse a CSV file", "import csv", "write", {"seed": 1}, 3)
    assert entry.syntax.ok and store.search("csv", task="explain") == []
    assert path.with_name(path.name + ".schema-1.bak").is_file()
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert HistoryStore(path).count() == 1  # opening again changes nothing


@pytest.fixture
def cli_model(paths: Paths, tiny_models: Callable[[str], Path]) -> None:
    ModelRegistry(paths.models).import_path(tiny_models("llm-tiny"), kind="llm", model_id="tiny-llm", link=True)
    settings = load_settings(paths.settings_file)
    settings.update(device="cpu")
    save_settings(settings, paths.settings_file)


def test_generate_code_tasks_from_the_cli(cli_model: None, tmp_path: Path, capsys, paths: Paths) -> None:
    source = tmp_path / "calc.py"
    source.write_text(CODE, encoding="utf-8")
    base = ["--temperature", "0", "--max-tokens", "64", "--json"]
    assert main(["generate-code", "--task", "explain", "--context", str(source), *base]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["task"] == "explain" and report["text"] == REPLY and report["language"] == "python"
    assert report["syntax"]["checked"] is False and report["code"] == ""

    script = tmp_path / "calc.js"  # the language comes from the suffix: JavaScript, translated to Python
    script.write_text("function sub(a, b) { return a - b; }\n", encoding="utf-8")
    assert main(["generate-code", "--task", "translate", "--to", "python", "--context", str(script), *base]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["language"] == "python" and report["code"] == REPLY_CODE and report["syntax"]["ok"]

    trace = tmp_path / "trace.txt"
    trace.write_text(TRACE, encoding="utf-8")
    assert main(["generate-code", "--task", "fix", "--traceback", str(trace), "--context", str(source), *base]) == 0
    assert json.loads(capsys.readouterr().out)["task"] == "fix"

    assert main(["generate-code", "--task", "summarise", "--temperature", "0", "--max-tokens", "64",
                 "--context", str(source)]) == 0
    captured = capsys.readouterr()
    assert captured.out.rstrip("\n") == REPLY and "task summarise" in captured.err
    history = HistoryStore(paths.code_history_db)
    assert [e.task for e in history.list()] == ["summarise", "fix", "translate", "explain"]
    assert history.get(history.list(task="fix")[0].id).settings["traceback"] == TRACE

    assert main(["generate-code", "--task", "explain"]) == 1
    assert "needs the code" in capsys.readouterr().err
    assert main(["generate-code", "--task", "translate", "--context", str(script)]) == 1
    assert "--to" in capsys.readouterr().err
