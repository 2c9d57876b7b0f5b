"""The code history: SQLite that survives a restart, FTS5 word search, reopen and delete."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from latentstudio.codegen import HistoryEntry, HistoryStore, check_syntax
from latentstudio.codegen.history import fts_query
from latentstudio.paths import Paths


def _entry(prompt: str, output: str, language: str = "python", **extra) -> HistoryEntry:
    return HistoryEntry(
        model_id="tiny",
        language=language,
        prompt=prompt,
        output=output,
        code=output,
        syntax=check_syntax(output, language),
        settings={"temperature": 0.2, "seed": 5},
        **extra,
    )


def test_history_persists_across_a_restart_and_fts_finds_it(paths: Paths) -> None:
    store = HistoryStore(paths.code_history_db)
    first = store.add(_entry("Parse a CSV file into dictionaries", "import csv\n", ttft_ms=12.5, tokens_per_s=40.0))
    store.add(_entry("Reverse a linked list", "def reverse(head):\n    pass\n", stopped=True))
    del store

    reopened = HistoryStore(paths.code_history_db)  # a new process would do just this
    assert reopened.count() == 2
    hits = reopened.search("csv")
    assert [h.id for h in hits] == [first.id]
    entry = reopened.get(first.id)
    assert entry.prompt == "Parse a CSV file into dictionaries"
    assert entry.settings == {"temperature": 0.2, "seed": 5}
    assert entry.ttft_ms == 12.5 and entry.tokens_per_s == 40.0
    assert entry.syntax.ok is True and entry.created
    assert reopened.list()[0].stopped  # newest first


def test_search_matches_output_words_prefixes_and_needs_every_word(paths: Paths) -> None:
    store = HistoryStore(paths.code_history_db)
    store.add(_entry("sort numbers", "sorted(values, reverse=True)"))
    store.add(_entry("read a file", "with open(path) as fh:\n    text = fh.read()"))
    assert [e.prompt for e in store.search("revers")] == ["sort numbers"]  # prefix, in the output
    assert [e.prompt for e in store.search("read fh")] == ["read a file"]
    assert store.search("read sorted") == []
    assert len(store.search("   ")) == 2  # no words: everything


@pytest.mark.parametrize("text", ['"unbalanced', "a AND OR NOT", "col:umn", "x*", "(", "NEAR("])
def test_fts_operators_typed_by_users_are_plain_words(paths: Paths, text: str) -> None:
    store = HistoryStore(paths.code_history_db)
    store.add(_entry("a query with AND and NEAR words", "x = 1"))
    store.search(text)  # never an FTS5 syntax error


def test_fts_query_quotes_each_word() -> None:
    assert fts_query('sort "list" AND') == '"sort"* "list"* "AND"*'
    assert fts_query("!!") is None


def test_delete_removes_the_entry_and_its_index_row(paths: Paths) -> None:
    store = HistoryStore(paths.code_history_db)
    entry = store.add(_entry("binary search", "def search(items, x): ..."))
    assert store.delete(entry.id)
    assert not store.delete(entry.id)
    assert store.search("binary") == []
    with pytest.raises(KeyError):
        store.get(entry.id)


def test_a_newer_schema_is_refused_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version=99")
    conn.close()
    with pytest.raises(RuntimeError, match="newer Latent Studio"):
        HistoryStore(path)


def test_a_filtered_history_shows_the_newest_match_first(paths: Paths) -> None:
    store = HistoryStore(paths.code_history_db)
    store.add(_entry("read a csv file with a csv reader and csv rows", "import csv"))
    newest = store.add(_entry("write csv", "import csv"))
    assert [e.id for e in store.search("csv")][0] == newest.id


def test_turns_form_conversations_listed_by_their_first_prompt(paths: Paths) -> None:
    store = HistoryStore(paths.code_history_db)
    first = store.add(_entry("Parse a CSV file", "import csv"))
    follow = store.add(_entry("now add tests for it", "def test_parse(): ...",
                              conversation_id=first.conversation_id,
                              sources=({"path": "io.py", "start_line": 1, "end_line": 9, "score": 0.5},)))
    other = store.add(_entry("reverse a list", "xs[::-1]"))
    assert (first.turn, follow.turn, follow.conversation_id) == (1, 2, first.conversation_id)
    assert other.conversation_id != first.conversation_id and other.turn == 1

    turns = store.conversation(first.conversation_id)
    assert [t.prompt for t in turns] == ["Parse a CSV file", "now add tests for it"]
    assert turns[1].sources[0]["path"] == "io.py"
    listed = store.conversations()
    assert [(c.title, c.turns) for c in listed] == [("reverse a list", 1), ("Parse a CSV file", 2)]
    assert listed[1].last.prompt == "now add tests for it"
    # A word of any turn finds the whole conversation.
    [hit] = store.conversations("tests")
    assert hit.id == first.conversation_id and hit.turns == 2
    assert store.conversations("xyzzy") == []


def test_regenerate_replaces_the_last_turn_in_place(paths: Paths) -> None:
    store = HistoryStore(paths.code_history_db)
    first = store.add(_entry("Parse a CSV file", "import csv"))
    second = store.add(_entry("add tests", "bad answer", conversation_id=first.conversation_id))
    again = store.add(_entry("add tests please", "good answer"), replaces=second.id)
    assert (again.conversation_id, again.turn) == (first.conversation_id, 2)
    assert [t.output for t in store.conversation(first.conversation_id)] == ["import csv", "good answer"]
    assert store.search("bad") == []
    assert store.delete_conversation(first.conversation_id) == 2
    assert store.conversations() == [] and store.count() == 0


def test_the_previous_release_history_opens_as_one_turn_conversations(tmp_path: Path) -> None:
    """0.2.0 wrote schema 2 (no conversations): a copy is upgraded, backed up first, and its
    generations become conversations of one turn that still search and continue."""
    from tests.support.release_homes import HOMES

    path = tmp_path / "code-history.sqlite3"
    shutil.copyfile(HOMES / "0.2.0" / "code-history.sqlite3", path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    store = HistoryStore(path)
    [summary] = store.conversations("csv")
    assert (summary.title, summary.turns, summary.last.code) == ("Parse a CSV file", 1, "import csv")
    assert summary.last.turn == 1 and summary.last.sources == ()
    follow = store.add(_entry("now add tests", "def test(): ...", conversation_id=summary.id))
    assert follow.turn == 2 and len(store.conversation(summary.id)) == 2
    assert (tmp_path / "code-history.sqlite3.schema-2.bak").exists()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
