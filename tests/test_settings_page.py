"""The Settings page: what it shows and what it saves, the theme applied at once."""

from __future__ import annotations

import pytest

from latentstudio.context import AppContext
from latentstudio.ui.pages.settings_page import SettingsPage


def test_offline_set_by_the_environment_shows_in_settings(qtbot, ctx: AppContext, monkeypatch) -> None:
    from latentstudio.models import network

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(network, "_set_by_us", False)
    page = SettingsPage(ctx)
    qtbot.addWidget(page)
    assert page.offline.isChecked() and not page.offline.isEnabled()
    assert "HF_HUB_OFFLINE" in page.offline.toolTip()
    assert page.min_score.value() == pytest.approx(ctx.settings.search_min_score)


def test_settings_save_the_theme_and_minimum_score(qtbot, ctx: AppContext) -> None:
    page = SettingsPage(ctx)
    qtbot.addWidget(page)
    page.theme.setCurrentIndex(page.theme.findData("dark"))
    page.min_score.setValue(0.27)
    page.save()
    reopened = AppContext(ctx.paths)
    try:
        assert reopened.settings.theme == "dark" and reopened.settings.search_min_score == pytest.approx(0.27)
    finally:
        reopened.close()


def test_the_dark_theme_darkens_the_window_and_system_restores_it(qtbot) -> None:
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    from latentstudio.ui.theme import apply_theme

    try:
        apply_theme("dark")
        assert QApplication.palette().color(QPalette.ColorRole.Window).lightness() < 80
        apply_theme("light")
        assert QApplication.palette().color(QPalette.ColorRole.Window).lightness() > 180
    finally:
        apply_theme("system")
