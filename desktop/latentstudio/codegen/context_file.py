"""Read a file given as context for a generation (a file to edit or build on)."""

from __future__ import annotations

from pathlib import Path

MAX_CONTEXT_BYTES = 1_000_000


def read_context(path: Path) -> str:
    """The file's text; FileNotFoundError, or ValueError for a file too large or not UTF-8 text."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"context file not found: {path}")
    if path.stat().st_size > MAX_CONTEXT_BYTES:
        raise ValueError(f"{path.name} is over {MAX_CONTEXT_BYTES // 1000} kB; give a smaller context file")
    data = path.read_bytes()
    if b"\x00" in data:
        raise ValueError(f"{path.name} is not a text file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path.name} is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
