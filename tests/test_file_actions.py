"""Opening at a position: a source at its line in an editor that can be told it, and the system's
app (with the line said) when none is installed."""

from __future__ import annotations

import stat
from pathlib import Path

from latentstudio.ui import file_actions


def _fake_program(folder: Path, name: str, record: Path) -> None:
    folder.mkdir(exist_ok=True)
    program = folder / name
    program.write_text(f"#!/bin/sh\necho \"$@\" > {record}\n")
    program.chmod(program.stat().st_mode | stat.S_IEXEC)


def test_a_source_opens_at_its_line_in_an_editor_that_takes_one(qtbot, tmp_path: Path, monkeypatch) -> None:
    source = tmp_path / "parser.py"
    source.write_text("def parse():\n    pass\n")
    record = tmp_path / "args.txt"
    _fake_program(tmp_path / "bin", "kate", record)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert file_actions.open_at_line(source, 42) == ""
    qtbot.waitUntil(record.exists, timeout=10000)
    assert record.read_text().split() == ["--line", "42", str(source)]

    _fake_program(tmp_path / "bin", "code", record)  # VS Code comes first when both are there
    record.unlink()
    assert file_actions.open_at_line(source, 7) == ""
    qtbot.waitUntil(record.exists, timeout=10000)
    assert record.read_text().split() == ["--goto", f"{source}:7"]


def test_without_such_an_editor_the_system_opens_it_and_the_line_is_said(qtbot, tmp_path: Path,
                                                                         monkeypatch) -> None:
    source = tmp_path / "parser.py"
    source.write_text("x = 1\n")
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    opened: list = []
    monkeypatch.setattr(file_actions.QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    assert "line 12" in file_actions.open_at_line(source, 12)
    assert [u.toLocalFile() for u in opened] == [str(source)]
    assert "no longer there" in file_actions.open_at_line(tmp_path / "gone.py", 3)
