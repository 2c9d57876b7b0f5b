"""Where generated images go: `<outputs>/YYYY-MM-DD/NNNNN-SEED-prompt-words.png` (or .jpg, .webp), never overwriting."""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Callable, Optional

MAX_SLUG = 48


def prompt_slug(prompt: str) -> str:
    words = re.findall(r"[a-z0-9]+", prompt.lower())
    slug = "-".join(words)[:MAX_SLUG].strip("-")
    return slug or "image"


def day_folder(outputs: Path, now: Optional[datetime] = None) -> Path:
    return outputs / (now or datetime.now()).strftime("%Y-%m-%d")


def _next_number(folder: Path) -> int:
    numbers = [int(m.group(1)) for p in folder.iterdir() if (m := re.match(r"(\d{5,})-", p.name))]
    return max(numbers, default=0) + 1


def write_new_file(
    outputs: Path,
    seed: Optional[int],
    prompt: str,
    write: Callable[[Path], None],
    now: Optional[datetime] = None,
    suffix: str = ".png",
) -> Path:
    """Reserve a fresh name (exclusive create, so two writers never collide) and write the image into it."""
    folder = day_folder(outputs, now)
    folder.mkdir(parents=True, exist_ok=True)
    number = _next_number(folder)
    slug = prompt_slug(prompt)
    while True:
        # A picture made without a seed (an upscaled photo) is named without one.
        path = folder / (f"{number:05d}-{slug}{suffix}" if seed is None else f"{number:05d}-{seed}-{slug}{suffix}")
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            number += 1
            continue
        os.close(fd)
        break
    try:
        write(path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path
