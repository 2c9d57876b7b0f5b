"""Project context: the walk (.gitignore, default excludes, skip reasons), chunks by syntax, the
index kept fresh (only changed files re-read, deleted ones purged, nothing embedded twice, resumable,
a model of another dimension re-embedded), fused retrieval, and the CLI."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from latentstudio.cli import main
from latentstudio.engine import Cancelled, Engine
from latentstudio.models import ModelRegistry
from latentstudio.paths import Paths
from latentstudio.projects.chunking import MAX_CHUNK_LINES, chunk_file
from latentstudio.projects.index import embed_pending, refresh
from latentstudio.projects.retrieve import identifiers_in
from latentstudio.projects.service import submit_index, submit_search
from latentstudio.projects.store import ProjectStore
from latentstudio.projects.walk import walk_project

CONFIG_PY = '''"""Settings."""
import json


def parse_config(path):
    """Read the settings file."""
    return json.loads(open(path).read())


class HistoryStore:
    def add(self, entry):
        return entry

    def delete(self, entry_id):
        return True
'''


def _project(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "config.py").write_text(CONFIG_PY)
    (root / "pkg" / "render.js").write_text("export function renderView(view) {\n  return view.html;\n}\n")
    (root / "README.md").write_text("# Demo\n\nA project to search.\n")
    (root / ".gitignore").write_text("*.log\nsecret/\n")
    (root / "debug.log").write_text("ignored by .gitignore\n")
    (root / "secret").mkdir()
    (root / "secret" / "token.py").write_text("TOKEN = 1\n")
    (root / ".env").write_text("API_KEY=1\n")
    (root / "node_modules" / "lib").mkdir(parents=True)
    (root / "node_modules" / "lib" / "index.js").write_text("module.exports = 1\n")
    (root / "myenv").mkdir()
    (root / "myenv" / "pyvenv.cfg").write_text("home = /usr\n")
    (root / "myenv" / "site.py").write_text("x = 1\n")
    (root / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    (root / "bundle.js").write_text("var a=1;" * 400)
    (root / "huge.txt").write_text("x" * 1_100_000)
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return _project(tmp_path / "project")


@pytest.fixture
def registry(paths: Paths, tiny_models: Callable[[str], Path]) -> ModelRegistry:
    registry = ModelRegistry(paths.models)
    registry.import_path(tiny_models("text-embedding-tiny"), kind="text-embedding", model_id="tiny-te", link=True)
    return registry


def test_the_walk_honours_gitignore_and_default_excludes_and_counts_skips(project: Path, tmp_path: Path) -> None:
    report = walk_project(project)
    assert sorted(report.files) == [".gitignore", "README.md", "bundle.js", "huge.txt", "image.png",
                                    "pkg/config.py", "pkg/render.js"]  # contents are sniffed when read
    assert report.skipped["excluded folder"] == 1  # the virtual environment
    assert report.skipped["ignored"] >= 4  # debug.log, secret/, .env, node_modules/
    store = ProjectStore(tmp_path / "index.sqlite3")
    first = refresh(store, project)
    assert first.added == 4 and first.skipped["binary"] == 1 and first.skipped["minified"] == 1
    assert first.skipped["huge"] == 1 and first.skipped["excluded folder"] == 1
    assert refresh(store, project).skipped == first.skipped  # counted again from the store, not re-read
    store.close()
    with pytest.raises(FileNotFoundError, match="project folder not found"):
        walk_project(project / "nope")


def test_a_gitignore_applies_below_its_folder_only(tmp_path: Path) -> None:
    for folder in ("a", "a/deep", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.py").write_text("x = 1\n")
    (tmp_path / "a" / ".gitignore").write_text("x.py\n")
    assert sorted(walk_project(tmp_path).files) == ["a/.gitignore", "b/x.py"]


def test_an_unchanged_project_is_refreshed_without_opening_a_file(project: Path, tmp_path: Path, monkeypatch) -> None:
    from latentstudio.projects import index

    store = ProjectStore(tmp_path / "index.sqlite3")
    refresh(store, project)

    def opened(*args, **kwargs):
        raise AssertionError("a file was opened")

    monkeypatch.setattr(index, "_read_file", opened)
    assert refresh(store, project).unchanged == 4
    store.close()


def test_a_stop_during_the_walk_ends_it_and_it_reports_progress(tmp_path: Path, monkeypatch) -> None:
    from latentstudio.projects import walk

    monkeypatch.setattr(walk, "WALK_PROGRESS_EVERY", 10)
    for k in range(30):
        (tmp_path / "p" / f"d{k}").mkdir(parents=True)
        (tmp_path / "p" / f"d{k}" / "m.py").write_text("x = 1\n")
    found: list[int] = []
    folders = [0]

    def stop_at_the_twentieth_folder() -> None:
        folders[0] += 1
        if folders[0] == 20:
            raise Cancelled("stopped")

    with pytest.raises(Cancelled):
        walk_project(tmp_path / "p", stop_at_the_twentieth_folder, found.append)
    assert found == [10]
    store = ProjectStore(tmp_path / "index.sqlite3")
    messages: list[str] = []
    refresh(store, tmp_path / "p", progress=lambda done, total, message: messages.append(message))
    assert messages[:3] == ["Finding files… 10 found", "Finding files… 20 found", "Finding files… 30 found"]
    store.close()


def test_chunks_follow_the_syntax_and_large_classes_split_by_method() -> None:
    chunks = chunk_file(Path("config.py"), CONFIG_PY)
    assert [c.symbol for c in chunks] == ["", "parse_config", "HistoryStore"]
    assert (chunks[1].start_line, chunks[1].end_line) == (5, 7)
    methods = "\n".join(f"    def m{k}(self):\n" + "        x = 1\n" * 8 for k in range(20))
    big = f"class Big:\n    \"\"\"Many methods.\"\"\"\n{methods}"
    split = chunk_file(Path("big.py"), big)
    assert len(big.splitlines()) > MAX_CHUNK_LINES
    assert [c.symbol for c in split if c.symbol][:3] == ["Big.m0", "Big.m1", "Big.m2"]
    assert all(c.text.startswith("class Big:") for c in split)  # each method under its class's header
    js = chunk_file(Path("r.js"), "export function renderView(v) {\n  return v;\n}\n")
    assert [c.symbol for c in js] == ["renderView"]
    text = chunk_file(Path("notes.txt"), "\n".join(f"line {k}" for k in range(100)))
    assert [(c.start_line, c.end_line) for c in text] == [(1, 40), (41, 80), (81, 100)]


def test_refresh_reads_only_changes_and_purges_deleted_files(project: Path, tmp_path: Path) -> None:
    store = ProjectStore(tmp_path / "index.sqlite3")
    first = refresh(store, project)
    assert (first.added, first.changed, first.removed) == (4, 0, 0)
    assert refresh(store, project).unchanged == 4
    path = project / "pkg" / "config.py"
    path.write_text(CONFIG_PY.replace("parse_config", "load_config"))
    os.utime(path, (1, 1))
    (project / "pkg" / "render.js").unlink()
    again = refresh(store, project)
    assert (again.added, again.changed, again.removed, again.unchanged) == (0, 1, 1, 2)
    symbols = {row[0] for row in store.query("SELECT symbol FROM chunks")}
    assert "load_config" in symbols and "parse_config" not in symbols and "renderView" not in symbols
    assert store.query("SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH 'renderView'")[0][0] == 0
    store.close()


def test_embedding_is_resumable_and_nothing_is_embedded_twice(project: Path, tmp_path: Path) -> None:
    store = ProjectStore(tmp_path / "index.sqlite3")
    refresh(store, project)
    total = store.pending_count("m")
    calls: list[int] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(len(texts))
        return np.ones((len(texts), 4), dtype=np.float32) / 2

    def killed() -> None:
        raise Cancelled("killed")

    with pytest.raises(Cancelled):
        embed_pending(store, embed, "m", checkpoint=killed, batch=2)
    assert store.pending_count("m") == total - 2  # the first batch was committed
    store.close()
    store = ProjectStore(tmp_path / "index.sqlite3")  # a new process
    assert embed_pending(store, embed, "m", batch=2) == total - 2
    assert embed_pending(store, embed, "m", batch=2) == 0 and sum(calls) == total
    store.close()


def test_index_and_search_jobs_on_the_engine(
    engine: Engine, registry: ModelRegistry, project: Path, tmp_path: Path
) -> None:
    store = ProjectStore(tmp_path / "index.sqlite3")
    report = submit_index(engine, registry, store, project).result(120)
    assert report.embedded == store.query("SELECT COUNT(DISTINCT hash) FROM chunks")[0][0] > 0
    assert "skipped:" in report.describe()
    assert submit_index(engine, registry, store, project).result(120).embedded == 0  # nothing twice

    hits = submit_search(engine, registry, store, "what does parse_config return?").result(120)
    assert hits[0].symbol == "parse_config" and "symbol" in hits[0].matched and "words" in hits[0].matched
    assert identifiers_in("what does parse_config return?") == {"parse_config"}
    vector_only = submit_search(engine, registry, store, "read the settings", mode="vectors").result(120)
    assert vector_only and all(h.matched == "meaning" for h in vector_only)

    # A file deleted since the index is purged before the search: never cited.
    (project / "pkg" / "config.py").unlink()
    after = submit_search(engine, registry, store, "what does parse_config return?", root=project).result(120)
    assert all(h.path != "pkg/config.py" for h in after)

    # The folder now holds another model under the same id: its vectors are re-made, and it says why.
    store.query("UPDATE vectors SET dim = 7")
    again = submit_index(engine, registry, store, project).result(120)
    assert again.embedded == store.query("SELECT COUNT(DISTINCT hash) FROM chunks")[0][0]
    assert "embedded again" in again.describe()
    store.close()


def test_a_newer_index_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version=99")
    with pytest.raises(RuntimeError, match="newer Latent Studio"):
        ProjectStore(path)


def test_cli_projects_and_code_search(registry: ModelRegistry, project: Path, capsys, tmp_path: Path) -> None:
    assert main(["projects", "add", str(project)]) == 0
    assert main(["projects", "list", "--json"]) == 0
    out = capsys.readouterr().out
    listed = json.loads(out[out.index("{"):])["projects"]
    assert listed[0]["path"] == str(project.resolve()) and listed[0]["files ok"] == 4
    assert main(["code-search", "parse_config", "--project", str(project), "--json", "--limit", "3"]) == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert len(hits) <= 3 and hits[0]["path"] == "pkg/config.py" and hits[0]["symbol"] == "parse_config"
    assert set(hits[0]) == {"path", "start_line", "end_line", "symbol", "score", "matched"}
    assert main(["code-search", "x", "--project", str(tmp_path / "missing")]) == 1
    assert "project folder not found" in capsys.readouterr().err
    assert main(["projects", "remove", str(project)]) == 0
    assert (project / "pkg" / "config.py").exists()  # the user's files are never touched
    assert main(["projects", "remove", str(project)]) == 1


def test_generate_code_with_a_project_gives_the_model_its_sources(
    registry: ModelRegistry, project: Path, capsys, paths: Paths, tiny_models: Callable[[str], Path]
) -> None:
    from latentstudio.codegen import HistoryStore

    registry.import_path(tiny_models("llm-tiny"), kind="llm", model_id="tiny-llm", link=True)
    argv = ["generate-code", "add tests for parse_config", "--project", str(project), "--json",
            "--temperature", "0", "--max-tokens", "8"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["sources"][0]["path"] == "pkg/config.py" and report["sources"][0]["symbol"] == "parse_config"
    assert "text" not in report["sources"][0]  # the code went to the model; the report says where
    [entry] = HistoryStore(paths.code_history_db).list()
    assert entry.sources[0]["symbol"] == "parse_config"  # the history keeps each turn's sources


def test_a_stopped_refresh_keeps_what_it_committed_and_the_next_one_goes_on(tmp_path: Path) -> None:
    root = tmp_path / "many"
    root.mkdir()
    for k in range(450):
        (root / f"m{k:03d}.py").write_text(f"def f{k}():\n    return {k}\n")
    store = ProjectStore(tmp_path / "index.sqlite3")
    progress: list[tuple[int, int]] = []

    calls = [0]

    def stop() -> None:  # the walk's one folder passes; the first batch of files read stops
        calls[0] += 1
        if calls[0] > 1:
            raise Cancelled("stopped")

    with pytest.raises(Cancelled):
        refresh(store, root, progress=lambda done, total, _: progress.append((done, total)), checkpoint=stop)
    assert progress and progress[-1][1] == 450
    kept = len(store.files())
    assert 0 < kept < 450  # the first batch was committed before the stop
    report = refresh(store, root)
    assert (report.added, report.unchanged) == (450 - kept, kept)
    assert store.query("SELECT COUNT(*) FROM chunks")[0][0] == 450  # no chunk twice
    store.close()


def test_a_file_changing_while_read_is_read_again(project: Path, tmp_path: Path, monkeypatch) -> None:
    from latentstudio.projects import index

    path = project / "pkg" / "config.py"
    real = Path.read_bytes
    changed = []

    def read_and_change(self: Path) -> bytes:
        data = real(self)
        if self == path and not changed:
            changed.append(True)
            self.write_text(CONFIG_PY + "\n\ndef late():\n    return 1\n")  # written while we read
        return data

    monkeypatch.setattr(index.Path, "read_bytes", read_and_change)
    store = ProjectStore(tmp_path / "index.sqlite3")
    refresh(store, project)
    assert "late" in {row[0] for row in store.query("SELECT symbol FROM chunks")}
    store.close()
