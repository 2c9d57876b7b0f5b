"""Every generation kept in SQLite (WAL), searchable by words through an FTS5 index, as the
turns of conversations (a follow-up is a later turn of its conversation).

One connection per call: the engine thread writes a finished generation while the GUI
thread lists and searches, and SQLite connections must not be shared across threads.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from .syntax import SyntaxReport

SCHEMA_1 = """
CREATE TABLE IF NOT EXISTS generations (
    id INTEGER PRIMARY KEY,
    created TEXT NOT NULL,
    model_id TEXT NOT NULL,
    language TEXT NOT NULL,
    prompt TEXT NOT NULL,
    context TEXT,
    settings TEXT NOT NULL,
    output TEXT NOT NULL,
    code TEXT NOT NULL,
    syntax TEXT NOT NULL,
    n_tokens INTEGER NOT NULL DEFAULT 0,
    ttft_ms REAL,
    tokens_per_s REAL,
    total_ms REAL,
    stopped INTEGER NOT NULL DEFAULT 0
);
CREATE VIRTUAL TABLE IF NOT EXISTS generations_fts USING fts5(
    prompt, output, content='generations', content_rowid='id'
);
CREATE TRIGGER IF NOT EXISTS generations_ai AFTER INSERT ON generations BEGIN
    INSERT INTO generations_fts(rowid, prompt, output) VALUES (new.id, new.prompt, new.output);
END;
CREATE TRIGGER IF NOT EXISTS generations_ad AFTER DELETE ON generations BEGIN
    INSERT INTO generations_fts(generations_fts, rowid, prompt, output)
    VALUES ('delete', old.id, old.prompt, old.output);
END;
"""



def _first_schema(conn: sqlite3.Connection) -> None:
    for statement in _statements(SCHEMA_1):
        conn.execute(statement)


def _task_column(conn: sqlite3.Connection) -> None:
    """Code tasks beyond write (explain, translate, …): entries made before were all "write"."""
    conn.execute("ALTER TABLE generations ADD COLUMN task TEXT NOT NULL DEFAULT 'write'")
    conn.execute("CREATE INDEX IF NOT EXISTS generations_task ON generations(task)")


def _statements(script: str) -> list[str]:
    """The statements of a schema script (triggers hold `;` inside BEGIN … END)."""
    statements, current = [], ""
    for line in script.strip().splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return statements


def _conversations(conn: sqlite3.Connection) -> None:
    """Conversations of turns, and the sources each turn was given: every generation made before
    becomes a conversation of one turn (with the generation's id, so links to it keep working)."""
    conn.execute(
        "CREATE TABLE conversations (id INTEGER PRIMARY KEY, created TEXT NOT NULL, updated TEXT NOT NULL)"
    )
    conn.execute("ALTER TABLE generations ADD COLUMN conversation_id INTEGER")
    conn.execute("ALTER TABLE generations ADD COLUMN turn INTEGER NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE generations ADD COLUMN sources TEXT NOT NULL DEFAULT '[]'")
    conn.execute("INSERT INTO conversations (id, created, updated) SELECT id, created, created FROM generations")
    conn.execute("UPDATE generations SET conversation_id = id, turn = 1")
    conn.execute("CREATE INDEX generations_conversation ON generations(conversation_id, turn)")


# MIGRATIONS[i] upgrades a history from user_version i to i + 1 (release 0.1.0 wrote 1).
# Append only: a released entry never changes.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_first_schema, _task_column, _conversations]
SCHEMA_VERSION = len(MIGRATIONS)

COLUMNS = (
    "id, created, model_id, language, prompt, context, settings, output, code, syntax, "
    "n_tokens, ttft_ms, tokens_per_s, total_ms, stopped, task, conversation_id, turn, sources"
)


@dataclass(frozen=True)
class HistoryEntry:
    model_id: str
    language: str
    prompt: str
    output: str
    code: str
    syntax: SyntaxReport
    settings: dict[str, Any] = field(default_factory=dict)
    context: Optional[str] = None
    n_tokens: int = 0
    ttft_ms: Optional[float] = None
    tokens_per_s: Optional[float] = None
    total_ms: Optional[float] = None
    stopped: bool = False
    created: str = ""
    id: Optional[int] = None
    task: str = "write"
    conversation_id: Optional[int] = None  # None when adding: a new conversation
    turn: int = 0  # 1 for a conversation's first turn (set when added)
    sources: tuple[dict[str, Any], ...] = ()  # the project chunks the model was given (path, lines, score, …)

    @property
    def title(self) -> str:
        if self.prompt.strip():
            first = self.prompt.strip().splitlines()[0]
        elif self.task != "write":
            name = self.settings.get("context_name")
            first = f"{self.task.capitalize()} {name if isinstance(name, str) and name else 'code'}"
        else:
            first = "(empty prompt)"
        return first if len(first) <= 80 else first[:79] + "…"


def fts_query(text: str) -> Optional[str]:
    """User words → an FTS5 query matching entries holding every word (as a prefix).

    Each word is quoted, so FTS5 operators typed by the user are searched as plain words.
    """
    words = re.findall(r"\w+", text)
    if not words:
        return None
    return " ".join(f'"{word}"*' for word in words)


@dataclass(frozen=True)
class ConversationSummary:
    """One row of the history list: a conversation, titled by its first turn, shown by its last."""

    id: int
    title: str
    turns: int
    last: HistoryEntry


class HistoryStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"{self.path} was written by a newer Latent Studio (schema {version}); "
                    "update the app to read its code history"
                )
            if version == SCHEMA_VERSION:
                return
            if version > 0:  # an older history: keep a copy before changing it
                backup = self.path.with_name(f"{self.path.name}.schema-{version}.bak")
                if not backup.exists():
                    with contextlib.closing(sqlite3.connect(backup)) as copy:
                        conn.backup(copy)
            with conn:  # one transaction: a failed upgrade leaves the file as it was
                conn.execute("BEGIN IMMEDIATE")
                for migrate in MIGRATIONS[version:]:
                    migrate(conn)
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=10)
        try:
            yield conn
        finally:
            conn.close()

    def add(self, entry: HistoryEntry, replaces: Optional[int] = None) -> HistoryEntry:
        """Store a generation as the next turn of its conversation (a new conversation when it has
        none); `replaces`: the id of a turn it takes the place of (regenerate, edit and resend).
        Returns the entry with its id, conversation, turn and creation time."""
        created = entry.created or datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self._connect() as conn, conn:
            conversation = entry.conversation_id
            turn = None
            if replaces is not None:
                row = conn.execute(
                    "SELECT conversation_id, turn FROM generations WHERE id = ?", (replaces,)
                ).fetchone()
                if row is not None:
                    conversation, turn = row
                    conn.execute("DELETE FROM generations WHERE id = ?", (replaces,))
            if conversation is not None and conn.execute(
                "SELECT 1 FROM conversations WHERE id = ?", (conversation,)
            ).fetchone() is None:
                conversation = None  # deleted meanwhile: the turn starts a new one
            if conversation is None:
                conversation = conn.execute(
                    "INSERT INTO conversations (created, updated) VALUES (?, ?)", (created, created)
                ).lastrowid
            else:
                conn.execute("UPDATE conversations SET updated = ? WHERE id = ?", (created, conversation))
            if turn is None:
                turn = 1 + conn.execute(
                    "SELECT COALESCE(MAX(turn), 0) FROM generations WHERE conversation_id = ?", (conversation,)
                ).fetchone()[0]
            cursor = conn.execute(
                "INSERT INTO generations (created, model_id, language, prompt, context, settings, output, "
                "code, syntax, n_tokens, ttft_ms, tokens_per_s, total_ms, stopped, task, conversation_id, "
                "turn, sources) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    created,
                    entry.model_id,
                    entry.language,
                    entry.prompt,
                    entry.context,
                    json.dumps(entry.settings),
                    entry.output,
                    entry.code,
                    json.dumps(entry.syntax.to_json()),
                    entry.n_tokens,
                    entry.ttft_ms,
                    entry.tokens_per_s,
                    entry.total_ms,
                    int(entry.stopped),
                    entry.task,
                    conversation,
                    turn,
                    json.dumps(list(entry.sources)),
                ),
            )
        return replace(entry, id=cursor.lastrowid, created=created, conversation_id=conversation, turn=turn)

    def get(self, entry_id: int) -> HistoryEntry:
        with self._connect() as conn:
            row = conn.execute(f"SELECT {COLUMNS} FROM generations WHERE id = ?", (entry_id,)).fetchone()
        if row is None:
            raise KeyError(f"no code history entry {entry_id}")
        return _entry(row)

    def list(self, limit: int = 500, task: Optional[str] = None) -> list[HistoryEntry]:
        """Newest first; only one task's entries when `task` is given."""
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM generations WHERE ? IS NULL OR task = ? ORDER BY id DESC LIMIT ?",
                (task, task, limit),
            ).fetchall()
        return [_entry(row) for row in rows]

    def search(self, text: str, limit: int = 500, task: Optional[str] = None) -> list[HistoryEntry]:
        """Entries whose prompt or output holds every word of `text`, newest first (like the
        unfiltered list, so a new match appears on top); all entries when `text` has no words;
        only one task's entries when `task` is given."""
        query = fts_query(text)
        if query is None:
            return self.list(limit, task)
        columns = ", ".join(f"g.{c.strip()}" for c in COLUMNS.split(","))
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT {columns} FROM generations_fts JOIN generations g ON g.id = generations_fts.rowid "
                "WHERE generations_fts MATCH ? AND (? IS NULL OR g.task = ?) "
                "ORDER BY g.id DESC LIMIT ?",
                (query, task, task, limit),
            ).fetchall()
        return [_entry(row) for row in rows]

    def conversation(self, conversation_id: int) -> list[HistoryEntry]:
        """The turns of a conversation, first to last (empty when it is gone)."""
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM generations WHERE conversation_id = ? ORDER BY turn, id",
                (conversation_id,),
            ).fetchall()
        return [_entry(row) for row in rows]

    def conversations(self, text: str = "", limit: int = 500, task: Optional[str] = None) -> list[ConversationSummary]:
        """Conversations with a turn holding every word of `text` (all when it has none) and of
        `task` when given, the most recently continued first."""
        query = fts_query(text)
        match = (
            "SELECT rowid FROM generations_fts WHERE generations_fts MATCH :query"
            if query is not None else "SELECT id FROM generations"
        )
        with self._connect() as conn:
            found = conn.execute(
                "SELECT conversation_id, MAX(id) FROM generations "
                f"WHERE id IN ({match}) AND (:task IS NULL OR task = :task) "
                "GROUP BY conversation_id ORDER BY MAX(id) DESC LIMIT :limit",
                {"query": query, "task": task, "limit": limit},
            ).fetchall()
            summaries = []
            for conversation_id, _ in found:
                rows = conn.execute(
                    f"SELECT {COLUMNS} FROM generations WHERE conversation_id = ? ORDER BY turn, id",
                    (conversation_id,),
                ).fetchall()
                first, last = _entry(rows[0]), _entry(rows[-1])
                summaries.append(ConversationSummary(conversation_id, first.title, len(rows), last))
        return summaries

    def delete_conversation(self, conversation_id: int) -> int:
        """Forget a conversation and its turns; returns how many turns went."""
        with self._connect() as conn, conn:
            cursor = conn.execute("DELETE FROM generations WHERE conversation_id = ?", (conversation_id,))
            conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
        return cursor.rowcount

    def delete(self, entry_id: int) -> bool:
        with self._connect() as conn, conn:
            cursor = conn.execute("DELETE FROM generations WHERE id = ?", (entry_id,))
        return cursor.rowcount > 0

    def count(self) -> int:
        with self._connect() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM generations").fetchone()[0])


def _json_object(text: Optional[str]) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _entry(row: tuple[Any, ...]) -> HistoryEntry:
    (entry_id, created, model_id, language, prompt, context, settings, output, code, syntax,
     n_tokens, ttft_ms, tokens_per_s, total_ms, stopped, task, conversation_id, turn, sources) = row
    syntax_data = _json_object(syntax)
    try:
        report = SyntaxReport.from_json(syntax_data)
    except TypeError:
        report = SyntaxReport(language, checked=False)
    return HistoryEntry(
        model_id=model_id,
        language=language,
        prompt=prompt,
        output=output,
        code=code,
        syntax=report,
        settings=_json_object(settings),
        context=context,
        n_tokens=int(n_tokens or 0),
        ttft_ms=ttft_ms,
        tokens_per_s=tokens_per_s,
        total_ms=total_ms,
        stopped=bool(stopped),
        created=created,
        id=entry_id,
        task=task,
        conversation_id=conversation_id,
        turn=int(turn or 0),
        sources=_json_sources(sources),
    )


def _json_sources(text: Optional[str]) -> tuple[dict[str, Any], ...]:
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return ()
    return tuple(item for item in value if isinstance(item, dict)) if isinstance(value, list) else ()
