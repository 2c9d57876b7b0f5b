"""Keep a project's index fresh: walk it, re-read only files whose size or mtime changed (and
re-chunk only those whose content hash changed), purge deleted files, then embed the chunks that
have no vector of the model yet, a batch at a time with a checkpoint between batches."""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from .chunking import chunk_file
from .store import ProjectStore
from .walk import skip_reason, walk_project

log = logging.getLogger(__name__)

COMMIT_EVERY = 200  # files per transaction: a kill loses at most this much work
CHECK_EVERY = 1000  # files between checkpoints when few of them changed (a Stop answers within these)
EMBED_BATCH = 64

Progress = Callable[[int, Optional[int], str], None]


def _no_progress(done: int, total: Optional[int], message: str) -> None:
    pass


@dataclass
class RefreshReport:
    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def describe(self) -> str:
        parts = [f"{self.added} new", f"{self.changed} changed", f"{self.removed} removed",
                 f"{self.unchanged} unchanged"]
        if self.skipped:
            parts.append("skipped: " + ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items())))
        return ", ".join(parts)


def refresh(store: ProjectStore, root: Path, progress: Progress = _no_progress,
            checkpoint: Callable[[], None] = lambda: None) -> RefreshReport:
    """Bring the store in line with the folder; `checkpoint` may raise to cancel (what was
    committed stays, and the next refresh goes on from there)."""
    start = time.perf_counter()
    root = Path(root)
    walked = walk_project(root, checkpoint, lambda found: progress(found, None, f"Finding files… {found} found"))
    report = RefreshReport(skipped=Counter(walked.skipped))
    known = store.files()
    seen: set[str] = set()
    total = len(walked.files)
    pending: list[tuple] = []

    def flush() -> None:
        with store.transaction() as db:
            for item in pending:
                store.put_file(db, *item)
        pending.clear()

    for done, key in enumerate(walked.files, 1):
        seen.add(key)
        path = root / key
        try:
            stat = path.stat()
        except OSError:
            report.skipped["unreadable"] += 1
            continue
        old = known.get(key)
        if old is not None and old[1] == stat.st_size and old[2] == stat.st_mtime:
            if old[4] == "ok":
                report.unchanged += 1
            else:  # skipped when it was read (binary, huge, …): not opened again until it changes
                report.skipped[old[5] or "skipped"] += 1
        else:
            item = _read_file(path, key, stat.st_size, stat.st_mtime, old[3] if old else None)
            if item is None:  # same content, touched: only the stamp changes
                report.unchanged += 1
                pending.append((key, stat.st_size, stat.st_mtime, old[3], old[4], None, None))
            else:
                if item[4] != "ok":
                    report.skipped[item[5]] += 1
                elif old is None:
                    report.added += 1
                else:
                    report.changed += 1
                pending.append(item)
        if len(pending) >= COMMIT_EVERY or done % CHECK_EVERY == 0:
            if pending:
                flush()
            checkpoint()
        if done % 100 == 0 or done == total:
            progress(done, total, f"Reading files… {done}/{total}")
    flush()
    gone = [key for key in known if key not in seen]
    if gone:
        with store.transaction() as db:
            for key in gone:
                store.remove_file(db, key)
    report.removed = len(gone)
    report.seconds = time.perf_counter() - start
    return report


def _read_file(path: Path, key: str, size: int, mtime: float, old_hash: Optional[str]) -> Optional[tuple]:
    """The put_file arguments for a new or changed file; None when its content is as stored.
    A file that changes while read is read again once; unreadable files are recorded, not fatal."""
    for _ in range(2):
        reason = skip_reason(path)
        if reason:
            return (key, size, mtime, None, "skipped", reason, [])
        try:
            data = path.read_bytes()
            after = path.stat()
        except OSError:
            return (key, size, mtime, None, "skipped", "unreadable", [])
        if after.st_size == len(data) and after.st_mtime == mtime:
            break
        size, mtime = after.st_size, after.st_mtime  # changed while read: once more
    digest = hashlib.sha256(data).hexdigest()
    if digest == old_hash:
        return None
    text = data.decode("utf-8", errors="replace")
    return (key, len(data), mtime, digest, "ok", None, chunk_file(Path(key), text))


def embed_pending(store: ProjectStore, embed: Callable[[list[str]], "object"], model: str,
                  progress: Progress = _no_progress, checkpoint: Callable[[], None] = lambda: None,
                  batch: int = EMBED_BATCH) -> int:
    """Embed every chunk without a vector of `model`, committing each batch; returns how many."""
    total = store.pending_count(model)
    done = after = 0
    while True:
        rows = store.pending(model, batch, after)
        if not rows:
            return done
        after = rows[-1][0]
        texts = {digest: text for _, digest, text in rows}  # one per content: same hash, same vector
        vectors = embed(list(texts.values()))
        store.put_vectors(model, list(texts), vectors)
        done += len(texts)
        progress(done, total, f"Embedding chunks… {done}/{total}")
        checkpoint()  # Stop ends here; a search waiting runs here
