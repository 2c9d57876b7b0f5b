"""Sizes and durations as people read them: one way, everywhere (window, CLI, logs)."""

from __future__ import annotations


def format_bytes(size: float) -> str:
    """Decimal units, as file managers and download pages show them: 1.2 GB."""
    for unit in ("B", "KB", "MB", "GB"):
        if abs(size) < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def format_duration(seconds: float) -> str:
    """m:ss, or h:mm:ss from an hour on."""
    seconds = int(seconds + 0.5)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def counted(n: int, noun: str, plural: str = "") -> str:
    """A count with its noun in agreement: 1 picture, 2 pictures, 12,345 pictures."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
