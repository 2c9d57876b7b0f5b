"""Read and check a safetensors header without loading any weights."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

MAX_HEADER_BYTES = 100 * 2**20


class InvalidWeightsError(ValueError):
    """A weights file that is corrupt, truncated or not safetensors at all."""


def read_header(path: Path) -> dict[str, Any]:
    """The tensor table of a .safetensors file (metadata removed), checked against the file size."""
    return read_header_and_metadata(path)[0]


def read_header_and_metadata(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """(tensor table, the `__metadata__` strings: training settings for LoRAs) of a checked file."""
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            prefix = fh.read(8)
            if len(prefix) < 8:
                raise InvalidWeightsError(f"{path.name}: too short to be a safetensors file")
            (length,) = struct.unpack("<Q", prefix)
            if length > MAX_HEADER_BYTES or 8 + length > size:
                raise InvalidWeightsError(f"{path.name}: not a safetensors file (bad header length)")
            raw = fh.read(length)
    except OSError as exc:
        raise InvalidWeightsError(f"{path.name}: cannot read ({exc.strerror or exc})") from exc
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidWeightsError(f"{path.name}: corrupt safetensors header ({exc})") from exc
    if not isinstance(header, dict):
        raise InvalidWeightsError(f"{path.name}: corrupt safetensors header")
    metadata = header.pop("__metadata__", None)
    metadata = {str(k): str(v) for k, v in metadata.items()} if isinstance(metadata, dict) else {}
    data_end = 0
    for name, info in header.items():
        try:
            start, end = info["data_offsets"]
        except (TypeError, KeyError, ValueError) as exc:
            raise InvalidWeightsError(f"{path.name}: corrupt entry for tensor {name!r}") from exc
        data_end = max(data_end, int(end))
    if 8 + length + data_end > size:
        raise InvalidWeightsError(
            f"{path.name}: truncated: the header describes {8 + length + data_end:,} bytes "
            f"but the file has {size:,} (an incomplete download or copy?)"
        )
    return header, metadata
