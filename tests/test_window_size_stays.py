"""The window's size changes only when the user changes it: text appearing or a panel opening
never makes it grow."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

from latentstudio.context import AppContext
from latentstudio.ui.main_window import MainWindow

from tests.test_layout import LONG_STATUS, install_models

SIZES = [(1000, 700), (1366, 740)]


def _settle(qtbot) -> None:
    QApplication.processEvents()
    qtbot.wait(50)


def test_text_and_the_jobs_panel_leave_the_window_size_alone(qtbot, ctx: AppContext, tiny_models) -> None:
    install_models(ctx, tiny_models)
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.show()
    for width, height in SIZES:
        window.resize(width, height)
        _settle(qtbot)
        before = window.size()
        image = window.show_page("image")
        _settle(qtbot)
        image.described.setText("Described: a photograph of a red circle on a plain background, soft light\n"
                                "(similarity 0.312; top phrases: red circle 0.31, circle 0.29, red 0.2)")
        image.described.setVisible(True)
        image.use_description_button.setVisible(True)
        image.status.setText(LONG_STATUS)
        _settle(qtbot)
        assert window.size() == before, f"Describe's result at {width}×{height}"
        settings = window.show_page("settings")
        _settle(qtbot)
        settings.save()
        _settle(qtbot)
        assert "Saved." in settings.status.text()
        assert window.size() == before, f"'Saved.' at {width}×{height}"
        for page in ("search", "image", "code", "models"):
            window.show_page(page)
            window.jobs_dock.show()
            _settle(qtbot)
            window.jobs_dock.hide()
            _settle(qtbot)
            assert window.size() == before, f"the Jobs panel on {page} at {width}×{height}"
