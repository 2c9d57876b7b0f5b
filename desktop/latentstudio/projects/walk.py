"""Which files of a project are indexed: `.gitignore` files honoured (pathspec's git matcher, each
applying below its folder), default excludes (version control, dependencies, virtual environments,
build output, secrets), and binary, huge, minified or generated files skipped with a counted reason.

The walk only lists and matches names; a file's content is sniffed (`skip_reason`) when it is read,
that is when it is new or its size or time changed, so a refresh of an unchanged project opens no file."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import pathspec

MAX_FILE_BYTES = 1_000_000
SNIFF_BYTES = 8192
MINIFIED_LINE = 1000  # a line this long in a file of few lines: minified or generated
# Git-style patterns applied to every project before its own .gitignore.
DEFAULT_EXCLUDES = (
    ".git/", ".hg/", ".svn/", "node_modules/", "bower_components/", ".venv/", "venv/", ".tox/", ".nox/",
    "__pycache__/", ".mypy_cache/", ".pytest_cache/", ".ruff_cache/", ".gradle/", ".idea/",
    "build/", "dist/", "target/", "out/", ".next/", ".cache/", "*.egg-info/", "site-packages/",
    ".env", ".env.*", "*.pem", "*.key", "*.p12", "*.pfx", "id_rsa*", "id_ed25519*", "*.keystore",
    "*.min.js", "*.min.css", "*.map", "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock",
    "Cargo.lock", "*.pyc", "*.so", "*.dll", "*.dylib", "*.exe", "*.o", "*.a", "*.class", "*.jar",
)
DEFAULT_SPEC = pathspec.GitIgnoreSpec.from_lines(DEFAULT_EXCLUDES)


WALK_PROGRESS_EVERY = 2000  # files found between progress reports


@dataclass
class WalkReport:
    files: list[str] = field(default_factory=list)  # POSIX paths relative to the root, sorted per folder
    skipped: Counter = field(default_factory=Counter)  # reason -> count (ignored names, excluded folders)


Spec = tuple[str, pathspec.GitIgnoreSpec]  # (folder relative to the root, its .gitignore)


def _ignored(rel: str, is_dir: bool, specs: Sequence[Spec]) -> bool:
    """Whether a default exclude or a .gitignore of the folder or its parents (`specs`) matches."""
    probe = rel + "/" if is_dir else rel
    if DEFAULT_SPEC.match_file(probe):
        return True
    return any(spec.match_file(probe[len(base) + 1:] if base else probe) for base, spec in specs)


def _read_spec(folder: Path) -> Optional[pathspec.GitIgnoreSpec]:
    try:
        lines = (folder / ".gitignore").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return pathspec.GitIgnoreSpec.from_lines(lines)


def walk_project(root: Path, checkpoint: Callable[[], None] = lambda: None,
                 progress: Callable[[int], None] = lambda found: None) -> WalkReport:
    """The project's candidate files and the count of each reason names were left out. `checkpoint`
    runs once a folder (it may raise to cancel); `progress` hears the count found now and then."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"project folder not found: {root}")
    report = WalkReport()
    # Each folder's applicable .gitignore files (its own and its parents'), so a name is matched
    # against those only, not against every .gitignore of the project.
    applicable: dict[str, tuple[Spec, ...]] = {}
    reported = 0
    for folder, dirs, names in os.walk(root):
        checkpoint()
        here = Path(folder)
        rel_dir = "" if here == root else here.relative_to(root).as_posix()
        specs = applicable.pop(rel_dir, ())
        spec = _read_spec(here)
        if spec is not None:
            specs = (*specs, (rel_dir, spec))
        kept = []
        for name in sorted(dirs):
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if (here / name).is_symlink() or (here / name / "pyvenv.cfg").is_file():
                report.skipped["excluded folder"] += 1  # links may leave the project; venvs are not the user's code
            elif _ignored(rel, True, specs):
                report.skipped["ignored"] += 1
            else:
                kept.append(name)
                applicable[rel] = specs
        dirs[:] = kept
        for name in sorted(names):
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if _ignored(rel, False, specs):
                report.skipped["ignored"] += 1
            else:
                report.files.append(rel)
        if len(report.files) - reported >= WALK_PROGRESS_EVERY:
            reported = len(report.files)
            progress(reported)
    return report


def skip_reason(path: Path) -> Optional[str]:
    """Why a file is not indexed (None: it is): unreadable, huge, binary, minified."""
    try:
        if path.is_symlink() or not path.is_file():
            return "not a regular file"
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return "huge"
        with path.open("rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError:
        return "unreadable"
    if b"\x00" in head:
        return "binary"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the sniff's end
            return "binary"
    lines = head.split(b"\n")
    if len(head) >= 2000 and max(len(line) for line in lines) >= MINIFIED_LINE and len(lines) < 10:
        return "minified"
    return None

