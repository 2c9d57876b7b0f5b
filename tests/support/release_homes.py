"""Data homes as released versions left them, kept in `tests/support/homes/<version>/` for the
upgrade tests (`tests/test_release_homes.py`).

A home is written once, by the release it is named after, and never regenerated: run
`python tests/support/release_homes.py VERSION` with that release checked out, commit the folder,
and leave it alone afterwards. Each home holds what `expected.json` lists: the settings, one
photo folder with pictures and vectors, a generated picture, a model manifest and a code history.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "desktop"))

HOMES = Path(__file__).resolve().parent / "homes"

EXPECTED = {
    "settings": {"library_folders": ["/photos"], "search_min_score": 0.25, "offline_mode": True},
    "folders": ["/photos"],
    "images": {"/photos/beach.jpg": "ok", "/photos/dog.png": "ok", "/photos/broken.jpg": "skipped"},
    "vectors": {"model": "clip-home", "count": 2, "dim": 8},
    "models": {"clip": ["clip-home"]},
    "history": [{"prompt": "Parse a CSV file", "code": "import csv"}],
}


def write_current_home(home: Path) -> None:
    """A home written by this checkout's code through its own stores."""
    import numpy as np

    from latentstudio.codegen.syntax import SyntaxReport
    from latentstudio.codegen.history import HistoryEntry, HistoryStore
    from latentstudio.config import load_settings, save_settings
    from latentstudio.library.store import LibraryStore
    from latentstudio.paths import Paths

    paths = Paths(home).ensure()
    settings = load_settings(paths.settings_file)
    settings.update(**EXPECTED["settings"])
    save_settings(settings, paths.settings_file)

    library = LibraryStore(paths.library_db)
    try:
        folder = library.add_folder(Path("/photos"))
        rng = np.random.default_rng(0)
        vectors = EXPECTED["vectors"]
        with library.transaction() as db:
            for k, (path, status) in enumerate(EXPECTED["images"].items()):
                digest = None if status == "skipped" else f"h{k}"
                image_id = library.upsert_image(db, folder.id, path, 10, 1.0, digest, status,
                                                reason="truncated" if status == "skipped" else None)
                library.set_words(db, image_id, Path(path).stem, "")
                if digest is not None:
                    data = rng.standard_normal(vectors["dim"]).astype(np.float16).tobytes()
                    db.execute("INSERT INTO vectors(hash, model, dim, data) VALUES(?, ?, ?, ?)",
                               (digest, vectors["model"], vectors["dim"], data))
    finally:
        library.close()

    model = paths.models / "clip" / "clip-home"
    (model / "model").mkdir(parents=True)
    (model / "model" / "open_clip_model.safetensors").write_bytes(b"not read by the registry")
    from latentstudio.models.registry import MANIFEST_VERSION

    (model / "manifest.json").write_text(json.dumps({
        "id": "clip-home", "kind": "clip", "format": "open_clip_hub", "entry": "model",
        "size_bytes": 24, "manifest_version": MANIFEST_VERSION,
    }, indent=2))

    history = HistoryStore(paths.code_history_db)
    for item in EXPECTED["history"]:
        history.add(HistoryEntry(model_id="llm-home", language="python", prompt=item["prompt"],
                                 output=item["code"], code=item["code"],
                                 syntax=SyntaxReport(language="python", checked=True, ok=True)))
    _checkpoint(paths.library_db)
    _checkpoint(paths.code_history_db)


def _checkpoint(path: Path) -> None:
    """Fold the write-ahead log into the file, so the home is one file per database."""
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("PRAGMA journal_mode=DELETE")
    finally:
        db.close()


def main(argv: list[str]) -> int:
    from latentstudio import __version__

    if argv != [__version__]:
        print(f"usage: release_homes.py {__version__}  (the version this checkout is)", file=sys.stderr)
        return 2
    home = HOMES / __version__
    if home.exists():
        print(f"{home} exists: a released home is never rewritten", file=sys.stderr)
        return 1
    write_current_home(home)
    for leftover in ("thumbnails", "downloads", "outputs", "logs"):
        folder = home / leftover
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    (home / "expected.json").write_text(json.dumps(EXPECTED, indent=2) + "\n")
    print(home)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
