"""Start the GUI: the window shows first; the engine (and torch) start after the first paint."""

from __future__ import annotations

import logging
import sys

from .context import AppContext
from .process_exit import exit_now
from .process_start import ms_since_process_start

CLOSE_WAIT_S = 0.5  # for running jobs to reach a checkpoint once the window closes
log = logging.getLogger(__name__)


def run_gui(ctx: AppContext, quit_after_shown: bool = False) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from .ui.background import wait_for_background
    from .ui.error_reporting import ErrorReporter
    from .ui.garbage_collection import GuiThreadGarbageCollector
    from .ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Latent Studio")
    app.setOrganizationName("Latent Studio")
    collector = GuiThreadGarbageCollector(app)
    window = MainWindow(ctx)
    errors = ErrorReporter(window.show_error, window).install()

    def shown() -> None:
        if quit_after_shown:
            print(f"window-shown-ms: {ms_since_process_start():.0f}", flush=True)
            QTimer.singleShot(0, app.quit)
        else:
            QTimer.singleShot(0, window.attach_engine)

    window.firstPainted.connect(shown)
    window.show()
    try:
        code = app.exec()
    finally:
        errors.uninstall()
        collector.stop()
        window.bridge.detach()
        wait_for_background()
        stopped = ctx.close(timeout=CLOSE_WAIT_S, release_models=False)
    if not stopped:
        log.info("closing while a job finishes its step: it is rolled back and done again next time")
    exit_now(code)
    return code
