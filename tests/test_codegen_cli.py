"""`latent-studio generate-code`: streaming to stdout, --json, Ctrl-C, bad input."""

from __future__ import annotations

import _thread
import json
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import pytest

from latentstudio.cli import main
from latentstudio.codegen import HistoryStore
from latentstudio.engine.engine import THREAD_NAME
from latentstudio.config import load_settings, save_settings
from latentstudio.models import ModelRegistry
from latentstudio.paths import Paths
from tests.support.tiny_llm import REPLY, REPLY_CODE


@pytest.fixture(autouse=True)
def installed(paths: Paths, tiny_models: Callable[[str], Path]) -> None:
    ModelRegistry(paths.models).import_path(tiny_models("llm-tiny"), kind="llm", model_id="tiny-llm", link=True)
    settings = load_settings(paths.settings_file)
    settings.update(device="cpu")  # the expected text is the float32 CPU output
    save_settings(settings, paths.settings_file)


class RecordingStdout:
    """Stands in for stdout: keeps every write separately, to see that tokens arrive one by one."""

    def __init__(self, on_write: Callable[[str], None] | None = None):
        self.writes: list[str] = []
        self.on_write = on_write

    def write(self, text: str) -> int:
        self.writes.append(text)
        if self.on_write is not None:
            self.on_write(text)
        return len(text)

    def flush(self) -> None:
        pass

    @property
    def text(self) -> str:
        return "".join(self.writes)


def test_generate_code_streams_tokens_to_stdout(monkeypatch: pytest.MonkeyPatch, capsys, paths: Paths) -> None:
    out = RecordingStdout()
    monkeypatch.setattr(sys, "stdout", out)
    code = main(["generate-code", "add two numbers", "--temperature", "0", "--max-tokens", "64"])
    assert code == 0
    assert out.text == REPLY + "\n"
    assert len(out.writes) > 5  # piece by piece as produced
    footer = capsys.readouterr().err
    assert "python: syntax OK" in footer and "tokens/s" in footer and "first token after" in footer
    assert HistoryStore(paths.code_history_db).count() == 1


def test_generate_code_json(capsys, tmp_path: Path) -> None:
    context = tmp_path / "calc.py"
    context.write_text("def sub(a, b):\n    return a - b\n", encoding="utf-8")
    code = main([
        "generate-code", "add an add function", "--json", "--context", str(context),
        "--language", "python", "--seed", "3", "--temperature", "0", "--max-tokens", "64", "--model", "tiny-llm",
    ])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report)[:5] == ["text", "code", "syntax", "ttft_ms", "tokens_per_s"]
    assert report["text"] == REPLY and report["code"] == REPLY_CODE
    assert report["syntax"]["checked"] and report["syntax"]["ok"]
    assert report["ttft_ms"] > 0 and report["tokens_per_s"] > 0
    assert report["seed"] == 3 and report["stopped"] is False


def test_ctrl_c_stops_and_keeps_the_partial_output(monkeypatch: pytest.MonkeyPatch, capsys, paths: Paths) -> None:
    pieces: list[str] = []

    def interrupt_after_first_piece(text: str) -> None:
        # Only the generation's own pieces count: another thread's late output (a Ray runtime left
        # by earlier tests logs to stdout) must not spend the interrupt before generation starts.
        if threading.current_thread().name != THREAD_NAME:
            return
        pieces.append(text)
        if len(pieces) == 1:
            _thread.interrupt_main()  # what Ctrl-C does to the main thread
            time.sleep(0.5)  # hold the engine thread on this token while the main thread reacts

    out = RecordingStdout(interrupt_after_first_piece)
    monkeypatch.setattr(sys, "stdout", out)
    code = main(["generate-code", "add two numbers", "--temperature", "0", "--max-tokens", "64"])
    assert code == 130
    assert "stopped" in capsys.readouterr().err
    [entry] = HistoryStore(paths.code_history_db).list()
    assert entry.stopped
    assert entry.output and REPLY.startswith(entry.output) and len(entry.output) < len(REPLY)
    assert "".join(pieces).rstrip("\n") == entry.output


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--language", "klingon"], "unknown language"),
        (["--context", "/no/such/file.py"], "context file not found"),
        (["--max-tokens", "0"], "max new tokens"),
        (["--model", "nope"], "no installed model"),
    ],
)
def test_bad_input_is_a_clear_error(argv: list[str], message: str, capsys) -> None:
    assert main(["generate-code", "x", *argv]) == 1
    assert message in capsys.readouterr().err


def test_binary_context_file_is_refused(tmp_path: Path, capsys) -> None:
    blob = tmp_path / "image.png"
    blob.write_bytes(b"\x89PNG\x00\x00binary")
    assert main(["generate-code", "x", "--context", str(blob)]) == 1
    assert "not a text file" in capsys.readouterr().err


def test_continue_makes_a_follow_up_of_the_latest_or_a_named_conversation(capsys, paths: Paths) -> None:
    assert main(["generate-code", "add", "--continue", "--temperature", "0"]) == 1
    assert "no conversation to continue" in capsys.readouterr().err
    assert main(["generate-code", "add two numbers", "--temperature", "0", "--max-tokens", "16", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(["generate-code", "now add tests", "--continue", "--temperature", "0", "--max-tokens", "8"]) == 0
    assert f"conversation {first['conversation_id']}, turn 2" in capsys.readouterr().err
    argv = ["generate-code", "and a docstring", "--continue", str(first["conversation_id"]), "--json",
            "--temperature", "0", "--max-tokens", "8"]
    assert main(argv) == 0
    third = json.loads(capsys.readouterr().out)
    assert (third["conversation_id"], third["turn"]) == (first["conversation_id"], 3)
    assert third["prompt_tokens"] > first["prompt_tokens"] + first["n_tokens"]
    history = HistoryStore(paths.code_history_db)
    assert [t.prompt for t in history.conversation(first["conversation_id"])] == [
        "add two numbers", "now add tests", "and a docstring"]
    assert main(["generate-code", "x", "--continue", "99"]) == 1
    assert "no conversation 99" in capsys.readouterr().err
