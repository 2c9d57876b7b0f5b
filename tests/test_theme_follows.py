"""A theme chosen while the app runs reaches every colour that depends on it, at once and both ways."""

from __future__ import annotations

from collections import Counter
from typing import Iterator

import pytest
from PySide6.QtGui import QColor, QPalette, QTextDocument
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QLabel,
    QStyle,
    QStyleOptionButton,
    QVBoxLayout,
    QWidget,
)

from latentstudio.context import AppContext
from latentstudio.ui.main_window import MainWindow
from latentstudio.ui.theme import apply_theme
from latentstudio.ui.widgets.code_highlighter import PygmentsHighlighter
from latentstudio.ui.widgets.image_preview import ImagePreview

SEQUENCE = ("light", "dark", "light", "dark")


@pytest.fixture
def restore_theme() -> Iterator[None]:
    yield
    apply_theme("system")


def _luminance(colour: QColor) -> float:
    def linear(channel: float) -> float:
        return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(colour.redF()) + 0.7152 * linear(colour.greenF()) + 0.0722 * linear(colour.blueF())


def _contrast(ink: QColor, ground: QColor) -> float:
    """WCAG's contrast ratio: 1 (none) to 21 (black on white); 3 is its floor for large text."""
    high, low = sorted((_luminance(ink), _luminance(ground)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _readable(ink: QColor, ground: QColor) -> bool:
    return _contrast(ink, ground) >= 3


def test_rail_labels_and_links_follow_each_theme_change(qtbot, ctx: AppContext, restore_theme) -> None:
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.show()
    models = window.show_page("models")
    link = next(label for label in models.findChildren(QLabel) if "<a " in label.text())
    for theme in SEQUENCE:
        apply_theme(theme)
        QApplication.processEvents()  # top-level windows take a new application palette from an event
        window_colour = QApplication.palette().color(QPalette.ColorRole.Window)
        unchecked = window.nav.button(1)  # the first page is current: this one is a plain label
        ink = unchecked.palette().color(QPalette.ColorRole.ButtonText)
        assert _readable(ink, window_colour), (theme, ink.name(), window_colour.name())
        # A link's colour is fixed when a label's text is set: it is set again for the new theme.
        image = link.grab().toImage()
        blues = [colour for colour in (image.pixelColor(x, y) for x in range(image.width())
                                       for y in range(image.height()))
                 if colour.blue() > colour.red() + 60]
        assert blues, "a link is drawn in the link colour"
        # The link colour itself: the most frequent one (the underline is drawn in it, unblended).
        ink = QColor(Counter(colour.name() for colour in blues).most_common(1)[0][0])
        assert _readable(ink, window_colour), (theme, ink.name())


def test_code_colours_follow_each_theme_change(qtbot, restore_theme) -> None:
    document = QTextDocument("def f(a, b):\n    return (a, b)\n")
    highlighter = PygmentsHighlighter(document, "python")
    for theme in SEQUENCE:
        apply_theme(theme)
        QApplication.processEvents()  # top-level windows take a new application palette from an event
        assert highlighter.style_name == ("monokai" if theme == "dark" else "default")
        ground = QApplication.palette().color(QPalette.ColorRole.Base)
        for block_number in range(document.blockCount()):
            block = document.findBlockByNumber(block_number)
            for span in block.layout().formats():
                if not block.text()[span.start:span.start + span.length].strip():
                    continue  # white space: nothing is drawn
                ink = span.format.foreground().color()
                assert _readable(ink, ground), (theme, ink.name(), ground.name())


def test_preview_and_check_boxes_show_on_the_dark_theme(qtbot, restore_theme) -> None:
    holder = QWidget()
    preview = ImagePreview()
    box = QCheckBox("offline")
    layout = QVBoxLayout(holder)
    layout.addWidget(box)
    layout.addWidget(preview)
    qtbot.addWidget(holder)
    holder.show()
    for theme in SEQUENCE:
        apply_theme(theme)
        QApplication.processEvents()  # top-level windows take a new application palette from an event
        window_colour = QApplication.palette().color(QPalette.ColorRole.Window)
        middle = preview.grab().toImage().pixelColor(preview.width() // 2, 5)
        assert (_luminance(middle) < 0.2) == (theme == "dark"), (theme, middle.name())
        if theme != "dark":
            continue
        # The check box's square is outlined in a colour that stands out from the dark window.
        option = QStyleOptionButton()
        box.initStyleOption(option)
        square = box.style().subElementRect(QStyle.SubElement.SE_CheckBoxIndicator, option, box)
        image = holder.grab().toImage()
        square.translate(box.pos())
        ring = [image.pixelColor(square.left() + dx, y) for dx in (0, 1) for y in range(square.top(), square.bottom())]
        edge = max(ring, key=lambda colour: _contrast(colour, window_colour))
        assert _contrast(edge, window_colour) >= 1.8, (theme, edge.name())
