"""The Code page as a conversation, with qtbot: follow-ups see earlier turns, Ctrl+N starts again,
Regenerate and Edit last replace the last turn, a reopened conversation continues."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
from PySide6.QtCore import Qt

from latentstudio.projects.service import open_store
from latentstudio.ui.pages.code_page import CodePage

TIMEOUT_MS = 120_000


@pytest.fixture
def page(code_page: CodePage) -> CodePage:
    code_page.show()
    code_page.temperature.setValue(0.0)
    code_page.max_tokens.setValue(12)
    return code_page


def _ask(qtbot, page: CodePage, prompt: str) -> None:
    page.prompt.setPlainText(prompt)
    page.result = None
    qtbot.mouseClick(page.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.result is not None and page.handle is None, timeout=TIMEOUT_MS)


def test_a_follow_up_continues_the_conversation_and_ctrl_n_starts_another(qtbot, page: CodePage) -> None:
    bar = page.conversation_bar
    assert not bar.regenerate_button.isEnabled() and bar.label.text().startswith("New conversation")
    _ask(qtbot, page, "add two numbers")
    first = page.result
    assert page.prompt.toPlainText() == ""  # ready for the follow-up
    _ask(qtbot, page, "now add tests for it")
    follow = page.result
    assert (first.turn, follow.turn) == (1, 2) and follow.conversation_id == first.conversation_id
    assert follow.prompt_tokens > first.prompt_tokens + first.n_tokens - 2  # the first turn was read again
    assert bar.label.text().startswith("Conversation · 2 turns")
    text = page.transcript.toPlainText()
    assert text.index("add two numbers") < text.index("now add tests for it")
    assert page.history_panel.list.count() == 1 and "2 turns" in page.history_panel.list.item(0).text()

    qtbot.keyClick(page.prompt, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert page.turns == [] and page.conversation_id is None and page.answer.toPlainText() == ""
    assert page.transcript.toPlainText() == "" and not bar.new_button.isEnabled()
    _ask(qtbot, page, "reverse a list")
    assert page.result.turn == 1 and page.result.conversation_id != first.conversation_id
    assert page.history_panel.list.count() == 2


def test_regenerate_and_edit_replace_the_last_turn(qtbot, page: CodePage) -> None:
    _ask(qtbot, page, "add two numbers")
    _ask(qtbot, page, "now add tests")
    conversation = page.conversation_id
    page.result = None
    qtbot.mouseClick(page.conversation_bar.regenerate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.result is not None and page.handle is None, timeout=TIMEOUT_MS)
    assert page.result.turn == 2 and page.result.conversation_id == conversation
    assert [t.prompt for t in page.history.conversation(conversation)] == ["add two numbers", "now add tests"]

    qtbot.mouseClick(page.conversation_bar.edit_button, Qt.MouseButton.LeftButton)
    assert page.prompt.toPlainText() == "now add tests" and "editing" in page.conversation_bar.label.text()
    _ask(qtbot, page, "now add pytest tests")
    turns = page.history.conversation(conversation)
    assert [t.prompt for t in turns] == ["add two numbers", "now add pytest tests"]
    assert [t.prompt for t in page.turns] == ["add two numbers", "now add pytest tests"]
    assert page.history.count() == 2  # the replaced answers are gone, not kept beside


def test_a_reopened_conversation_continues(qtbot, page: CodePage) -> None:
    _ask(qtbot, page, "add two numbers")
    _ask(qtbot, page, "now add tests")
    conversation = page.conversation_id
    page.new_conversation()
    panel = page.history_panel
    panel.list.setCurrentRow(0)
    qtbot.mouseClick(panel.reopen_button, Qt.MouseButton.LeftButton)
    assert [t.prompt for t in page.turns] == ["add two numbers", "now add tests"]
    assert "2 turns" in page.status.text() and "now add tests" in page.transcript.toPlainText()
    _ask(qtbot, page, "and a docstring")
    assert page.result.conversation_id == conversation and page.result.turn == 3


def test_a_project_answer_lists_its_sources_and_the_history_keeps_them(
    qtbot, page: CodePage, tmp_path: Path, tiny_models: Callable[[str], Path]
) -> None:
    page.ctx.registry.import_path(tiny_models("text-embedding-tiny"), kind="text-embedding", model_id="tiny-te",
                                  link=True)
    project = tmp_path / "project"
    project.mkdir()
    (project / "config.py").write_text("import json\n\n\ndef parse_config(path):\n    return json.load(open(path))\n")
    page.add_project(project)
    assert page.project_picker.current() == project.resolve()
    qtbot.waitUntil(lambda: page.index_handle is None, timeout=TIMEOUT_MS)
    assert page.project_picker.state.text().startswith("Indexed: 1 files read")
    _ask(qtbot, page, "test parse_config")
    assert page.result.sources and page.result.sources[0]["symbol"] == "parse_config"
    assert page.sources.isVisible() and page.sources.count() == len(page.result.sources)
    assert page.sources.item(0).text().startswith("config.py:4-5 parse_config ·")
    assert "symbol" in page.sources.item(0).text()
    assert "Sources:" in page.transcript.toPlainText()
    given = len(page.result.sources)
    page.new_conversation()
    page.history_panel.list.setCurrentRow(0)
    page.history_panel._reopen()
    assert page.sources.count() == given and page.sources.item(0).text().startswith("config.py:4-5")


def test_a_source_pinned_or_excluded_counts_for_the_next_turn(
    qtbot, page: CodePage, tmp_path: Path, tiny_models: Callable[[str], Path]
) -> None:
    page.ctx.registry.import_path(tiny_models("text-embedding-tiny"), kind="text-embedding", model_id="tiny-te",
                                  link=True)
    project = tmp_path / "project"
    project.mkdir()
    (project / "config.py").write_text("import json\n\n\ndef parse_config(path):\n    return json.load(open(path))\n")
    page.add_project(project)
    qtbot.waitUntil(lambda: page.index_handle is None, timeout=TIMEOUT_MS)
    _ask(qtbot, page, "test parse_config")
    rows = {page.sources.item(k).text().split(" ")[0]: k for k in range(page.sources.count())}
    assert set(rows) == {"config.py:4-5", "config.py:1-3"}
    page.sources.exclude(rows["config.py:4-5"])
    page.sources.pin(rows["config.py:1-3"])
    assert page.sources.pinned[("config.py", 1)]["text"].startswith("import json")
    _ask(qtbot, page, "test parse_config again")
    given = [(s["path"], s["start_line"]) for s in page.result.sources]
    assert given[0] == ("config.py", 1) and ("config.py", 4) not in given
    page.new_conversation()
    assert not page.sources.pinned and not page.sources.excluded


def test_without_a_text_embedding_model_a_project_request_goes_without_its_code(
    qtbot, page: CodePage, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    page.add_project(project)
    assert "text-embedding" in page.project_picker.state.text()
    _ask(qtbot, page, "add two numbers")
    assert page.result.sources == () and "without project code" in page.project_picker.state.text()
    page.add_project(tmp_path / "missing")
    assert "project folder not found" in page.project_picker.state.text()


def test_a_file_saved_in_the_project_refreshes_its_index_while_the_window_is_open(
    qtbot, page: CodePage, tmp_path: Path, tiny_models: Callable[[str], Path]
) -> None:
    page.ctx.registry.import_path(tiny_models("text-embedding-tiny"), kind="text-embedding", model_id="tiny-te",
                                  link=True)
    page.ctx.project_watch.pause_s = 0.2
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    (project / "config.py").write_text("def parse_config(path):\n    return path\n")
    page.add_project(project)
    qtbot.waitUntil(lambda: page.index_handle is None, timeout=TIMEOUT_MS)
    store = open_store(page.ctx.paths.home, project.resolve())

    def symbols() -> set[str]:
        return {row[0] for row in store.query("SELECT symbol FROM chunks")}

    assert symbols() == {"parse_config"}

    (project / ".git" / "index").write_bytes(b"ignored")  # changes under .git ask for nothing
    qtbot.wait(600)
    assert page.index_handle is None and "Indexed" in page.project_picker.state.text()

    (project / "server.py").write_text("def start_server(port):\n    return port\n")
    qtbot.waitUntil(lambda: "start_server" in symbols(), timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: page.index_handle is None, timeout=TIMEOUT_MS)
    (project / "config.py").unlink()
    qtbot.waitUntil(lambda: symbols() == {"start_server"}, timeout=TIMEOUT_MS)
    store.close()


def test_a_conversation_too_long_for_the_model_says_its_oldest_turns_were_summarised(
    qtbot, page: CodePage
) -> None:
    from latentstudio.codegen.history import HistoryEntry
    from latentstudio.codegen.syntax import SyntaxReport

    long_answer = "```python\n" + "def f():\n    return 1\n" * 60 + "```"  # ~300 tokens; the tiny model reads 512
    page.turns = [HistoryEntry(model_id="tiny-llm", language="python", prompt=f"turn {k}", output=long_answer,
                               code="", syntax=SyntaxReport("python", checked=False, message=""), turn=k + 1)
                  for k in range(3)]
    _ask(qtbot, page, "and one more")
    dropped = page.result.dropped_turns
    assert dropped >= 2 and page.result.summarised_turns == dropped
    assert f"the {dropped} oldest turns were summarised to fit the model's context" in page.status.text()
    assert f"{dropped} oldest summarised (context full)" in page.conversation_bar.label.text()
    assert "left out" not in page.conversation_bar.label.text()
