"""Moving pictures the user chose to the system trash (send2trash): never a delete.

Only paths that are library images are accepted (a path from anywhere else is refused), and a
picture leaves the library only once it is really in the trash.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from ..photo_library import Library

log = logging.getLogger(__name__)


@dataclass
class TrashReport:
    moved: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)


def move_to_trash(library: "Library", paths: Sequence[str]) -> TrashReport:
    from send2trash import send2trash

    report = TrashReport()
    for path in paths:
        path = os.path.abspath(path)
        if library.store.image_by_path(path) is None:
            report.failed.append((path, "not a picture in the library"))
            continue
        if not Path(path).is_file():
            report.failed.append((path, "the file is gone"))
            continue
        try:
            send2trash(path)
        except OSError as exc:  # send2trash's TrashPermissionError is an OSError too
            log.warning("could not move %s to the trash: %s", path, exc)
            report.failed.append((path, str(exc) or type(exc).__name__))
            continue
        report.moved.append(path)
    if report.moved:
        with library.store.transaction() as db:
            library.store.forget_images(db, report.moved)
    return report
