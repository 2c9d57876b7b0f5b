"""Which files of a project are indexed: `.gitignore` files honoured (pathspec's git matcher, each
applying below its folder), default excludes (version control, dependencies, virtual environments,
build output, secrets), and binary, huge, minified or generated files skipped with a counted reason."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

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


@dataclass
class WalkReport:
    files: list[Path] = field(default_factory=list)  # relative to the root, indexable
    skipped: Counter = field(default_factory=Counter)  # reason -> count


def _ignored(rel: str, is_dir: bool, specs: list[tuple[str, pathspec.GitIgnoreSpec]]) -> bool:
    probe = rel + "/" if is_dir else rel
    if DEFAULT_SPEC.match_file(probe):
        return True
    for base, spec in specs:
        if base and not probe.startswith(base + "/"):
            continue
        if spec.match_file(probe[len(base) + 1:] if base else probe):
            return True
    return False


def _read_spec(folder: Path) -> Optional[pathspec.GitIgnoreSpec]:
    try:
        lines = (folder / ".gitignore").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return pathspec.GitIgnoreSpec.from_lines(lines)


def walk_project(root: Path, cancelled: Callable[[], bool] = lambda: False) -> WalkReport:
    """The project's indexable files (sorted) and the count of each reason files were left out."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"project folder not found: {root}")
    report = WalkReport()
    specs: list[tuple[str, pathspec.GitIgnoreSpec]] = []
    for folder, dirs, names in os.walk(root):
        if cancelled():
            break
        here = Path(folder)
        rel_dir = "" if here == root else here.relative_to(root).as_posix()
        spec = _read_spec(here)
        if spec is not None:
            specs.append((rel_dir, spec))
        kept = []
        for name in sorted(dirs):
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if (here / name).is_symlink() or (here / name / "pyvenv.cfg").is_file():
                report.skipped["excluded folder"] += 1  # links may leave the project; venvs are not the user's code
            elif _ignored(rel, True, specs):
                report.skipped["ignored"] += 1
            else:
                kept.append(name)
        dirs[:] = kept
        for name in sorted(names):
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if _ignored(rel, False, specs):
                report.skipped["ignored"] += 1
                continue
            reason = skip_reason(here / name)
            if reason:
                report.skipped[reason] += 1
            else:
                report.files.append(Path(rel))
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

