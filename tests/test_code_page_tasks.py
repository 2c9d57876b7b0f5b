"""The Code page's task picker with qtbot: what each task shows, explain and fix runs, history by task."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from latentstudio.codegen import HistoryStore
from latentstudio.ui.pages.code_page import CodePage
from tests.support.tiny_llm import REPLY, REPLY_CODE

TIMEOUT_MS = 120_000
CODE = "def sub(a, b):\n    return a - b\n"


@pytest.fixture
def page(code_page: CodePage) -> CodePage:
    code_page.resize(1200, 800)
    code_page.show()
    return code_page


def _choose(page: CodePage, task: str) -> None:
    page.task.setCurrentIndex(page.task.findData(task))


def test_each_task_shows_what_it_needs(page: CodePage) -> None:
    assert [page.task.itemData(i) for i in range(page.task.count())] == [
        "write", "explain", "translate", "summarise", "tests", "fix"]
    assert not page.target_language.isVisibleTo(page) and not page.traceback.isVisibleTo(page)
    _choose(page, "translate")
    assert page.target_language.isVisibleTo(page) and not page.traceback.isVisibleTo(page)
    assert page.generate_button.text() == "Translate" and page.prompt_label.text() == "Instructions"
    page.target_language.setCurrentIndex(page.target_language.findData("rust"))
    assert page.request().target_language == "rust" and page.answer_language() == "rust"
    _choose(page, "fix")
    assert page.traceback.isVisibleTo(page) and not page.target_language.isVisibleTo(page)
    page.traceback.setPlainText("TypeError: boom")
    assert page.request().traceback == "TypeError: boom" and page.request().target_language is None
    _choose(page, "explain")
    assert page.request().traceback is None
    page.generate()  # no code given: said in the window, nothing queued
    assert "needs the code" in page.status.text() and page.handle is None


def test_explain_streams_a_prose_answer_and_fix_a_checked_one(qtbot, page: CodePage) -> None:
    _choose(page, "explain")
    page.context.setPlainText(CODE)
    page.temperature.setValue(0.0)
    page.max_tokens.setValue(64)
    qtbot.mouseClick(page.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.result is not None, timeout=TIMEOUT_MS)
    assert page.answer.toPlainText() == REPLY and page.result.task == "explain"
    assert page.syntax_label.text() == "python: prose answer" and not page.copy_button.isEnabled()

    page.new_conversation()  # a request of its own: the tiny model learnt one reply to one request
    _choose(page, "fix")
    page.traceback.setPlainText('Traceback (most recent call last):\n  File "calc.py", line 2\nTypeError: boom')
    page.result = None
    page.generate()
    qtbot.waitUntil(lambda: page.result is not None, timeout=TIMEOUT_MS)
    # The tiny model opens with its learnt reply; its code block is checked as Python.
    assert page.result.task == "fix" and page.answer.toPlainText().startswith(REPLY.splitlines()[0])
    assert page.code.toPlainText().startswith(REPLY_CODE) and page.syntax_label.text().startswith("python: syntax")

    panel = page.history_panel
    assert panel.list.count() == 2
    panel.task_filter.setCurrentIndex(panel.task_filter.findData("fix"))
    assert panel.list.count() == 1 and "fix ·" in panel.list.item(0).text()
    [fix] = HistoryStore(page.ctx.paths.code_history_db).list(task="fix")
    assert fix.settings["traceback"].endswith("TypeError: boom")

    _choose(page, "write")
    panel.list.setCurrentRow(0)
    qtbot.mouseClick(panel.reopen_button, Qt.MouseButton.LeftButton)
    assert page.task.currentData() == "fix" and page.traceback.toPlainText().endswith("TypeError: boom")
    assert page.context.toPlainText() == CODE


def test_a_translation_reopens_with_both_languages(qtbot, page: CodePage) -> None:
    _choose(page, "translate")
    page.context.setPlainText(CODE)
    page.target_language.setCurrentIndex(page.target_language.findData("go"))
    page.temperature.setValue(0.0)
    page.max_tokens.setValue(8)
    page.generate()
    qtbot.waitUntil(lambda: page.result is not None, timeout=TIMEOUT_MS)
    assert page.result.language == "go"
    _choose(page, "write")
    page.language.setCurrentIndex(page.language.findData("rust"))
    page.history_panel.list.setCurrentRow(0)
    page.history_panel._reopen()
    assert (page.task.currentData(), page.language.currentData(), page.target_language.currentData()) == (
        "translate", "python", "go")
    page.grab().save("/tmp/code-page-translate.png")


def test_every_task_shows_its_own_hint_and_button(qtbot, ctx) -> None:
    """The prompt's hint and the run button follow the chosen task, each from its template."""
    from latentstudio.codegen.tasks import load_tasks
    from latentstudio.ui.page_services import PageServices
    from latentstudio.ui.pages.code_page import CodePage

    page = CodePage(PageServices.create(ctx))
    qtbot.addWidget(page)
    seen = {}
    for task in load_tasks():
        assert task.hint and task.context_hint and task.button, task.name
        page.task.setCurrentIndex(page.task.findData(task.name))
        assert page.prompt.placeholderText() == task.hint
        assert page.context.placeholderText() == task.context_hint
        assert page.generate_button.text() == task.button
        seen[task.name] = (task.hint, task.button)
    assert len({hint for hint, _ in seen.values()}) == len(seen)  # no task borrows another's hint
    assert seen["tests"][1] == "Write tests" and "test" in seen["tests"][0]
