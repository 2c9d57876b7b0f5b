"""Closing the library while another thread is inside a statement (quitting during a long folder
removal): the statement is interrupted, the process lives, and the store refuses new work."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from latentstudio.library.store import LibraryStore

# Counts to a hundred million: seconds of work inside one statement, wherever it runs.
LONG_QUERY = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000) SELECT COUNT(*) FROM n"


def test_closing_interrupts_a_statement_running_on_another_thread(tmp_path: Path) -> None:
    store = LibraryStore(tmp_path / "library.sqlite3")
    started, outcome = threading.Event(), {}

    def long_read() -> None:
        db = store.connection()
        db.set_progress_handler(lambda: started.set() and 0, 1000)  # set once the statement runs
        try:
            outcome["rows"] = db.execute(LONG_QUERY).fetchall()
        except sqlite3.Error as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=long_read)
    worker.start()
    assert started.wait(10)
    store.close()
    worker.join(30)
    assert not worker.is_alive()
    assert isinstance(outcome.get("error"), sqlite3.OperationalError) and "interrupt" in str(outcome["error"])
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        store.connection()


def test_closing_closes_this_threads_and_ended_threads_connections(tmp_path: Path) -> None:
    store = LibraryStore(tmp_path / "library.sqlite3")
    mine = store.connection()
    held = {}
    ended = threading.Thread(target=lambda: held.setdefault("db", store.connection()))
    ended.start()
    ended.join()
    store.close()
    for db in (mine, held["db"]):
        with pytest.raises(sqlite3.ProgrammingError):
            db.execute("SELECT 1")
