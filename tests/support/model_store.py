"""Tiny models for tests, built once by make_models and cached outside the checkout.

The cache lives in the user cache folder (or `LATENT_STUDIO_TEST_MODELS`), so a fresh clone, CI's
included, reuses models built before; a cached model is rebuilt when the source of its builder
changes (a stamp holds a hash).
"""

from __future__ import annotations

import hashlib
import inspect
import os
import shutil
import tempfile
from pathlib import Path

import platformdirs

from tests.support import make_models

CACHE = Path(os.environ.get("LATENT_STUDIO_TEST_MODELS") or platformdirs.user_cache_path("latent-studio") / "test-models")
STAMP = ".builder-stamp"


def _stamp(name: str) -> str:
    builder = make_models.BUILDERS[name]
    module = inspect.getmodule(builder)
    source = inspect.getsource(module) if module else inspect.getsource(builder)
    return hashlib.sha256(source.encode()).hexdigest()


def tiny_model(name: str) -> Path:
    """Path of the built model `name` (built now if missing or stale)."""
    target = CACHE / name
    stamp = _stamp(name)
    if (target / STAMP).is_file() and (target / STAMP).read_text() == stamp:
        return target / name
    CACHE.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=CACHE))
    try:
        make_models.build(name, staging)
        (staging / STAMP).write_text(stamp)
        if target.exists():
            shutil.rmtree(target)
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target / name
