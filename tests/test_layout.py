"""Every page fits a laptop and a desktop window, with and without models, with no clipped text."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QCheckBox,
    QComboBox,
    QLabel,
    QLineEdit,
    QWidget,
)

from latentstudio.context import AppContext
from latentstudio.ui.main_window import PAGES, MainWindow

SIZES = [(1000, 700), (1600, 1000)]


def clipped(widget: QWidget) -> str:
    """Why `widget` cannot show its whole text at its current size, or ""."""
    if isinstance(widget, QLabel):
        text = widget.text()
        if not text or widget.wordWrap() or widget.textFormat() == 1 or "<" in text:
            # Wrapped and rich-text labels need only their height for their width.
            needed = widget.heightForWidth(widget.width()) if widget.wordWrap() else widget.minimumSizeHint().height()
            return f"label {text[:40]!r} needs {needed} px high, has {widget.height()}" if needed > widget.height() + 1 else ""
        needed = widget.fontMetrics().horizontalAdvance(text) + widget.margin() * 2 + widget.indent() if widget.indent() > 0 else widget.fontMetrics().horizontalAdvance(text) + widget.margin() * 2
        return f"label {text[:40]!r} needs {needed} px wide, has {widget.contentsRect().width()}" if needed > widget.contentsRect().width() + 1 else ""
    if isinstance(widget, (QAbstractButton, QCheckBox)):
        text = widget.text()
        if not text:
            return ""
        needed = widget.sizeHint().width()
        return f"{type(widget).__name__} {text!r} needs {needed} px, has {widget.width()}" if needed > widget.width() + 1 else ""
    if isinstance(widget, QComboBox) and widget.count():
        needed = widget.minimumSizeHint().width()
        return f"combo {widget.currentText()!r} needs {needed} px, has {widget.width()}" if needed > widget.width() + 1 else ""
    return ""


def cut_vertically(widget: QWidget) -> str:
    """Why a control is too short for its text (squashed by its layout: cut at the top or bottom), or ""."""
    if isinstance(widget, QLabel):
        if widget.wordWrap() or not widget.text():
            return ""  # wrapped labels: `clipped` checks their height for their width
        needed = widget.fontMetrics().height() * (widget.text().count("\n") + 1)
    elif isinstance(widget, (QAbstractSpinBox, QComboBox, QLineEdit, QAbstractButton)):
        if isinstance(widget, QAbstractButton) and not widget.text():
            return ""
        if isinstance(widget.parent(), QAbstractSpinBox):
            return ""  # a spin box's own editor: the spin box is measured
        needed = widget.minimumSizeHint().height()
    else:
        return ""
    return f"is {widget.height()} px high, needs {needed}" if widget.height() < needed - 1 else ""


def cut_sideways(widget: QWidget) -> str:
    """Why a control is cut off at the side by what holds it (a panel narrower than its rows), or "".

    Scrolled out of sight up or down is fine (the user scrolls); cut at the side is not."""
    if not isinstance(widget, (QAbstractButton, QComboBox, QLabel)) or not widget.visibleRegion().boundingRect().height():
        return ""
    shown = widget.visibleRegion().boundingRect().width()
    return f"shows {shown} of its {widget.width()} px width" if shown < widget.width() - 1 else ""


def visible_problems(root: QWidget) -> list[str]:
    problems = []
    for widget in root.findChildren(QWidget):
        if widget.isVisibleTo(root) and widget.isVisible() and widget.width() > 0:
            problem = clipped(widget) or cut_vertically(widget) or cut_sideways(widget)
            if problem:
                problems.append(f"{widget.objectName() or type(widget).__name__}: {problem}")
    return problems


def settled_problems(qtbot, root: QWidget, tries: int = 10) -> list[str]:
    """`visible_problems` once the layout has caught up with text that background work just set.

    A scan or a model load finishing while the page is measured changes a label before its layout
    has run; a problem that is gone after the next layout pass is not one a person can see.
    """
    problems = visible_problems(root)
    for _ in range(tries):
        if not problems:
            break
        qtbot.wait(30)
        problems = visible_problems(root)
    return problems


LONG_STATUS = ("Could not read the settings of holiday-2019-beach-sunset-final-version-3.png: it holds no "
               "generation settings that Latent Studio, AUTOMATIC1111, ComfyUI or InvokeAI wrote")


def show_long_texts(window: MainWindow) -> None:
    """What a page shows after use, at its longest: the image page's Describe result and status."""
    page = window.pages.get("image")
    if page is None or not hasattr(page, "described"):
        return
    page.described.setText("Described: a photograph of a red circle on a plain background, soft light, "
                           "high detail\n(similarity 0.312; top phrases: red circle 0.31, circle 0.29)")
    page.described.setVisible(True)
    page.use_description_button.setVisible(True)
    page.status.setText(LONG_STATUS)


def install_models(ctx: AppContext, tiny_models: Callable[[str], Path]) -> None:
    ctx.registry.import_path(tiny_models("clip-shapes"), kind="clip", model_id="shapes", link=True)
    ctx.registry.import_path(tiny_models("diffusion-tiny") / "diffusers", kind="diffusion", model_id="tiny", link=True)
    ctx.registry.import_path(tiny_models("llm-tiny"), kind="llm", model_id="tiny-llm", link=True)


@pytest.mark.parametrize("with_models", [False, True], ids=["no-models", "models"])
def test_every_page_fits_and_shows_its_whole_text(qtbot, ctx: AppContext, tiny_models, with_models: bool) -> None:
    if with_models:
        install_models(ctx, tiny_models)
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.show()
    problems: list[str] = []
    for width, height in SIZES:
        window.resize(width, height)
        for spec in PAGES:
            window.show_page(spec.name)
            show_long_texts(window)
            QApplication.processEvents()
            qtbot.wait(20)
            if (window.width(), window.height()) != (width, height):
                problems.append(f"{spec.name}: the window cannot take {width}×{height} "
                                f"(it is {window.width()}×{window.height()})")
            problems += [f"{spec.name} at {width}×{height}: {p}" for p in settled_problems(qtbot, window)]
    assert not problems, "\n".join(problems)
