from PySide6.QtWidgets import QWidget, QAbstractButton, QComboBox, QLineEdit, QAbstractSpinBox, QAbstractSlider, QTextEdit, QPlainTextEdit, QAbstractItemView
from latentstudio.ui.main_window import MainWindow, PAGES
from tests.test_layout import install_models
KINDS=(QAbstractButton, QComboBox, QLineEdit, QAbstractSpinBox, QAbstractSlider, QTextEdit, QPlainTextEdit)
def test_tips(qtbot, ctx, tiny_models):
    install_models(ctx, tiny_models)
    w = MainWindow(ctx); qtbot.addWidget(w); w.show(); w.resize(1600, 1000)
    for spec in PAGES:
        w.show_page(spec.name); qtbot.wait(100)
        page = w.pages[spec.name]
        n=0; missing=[]
        for c in [x for x in page.findChildren(QWidget) if isinstance(x, KINDS)]:
            if not c.isVisibleTo(page): continue
            if isinstance(c, QLineEdit) and isinstance(c.parent(), (QComboBox, QAbstractSpinBox)): continue
            n+=1
            if not c.toolTip(): missing.append(f"{type(c).__name__}:{getattr(c,'text',lambda:'')() if isinstance(c,QAbstractButton) else c.objectName()}")
        print(spec.name, n, len(missing), missing)
