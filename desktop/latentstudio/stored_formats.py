"""Files this release reads but must not rewrite: those written by a newer release."""

from __future__ import annotations

from pathlib import Path


class NewerFormatError(OSError):
    """A file in a format newer than this release understands: it is left exactly as it is."""

    def __init__(self, path: Path, found: object, understood: int, what: str):
        super().__init__(
            f"{path} holds {what} written by a newer Latent Studio (format {found}; this release "
            f"understands up to {understood}). Update the app; the file was not changed."
        )
        self.path = path


def format_number(data: dict, key: str) -> int:
    """The format a JSON file declares; files from before formats were numbered count as 0."""
    value = data.get(key, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
