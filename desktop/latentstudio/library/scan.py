"""Find what changed in the library folders: new, changed, unchanged, moved, removed, unreadable.

A file is unchanged when its size and mtime match; otherwise its content hash decides. A
new path whose hash belongs to a path that disappeared in the same scan is a move: it keeps
its decoded metadata and its vectors (vectors are keyed by content hash), so it is never
re-encoded. A folder that is missing (an unplugged drive) is reported, not emptied.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import stat as stat_module
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional, Union

from .file_kinds import RAW_FORMAT, RAW_SUFFIXES, VIDEO_FORMAT, VIDEO_SUFFIXES
from .store import OK, PENDING, SKIPPED, Folder, ImageRow, LibraryStore
from .words import FileWords, file_words, name_words, sidecar_candidates

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class ImageType:
    label: str  # as the window names it
    formats: tuple[str, ...]  # as the library records it (decode's lower-case PIL format names)
    suffixes: tuple[str, ...]  # file name endings the scan takes


# The one list of picture types the image library (Pillow) opens: the file dialogs and dropped init
# images read it; the library adds camera RAW and videos (LIBRARY_TYPES: what the scan indexes, the
# Type filter and `find --type` offer), so none can leave a type out. Cameras' JPEGs with a second
# picture inside (MPO) are JPEGs to the user.
IMAGE_TYPES = (
    ImageType("JPEG", ("jpeg", "mpo"), (".jpg", ".jpeg", ".jpe", ".jfif")),
    ImageType("PNG", ("png",), (".png",)),
    ImageType("HEIC/HEIF", ("heif",), (".heic", ".heif")),
    ImageType("AVIF", ("avif",), (".avif",)),
    ImageType("WebP", ("webp",), (".webp",)),
    ImageType("GIF", ("gif",), (".gif",)),
    ImageType("TIFF", ("tiff",), (".tif", ".tiff")),
    ImageType("BMP", ("bmp",), (".bmp",)),
)
IMAGE_SUFFIXES = frozenset(suffix for kind in IMAGE_TYPES for suffix in kind.suffixes)
RAW_TYPE = ImageType("Camera RAW", (RAW_FORMAT,), RAW_SUFFIXES)
VIDEO_TYPE = ImageType("Video", (VIDEO_FORMAT,), VIDEO_SUFFIXES)
LIBRARY_TYPES = IMAGE_TYPES + (RAW_TYPE, VIDEO_TYPE)
LIBRARY_SUFFIXES = frozenset(suffix for kind in LIBRARY_TYPES for suffix in kind.suffixes)
# What a RAW or a Live Photo's video pairs with: the same name beside it in one of these.
PAIRING_SUFFIXES = frozenset((".jpg", ".jpeg", ".heic", ".heif"))


def type_formats(name: str) -> tuple[str, ...]:
    """The recorded formats of a type named as users name it: "jpg", ".HEIC", "heif", "AVIF" …"""
    key = name.strip().lower()
    for kind in LIBRARY_TYPES:
        if key in (kind.label.lower(), *kind.formats) or "." + key.lstrip(".") in kind.suffixes:
            return kind.formats
    raise ValueError(f"unknown picture type {name!r}; known: "
                     + ", ".join(kind.suffixes[0].lstrip(".") for kind in IMAGE_TYPES) + ", raw, video")


def file_dialog_filter(raw: bool = False) -> str:
    """A file dialog's name filter for every picture the image library opens, and camera RAW too
    where the library's decoder reads the file (`raw`), in both cases: some platforms' dialogs
    match case-sensitively, and cameras write .JPG and .CR2, phones .HEIC."""
    patterns = [f"*{suffix}" for kind in IMAGE_TYPES + ((RAW_TYPE,) if raw else ()) for suffix in kind.suffixes]
    return "Images (" + " ".join(patterns + [p.upper() for p in patterns]) + ")"
IGNORED_FILES = frozenset({"thumbs.db", "desktop.ini", "ehthumbs.db", "icon\r"})
IGNORED_DIRS = frozenset({"@eadir", "$recycle.bin", "system volume information", "__macosx", "lost+found"})
HASH_CHUNK = 64 * 1024
COMMIT_EVERY = 500  # files hashed, read and committed together; a stop waits for at most one such chunk

ScanProgress = Callable[[int, Optional[int], str], None]  # (done, total when known, what it does)


@dataclass
class ScanReport:
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    moved: int = 0
    removed: int = 0
    reused: int = 0  # new or changed files whose content already had vectors
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason) found this scan
    missing_folders: list[str] = field(default_factory=list)


def display_path(path: str) -> str:
    """A path as text that SQLite can store, even when the file name is not valid UTF-8."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return os.fsencode(path).decode("utf-8", "backslashreplace")


def is_ignored(name: str) -> bool:
    """Hidden files, macOS resource forks (`._x`) and OS litter are never part of the library."""
    return name.startswith(".") or name.lower() in IGNORED_FILES


def content_hash(path: Union[str, Path], size: int) -> str:
    """Hash of size + first and last 64 KiB: cheap on large photos, stable across moves."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(str(size).encode())
    with open(path, "rb") as fh:
        digest.update(fh.read(HASH_CHUNK))
        if size > 2 * HASH_CHUNK:
            fh.seek(size - HASH_CHUNK)
            digest.update(fh.read(HASH_CHUNK))
        elif size > HASH_CHUNK:
            digest.update(fh.read())
    return digest.hexdigest()


Found = tuple[Optional[os.stat_result], Optional[str]]  # (stat, reason it cannot be used)


def walk_images(root: Path, sidecars: Optional[dict[str, tuple[str, float]]] = None
                ) -> Iterator[tuple[str, Found]]:
    """Library files under root (not following folder links), with a reason for unusable ones;
    XMP sidecars found on the way go into `sidecars` (lower-case path → (path, mtime))."""
    stack = [str(root)]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            log.warning("cannot list %s: %s", display_path(folder), exc)
            continue
        for entry in entries:
            name = entry.name
            if is_ignored(name):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    if name.lower() not in IGNORED_DIRS:
                        stack.append(entry.path)
                    continue
            except OSError:
                continue
            suffix = os.path.splitext(name)[1].lower()
            if suffix == ".xmp" and sidecars is not None:
                with contextlib.suppress(OSError):
                    sidecars[entry.path.lower()] = (entry.path, entry.stat().st_mtime)
                continue
            if suffix not in LIBRARY_SUFFIXES:
                continue
            path = entry.path
            if display_path(path) != path:
                yield path, (None, "file name is not valid UTF-8; rename the file")
                continue
            try:
                st = entry.stat(follow_symlinks=True)
            except FileNotFoundError:
                yield path, (None, "broken link")
                continue
            except OSError as exc:
                yield path, (None, f"cannot read file information ({exc.strerror or exc})")
                continue
            if not stat_module.S_ISREG(st.st_mode):
                continue
            yield path, (st, None)


def _hash_or_reason(path: str, size: int) -> tuple[Optional[str], Optional[str]]:
    if size == 0:
        return None, "empty file (0 bytes)"
    try:
        return content_hash(path, size), None
    except PermissionError:
        return None, "permission denied"
    except OSError as exc:
        return None, f"cannot read file ({exc.strerror or exc})"


def pair_companions(found: dict[str, Found]) -> dict[str, str]:
    """Files that belong to a picture of the same name beside them: a RAW shot as RAW+JPEG, and a
    Live Photo's `.mov` (iPhone: IMG_1234.HEIC + IMG_1234.MOV). Companion path → picture path;
    the pair is one library item, with the picture's pixels and both files named."""
    pictures: dict[str, str] = {}
    for path in found:
        stem, suffix = os.path.splitext(path)
        if suffix.lower() in PAIRING_SUFFIXES:
            pictures[stem.lower()] = path
    paired: dict[str, str] = {}
    for path in found:
        stem, suffix = os.path.splitext(path)
        if suffix.lower() in RAW_SUFFIXES or suffix.lower() == ".mov":
            picture = pictures.get(stem.lower())
            if picture is not None:
                paired[path] = picture
    return paired


def sidecar_of(path: str, companion: Optional[str], sidecars: dict[str, tuple[str, float]]
               ) -> Optional[tuple[str, float]]:
    """(path, mtime) of the XMP sidecar of a file or of the RAW it is paired with."""
    for owner in (path, companion) if companion else (path,):
        for key in sidecar_candidates(owner):
            if key in sidecars:
                return sidecars[key]
    return None


def scan_folders(
    store: LibraryStore,
    folders: list[Folder],
    prune: bool = False,
    progress: Optional[ScanProgress] = None,
    should_stop: Optional[Callable[[], bool]] = None,
) -> ScanReport:
    """Bring the store in line with the files on disk; `prune` drops vectors no image uses."""
    report = ScanReport()
    listings: list[tuple[Folder, dict[str, Found], dict[str, ImageRow]]] = []
    seen = 0
    sidecars: dict[str, tuple[str, float]] = {}
    companion_of: dict[str, str] = {}  # picture path → the file paired with it
    for folder in folders:
        if not folder.path.is_dir():
            report.missing_folders.append(str(folder.path))
            continue
        found: dict[str, Found] = {}
        for path, info in walk_images(folder.path, sidecars):
            found[path] = info
            seen += 1
            if progress and seen % 500 == 0:
                progress(seen, None, f"Looking for changes: {seen:,} files in {folder.path}")
            if should_stop and should_stop():
                return report
        for companion, picture in pair_companions(found).items():
            del found[companion]
            companion_of[display_path(picture)] = display_path(companion)
        listings.append((folder, found, store.images_in(folder.id)))

    # Rows whose files disappeared anywhere in this scan: candidates for moves.
    gone: dict[str, ImageRow] = {}
    for _, found, existing in listings:
        present = {display_path(path) for path in found}
        for path, row in existing.items():
            if path not in present:
                gone[path] = row
    gone_by_hash: dict[str, ImageRow] = {}
    for row in gone.values():
        if row.hash:
            gone_by_hash.setdefault(row.hash, row)
    moved_from: set[str] = set()

    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="latent-scan-hash") as pool:
        for folder, found, existing in listings:
            work: list[tuple[str, os.stat_result, Optional[ImageRow]]] = []
            unusable: list[tuple[str, str, Optional[os.stat_result]]] = []
            unread = store.ids_without_words(folder.id)  # rows whose words were never read (all)
            words_due: list[ImageRow] = []
            repaired: list[tuple[int, Optional[str]]] = []  # (image id, its new companion)

            def sidecar(path: str) -> Optional[tuple[str, float]]:
                return sidecar_of(path, companion_of.get(path), sidecars)

            def read_words(path: str) -> tuple[FileWords, Optional[float]]:
                side = sidecar(path)
                return file_words(Path(path), Path(side[0]) if side else None), side[1] if side else None

            for path, (st, reason) in found.items():
                key = display_path(path)
                old = existing.get(key)
                if reason is not None:
                    if old and old.status == SKIPPED and old.reason == reason:
                        report.unchanged += 1
                    else:
                        unusable.append((key, reason, st))
                    continue
                assert st is not None
                if old and old.size == st.st_size and old.mtime == st.st_mtime:
                    report.unchanged += 1
                    side = sidecar(key)
                    # A changed sidecar (new keywords, a rating) re-reads the words, not the pixels.
                    if old.id in unread or old.sidecar_mtime != (side[1] if side else None):
                        words_due.append(old)
                    if old.companion != companion_of.get(key):
                        repaired.append((old.id, companion_of.get(key)))
                    continue
                work.append((path, st, old))
            due_words = list(pool.map(lambda row: read_words(row.path), words_due))
            root = str(folder.path)
            with store.transaction() as db:
                for key, reason, st in unusable:
                    store.upsert_image(db, folder.id, key, st.st_size if st else 0,
                                       st.st_mtime if st else 0.0, None, SKIPPED, reason)
                    report.skipped.append((key, reason))
                for image_id, companion in repaired:
                    store.set_companion(db, image_id, companion)
            with store.transaction(bump=False) as db:
                for row, (words, side_mtime) in zip(words_due, due_words):
                    store.set_words(db, row.id, name_words(row.path, root), words.text, words.rating, words.label,
                                    side_mtime)
            # New and changed files in chunks: each is hashed, its words read and committed, so a
            # stop (Cancel, quitting) lands within one chunk and keeps what was committed.
            for start in range(0, len(work), COMMIT_EVERY):
                if should_stop and should_stop():
                    return report
                chunk = work[start : start + COMMIT_EVERY]
                hashes = list(pool.map(lambda item: _hash_or_reason(item[0], item[1].st_size), chunk))
                texts = list(pool.map(lambda item: read_words(item[0]) if item[1][0] else (FileWords(""), None), zip(
                    [path for path, _, _ in chunk], hashes)))
                known = store.known_hashes({h for h, _ in hashes if h})
                vectored = store.hashes_with_any_vector({h for h, _ in hashes if h})
                with store.transaction() as db:
                    for (path, st, old), (digest, reason), text in zip(chunk, hashes, texts):
                        if digest is None:
                            store.upsert_image(db, folder.id, path, st.st_size, st.st_mtime, None, SKIPPED, reason)
                            report.skipped.append((path, reason or "unreadable"))
                            continue
                        words, side_mtime = text
                        if old is not None and old.hash == digest:
                            store.touch_image(db, old.id, st.st_size, st.st_mtime)
                            store.set_words(db, old.id, name_words(path, root), words.text, words.rating,
                                            words.label, side_mtime)
                            if old.companion != companion_of.get(path):
                                store.set_companion(db, old.id, companion_of.get(path))
                            report.unchanged += 1
                            continue
                        source = gone_by_hash.get(digest) if old is None else None
                        if source is not None and source.path not in moved_from:
                            moved_from.add(source.path)
                            report.moved += 1
                            status, why = source.status, source.reason
                            like = source
                        else:
                            like = known.get(digest)
                            if old is None:
                                report.new += 1
                            else:
                                report.changed += 1
                            if like is not None or digest in vectored:
                                report.reused += 1
                            # Without a decoded row to copy from it waits to be decoded; its vector
                            # (still stored when the file comes back) is reused then, not recomputed.
                            status, why = (OK if like is not None else PENDING), None
                        image_id = store.upsert_image(db, folder.id, path, st.st_size, st.st_mtime, digest,
                                                      status, why, like=like)
                        store.set_words(db, image_id, name_words(path, root), words.text, words.rating,
                                        words.label, side_mtime)
                        store.set_companion(db, image_id, companion_of.get(path))
                if progress:
                    done = start + len(chunk)
                    progress(done, len(work), f"Reading new and changed files in {folder.path}: {done:,} of {len(work):,}")
            store.mark_scanned(folder.id)

    with store.transaction() as db:
        store.forget_images(db, gone)
    report.removed = len(gone) - len(moved_from)
    if prune:
        store.prune_vectors()
    return report
