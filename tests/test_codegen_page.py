"""The Code page with qtbot: Generate streams into the editor, Stop stops, Save writes, history."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog

from latentstudio.codegen import HistoryEntry, HistoryStore, check_syntax
from latentstudio.context import AppContext
from latentstudio.ui.page_services import PageServices
from latentstudio.ui.pages.code_page import CodePage
from tests.support.tiny_llm import REPLY, REPLY_CODE
from tests.support.held_model import held_at_second_token
from tests.support.held_engine import hold_engine

TIMEOUT_MS = 120_000


@pytest.fixture
def page(code_page: CodePage) -> CodePage:
    code_page.show()
    return code_page


def test_without_a_model_the_page_shows_the_missing_model_card(qtbot, ctx: AppContext) -> None:
    widget = CodePage(PageServices.create(ctx))
    qtbot.addWidget(widget)
    assert not widget.shows_tools


def test_generate_fills_the_editor_as_tokens_arrive(qtbot, page: CodePage) -> None:
    assert page.shows_tools
    assert page.model_picker.currentData() == "tiny-llm"
    growth: list[int] = []
    page.answer.textChanged.connect(lambda: growth.append(len(page.answer.toPlainText())) if page.result is None else None)
    page.prompt.setPlainText("Write a function that adds two numbers")
    page.temperature.setValue(0.0)
    page.max_tokens.setValue(64)
    qtbot.mouseClick(page.generate_button, Qt.MouseButton.LeftButton)
    assert not page.generate_button.isEnabled() and page.stop_button.isEnabled()
    qtbot.waitUntil(lambda: page.result is not None, timeout=TIMEOUT_MS)

    streamed = [n for n in growth if n > 0]
    assert len(streamed) > 5 and streamed == sorted(streamed)  # grew piece by piece before the end
    assert page.answer.toPlainText() == REPLY
    assert page.code.toPlainText() == REPLY_CODE
    assert page.syntax_label.text() == "python: syntax OK"
    assert "tokens/s" in page.speed_label.text() and "first token" in page.speed_label.text()
    assert page.generate_button.isEnabled() and not page.stop_button.isEnabled()
    assert page.history_panel.list.count() == 1

    qtbot.mouseClick(page.copy_button, Qt.MouseButton.LeftButton)
    assert QApplication.clipboard().text() == REPLY_CODE


def test_stop_stops_the_generation(qtbot, page: CodePage) -> None:
    with held_at_second_token(page.ctx.engine) as release:
        page.prompt.setPlainText("add two numbers")
        page.temperature.setValue(0.0)
        page.generate()
        qtbot.waitUntil(lambda: len(page.answer.toPlainText()) > 0, timeout=TIMEOUT_MS)
        qtbot.mouseClick(page.stop_button, Qt.MouseButton.LeftButton)
        release.set()
        qtbot.waitUntil(lambda: page.result is not None, timeout=TIMEOUT_MS)
    assert page.result.stopped
    assert REPLY.startswith(page.answer.toPlainText()) and len(page.answer.toPlainText()) < len(REPLY)
    assert page.status.text().startswith("Stopped after")
    assert page.generate_button.isEnabled() and not page.stop_button.isEnabled()
    [entry] = HistoryStore(page.ctx.paths.code_history_db).list()
    assert entry.stopped and entry.output == page.answer.toPlainText()


def test_history_search_reopen_and_save(qtbot, page: CodePage, tmp_path: Path, monkeypatch) -> None:
    code = "def mean(xs):\n    return sum(xs) / len(xs)\n"
    for prompt, output in (("average of a list", f"```python\n{code}```"), ("reverse words", "x")):
        page.history.add(HistoryEntry(
            model_id="tiny-llm", language="python", prompt=prompt, output=output,
            code=code if prompt.startswith("average") else output, syntax=check_syntax(code, "python"),
            settings={"max_new_tokens": 77, "temperature": 0.7, "top_p": 0.9, "seed": 123}, n_tokens=20,
            ttft_ms=5.0, tokens_per_s=50.0,
        ))
    panel = page.history_panel
    panel.refresh()
    assert panel.list.count() == 2
    panel.search.setText("averag")
    qtbot.waitUntil(lambda: panel.list.count() == 1, timeout=5000)
    panel.list.setCurrentRow(0)
    qtbot.mouseClick(panel.reopen_button, Qt.MouseButton.LeftButton)
    assert page.prompt.toPlainText() == "average of a list"
    assert (page.max_tokens.value(), page.temperature.value(), page.seed.value()) == (77, 0.7, 123)
    assert page.code.toPlainText() == code
    assert "50.0 tokens/s" in page.speed_label.text()

    target = tmp_path / "mean.py"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    assert target.read_text(encoding="utf-8") == code
    assert page.status.text() == f"Saved {target}"


def test_bad_settings_are_shown_not_raised(page: CodePage) -> None:
    page.prompt.setPlainText("   ")
    page.generate()
    assert page.status.text() == "the prompt is empty"
    assert page.handle is None and page.generate_button.isEnabled()


def test_stop_on_a_waiting_code_generation_ends_in_a_stopped_state(qtbot, ctx: AppContext, tiny_models) -> None:
    ctx.registry.import_path(tiny_models("llm-tiny"), kind="llm", model_id="tiny-llm", link=True)
    services = PageServices.create(ctx)
    page = CodePage(services)
    qtbot.addWidget(page)
    services.bridge.start_engine()
    release = hold_engine(ctx, "codegen")  # same kind: the new request waits its turn
    try:
        page.prompt.setPlainText("add two numbers")
        page.generate()
        assert page.status.text() == "Queued…"
        page.stop()
        qtbot.waitUntil(lambda: page.status.text() != "Stopping…", timeout=5000)
    finally:
        release.set()
    assert page.status.text() == "Stopped before it began"
    assert page.generate_button.isEnabled() and not page.stop_button.isEnabled()
    services.bridge.detach()
