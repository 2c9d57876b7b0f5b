"""Analysis results saved with the library: one .npz per result and model, in the data home's
`analysis/<model>/` folder, written atomically, with a format number (a newer file is refused and
left as it is)."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Optional

import numpy as np

from ...atomic_files import atomic_write
from ...models.registry import slugify

log = logging.getLogger(__name__)


def analysis_folder(home: Path, model: str) -> Path:
    return home / "analysis" / slugify(model)


def save(path: Path, fmt: int, **arrays: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, format=np.array(fmt), **arrays)
    with atomic_write(path, binary=True) as fh:
        fh.write(buffer.getvalue())


def load(path: Path, fmt: int) -> Optional[dict[str, np.ndarray]]:
    """The arrays, or None when there is no readable file (then it is computed again)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError, KeyError) as exc:
        log.warning("ignoring unreadable %s: %s", path, exc)
        return None
    found = int(arrays.get("format", -1))
    if found > fmt:
        raise ValueError(f"{path} was written by a newer Latent Studio (format {found}, this one reads "
                         f"{fmt}); update the app. The file was not changed.")
    return arrays if found == fmt else None
