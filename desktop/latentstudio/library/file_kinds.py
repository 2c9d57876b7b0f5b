"""The library's files beyond what the image library opens: camera RAW and videos, by name ending,
and the format each is recorded under. Imports nothing of the project: the store, the scan and the
decoders all read these."""

from __future__ import annotations

import os

RAW_FORMAT = "raw"
# The RAW formats LibRaw reads that cameras write (Canon, Nikon, Sony, Fujifilm, Olympus/OM,
# Panasonic, Pentax, Samsung, Sigma, Hasselblad, Phase One, Leica, Minolta, Kodak, Adobe DNG).
RAW_SUFFIXES = (".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".raf", ".orf",
                ".rw2", ".pef", ".srw", ".x3f", ".3fr", ".fff", ".iiq", ".rwl", ".mrw", ".kdc", ".dcr", ".erf")
VIDEO_FORMAT = "video"
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm", ".3gp", ".mts", ".m2ts", ".mpg", ".mpeg",
                  ".wmv")


def is_video(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in VIDEO_SUFFIXES
