"""The Jobs panel: every job with its state, waiting ones marked, finished ones cleared."""

from __future__ import annotations

from latentstudio.context import AppContext
from latentstudio.engine import Priority
from latentstudio.ui.main_window import MainWindow
from tests.support.held_engine import hold_engine


def test_waiting_jobs_look_waiting_and_finished_ones_can_be_cleared(qtbot, ctx: AppContext) -> None:
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.attach_engine()
    release = hold_engine(ctx, "image")
    try:
        waiting = ctx.engine.submit(lambda job: None, Priority.FOREGROUND, name="a long waiting job " * 6,
                                    kind="image")
        qtbot.waitUntil(lambda: window.jobs_panel.row_for(waiting) is not None, timeout=5000)
        row = window.jobs_panel.row_for(waiting)
        assert row.bar.value() == 0 and row.bar.maximum() == 1 and row.bar.text() == "waiting"
        assert row.title.wordWrap()
    finally:
        release.set()
    waiting.result(10)
    qtbot.waitUntil(lambda: "Idle" == window.queue_label.text(), timeout=5000)
    window.jobs_panel.clear_button.click()
    assert window.jobs_panel.rows == {}
    assert not window.jobs_panel.empty.isHidden()
