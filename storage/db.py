"""Opening the SQLite log: WAL, foreign keys, and the numbered migrations that build the schema.

Every table Tandem writes is created here, so a fresh file and an old one end up with the same shape.
Migrations are numbered (`m001_...`) and applied in order by sqlite-utils' built-in `Migrations`.
"""
from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import sqlite_utils
from sqlite_utils import Migrations

migrations = Migrations("tandem")


@migrations()
def m001_core(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE inbox (
            id INTEGER PRIMARY KEY,
            platform TEXT NOT NULL,
            event_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            payload TEXT NOT NULL,
            received_at TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            processed_at TEXT,
            error TEXT,
            UNIQUE (platform, event_id)
        )"""
    )
    db.execute("CREATE INDEX idx_inbox_pending ON inbox(status, id)")
    db.execute(
        """
        CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            platform TEXT NOT NULL,
            workspace TEXT NOT NULL DEFAULT '',
            channel TEXT NOT NULL,
            thread TEXT NOT NULL DEFAULT '',
            is_dm INTEGER NOT NULL DEFAULT 0,
            customer_id TEXT NOT NULL,
            customer_name TEXT NOT NULL DEFAULT '',
            language TEXT NOT NULL DEFAULT 'en',
            state TEXT NOT NULL DEFAULT 'bot',
            handoff_reason TEXT,
            handoff_at TEXT,
            assignee TEXT,
            human_involved INTEGER NOT NULL DEFAULT 0,
            awaiting_rating INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            last_customer_at TEXT,
            first_response_at TEXT,
            resolved_at TEXT,
            reopened_count INTEGER NOT NULL DEFAULT 0,
            card_channel TEXT,
            card_ref TEXT
        )"""
    )
    db.execute("CREATE INDEX idx_conv_address ON conversations(platform, workspace, channel, thread, id)")
    db.execute("CREATE INDEX idx_conv_state ON conversations(state, updated_at)")
    db.execute("CREATE INDEX idx_conv_created ON conversations(created_at)")
    db.execute(
        """
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id),
            author_kind TEXT NOT NULL,
            author_id TEXT NOT NULL DEFAULT '',
            author_name TEXT NOT NULL DEFAULT '',
            text TEXT NOT NULL,
            platform TEXT NOT NULL,
            platform_message_id TEXT,
            draft_id INTEGER,
            inbox_id INTEGER REFERENCES inbox(id),
            created_at TEXT NOT NULL,
            delivered_at TEXT,
            edited_at TEXT,
            deleted_at TEXT,
            attachments INTEGER NOT NULL DEFAULT 0
        )"""
    )
    db.execute("CREATE INDEX idx_messages_conv ON messages(conversation_id, id)")
    db.execute("CREATE INDEX idx_messages_platform_id ON messages(platform, platform_message_id)")
    db.execute("CREATE INDEX idx_messages_created ON messages(created_at)")
    db.execute(
        """
        CREATE TABLE drafts (
            id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id),
            message_id INTEGER NOT NULL REFERENCES messages(id),
            status TEXT NOT NULL,
            text TEXT,
            sources TEXT NOT NULL DEFAULT '[]',
            confidence REAL,
            drafter TEXT,
            model TEXT,
            latency_ms REAL,
            handoff_reason TEXT,
            created_at TEXT NOT NULL,
            drafted_at TEXT,
            decided_at TEXT,
            decided_by TEXT,
            final_text TEXT,
            edit_distance INTEGER,
            reject_reason TEXT
        )"""
    )
    db.execute("CREATE INDEX idx_drafts_conv ON drafts(conversation_id, status)")
    db.execute("CREATE INDEX idx_drafts_status ON drafts(status, id)")
    db.execute("CREATE INDEX idx_drafts_created ON drafts(created_at)")
    db.execute(
        """
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            actor_role TEXT NOT NULL DEFAULT '',
            action TEXT NOT NULL,
            conversation_id INTEGER,
            draft_id INTEGER,
            details TEXT NOT NULL DEFAULT '{}'
        )"""
    )
    db.execute("CREATE INDEX idx_events_at ON events(at)")
    db.execute("CREATE INDEX idx_events_conv ON events(conversation_id, id)")
    db.execute(
        """
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            platform TEXT NOT NULL,
            kind TEXT NOT NULL,
            conversation_id INTEGER,
            message_id INTEGER,
            payload TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            last_error TEXT,
            created_at TEXT NOT NULL,
            sent_at TEXT,
            ref TEXT
        )"""
    )
    db.execute("CREATE INDEX idx_outbox_pending ON outbox(status, next_attempt_at, id)")
    db.execute("CREATE INDEX idx_outbox_conv ON outbox(conversation_id, status, kind)")
    db.execute(
        """
        CREATE TABLE ratings (
            id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id),
            rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
            customer_id TEXT NOT NULL DEFAULT '',
            at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX idx_ratings_at ON ratings(at)")
    db.execute("CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT NOT NULL)")


@migrations()
def m002_digest_indexes(db: sqlite_utils.Database) -> None:
    """Indexes that keep the weekly digest's range scans on indexes (see storage/analytics.py)."""
    # the first reply of a conversation whose first_response_at was never stamped
    db.execute("CREATE INDEX idx_messages_conv_kind ON messages(conversation_id, author_kind, created_at)")
    # handoffs, takeovers, handbacks and per-agent actions in a period (covering: no table reads)
    db.execute("CREATE INDEX idx_events_action_at ON events(action, at, actor, conversation_id)")
    # the period's conversations and drafts read from the index alone (no table reads)
    db.execute(
        "CREATE INDEX idx_conv_digest ON conversations(created_at, platform, state, human_involved, resolved_at, "
        "first_response_at)"
    )
    db.execute(
        "CREATE INDEX idx_drafts_digest ON drafts(created_at, status, decided_by, drafted_at, decided_at, "
        "edit_distance, confidence, handoff_reason, message_id)"
    )
    # CSAT for the conversations opened in a period
    db.execute("CREATE INDEX idx_ratings_conv ON ratings(conversation_id)")


@migrations()
def m003_one_name_for_an_edit(db: sqlite_utils.Database) -> None:
    """Edited drafts were logged as `edit` by the core and `edited` by the seed: keep the core's name."""
    db.execute("UPDATE events SET action = 'edit' WHERE action = 'edited'")


@migrations()
def m004_delivery_keys(db: sqlite_utils.Database) -> None:
    """Agent commands, clicks and form submissions already executed, by the platform's delivery key (a Slack
    trigger_id, a Discord interaction id), so a replayed one is acknowledged and not run again."""
    db.execute("CREATE TABLE deliveries (key TEXT PRIMARY KEY, at TEXT NOT NULL, command TEXT NOT NULL DEFAULT '')")
    db.execute("CREATE INDEX idx_deliveries_at ON deliveries(at)")


@migrations()
def m005_retention(db: sqlite_utils.Database) -> None:
    """What the retention purge (storage/maintenance.py) marks: when a text or payload was removed, and the
    length a purged draft text had, which the digest's edit share divides by."""
    db.execute("ALTER TABLE messages ADD COLUMN purged_at TEXT")
    db.execute("ALTER TABLE inbox ADD COLUMN purged_at TEXT")
    db.execute("ALTER TABLE drafts ADD COLUMN purged_at TEXT")
    db.execute("ALTER TABLE drafts ADD COLUMN text_chars INTEGER")
    db.execute("CREATE INDEX idx_inbox_received ON inbox(received_at)")


# The columns m001 left without a declared reference: (table, column, referenced table).
_M006_REFERENCES = (
    ("events", "conversation_id", "conversations"),
    ("outbox", "conversation_id", "conversations"),
    ("messages", "draft_id", "drafts"),
)


@migrations()
def m006_declared_references(db: sqlite_utils.Database) -> None:
    """Declare the references m001 left implicit, so SQLite enforces them and tools that read the schema
    (Datasette, `tandem browse`) link an event, an outbox row or a message to its conversation or draft.

    SQLite cannot add a foreign key to an existing column: sqlite-utils' transform rewrites each table,
    copying every row and recreating every index. A row pointing at nothing would fail the rewrite, so the
    migration first names any such rows and stops with the database unchanged."""
    for table, column, other in _M006_REFERENCES:
        orphans = [r[0] for r in db.execute(
            f"SELECT t.id FROM {table} t WHERE t.{column} IS NOT NULL "
            f"AND NOT EXISTS (SELECT 1 FROM {other} o WHERE o.id = t.{column}) ORDER BY t.id LIMIT 10")]
        if orphans:
            raise sqlite3.IntegrityError(
                f"m006: {table}.{column} names a missing {other} row in {table} id(s) "
                f"{', '.join(map(str, orphans))}; fix or clear those values, then start Tandem again")
    for table, column, other in _M006_REFERENCES:
        db.table(table).transform(add_foreign_keys=[(column, other, "id")])


@migrations()
def m007_lessons(db: sqlite_utils.Database) -> None:
    """What agents taught the knowledge base (bot/teach.py): one row per taught pair, question -> article.

    `kind` says what the lesson did: `question` (the customer's question added to an article's examples),
    `article` (a new article written from an agent's answer), `version` (an edited answer offered as a new
    version of an article). `status` follows the article's review: `draft` until a lead approves it, then
    `approved`, or `discarded`. Every row is also a regression test: `tandem kb eval --taught` replays them.
    Rows are kept by the retention purge (a lesson is knowledge, not a customer's transcript) but their
    conversation link may be cleared."""
    db.execute(
        """
        CREATE TABLE lessons (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            conversation_id INTEGER REFERENCES conversations(id) ON DELETE SET NULL,
            platform TEXT NOT NULL DEFAULT '',
            workspace TEXT NOT NULL DEFAULT '',
            question TEXT NOT NULL,
            answer TEXT NOT NULL DEFAULT '',
            language TEXT NOT NULL DEFAULT 'en',
            article_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            taught_by TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'draft',
            decided_by TEXT,
            decided_at TEXT
        )"""
    )
    db.execute("CREATE INDEX idx_lessons_article ON lessons(article_id, status)")
    db.execute("CREATE INDEX idx_lessons_created ON lessons(created_at)")


@migrations()
def m008_sla_and_duty(db: sqlite_utils.Database) -> None:
    """Response-time targets and on-duty routing (bot/sla.py, bot/routing.py).

    `duty`: the agents who said `duty on|off`, with the platform ids needed to mention them; `turn` (1, 2, ...:
    the order of their last assignment) orders the round robin. `response_targets`: one row per wait for a
    reply (`first`: the customer's first message to the first reply they see; `next`: a later message while a
    person owns or is awaited), with its
    warning and due times in UTC, when each alert was queued, and how it ended: `answered_at` (a reply) or
    `closed_at` alone (handed back or resolved without one); `past_s` is the time past the target, in the
    target's clock. An open target (closed_at NULL) is the conversation's current due time; at most one.
    `outbox.key`: an idempotency key, so an alert is queued once however often it is looked at."""
    db.execute("ALTER TABLE conversations ADD COLUMN assignee_id TEXT")
    db.execute("ALTER TABLE conversations ADD COLUMN previous_assignee TEXT")
    db.execute(
        """
        CREATE TABLE duty (
            platform TEXT NOT NULL,
            workspace TEXT NOT NULL DEFAULT '',
            user_id TEXT NOT NULL,
            name TEXT NOT NULL DEFAULT '',
            on_duty INTEGER NOT NULL DEFAULT 0,
            changed_at TEXT NOT NULL,
            changed_by TEXT NOT NULL DEFAULT '',
            last_assigned_at TEXT,
            turn INTEGER,
            PRIMARY KEY (platform, workspace, user_id)
        )"""
    )
    db.execute(
        """
        CREATE TABLE response_targets (
            id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            started_at TEXT NOT NULL,
            warn_at TEXT NOT NULL,
            due_at TEXT NOT NULL,
            warned_at TEXT,
            breached_at TEXT,
            breached_assignee TEXT,
            answered_at TEXT,
            closed_at TEXT,
            past_s REAL
        )"""
    )
    db.execute("CREATE UNIQUE INDEX idx_targets_open ON response_targets(conversation_id) WHERE closed_at IS NULL")
    db.execute("CREATE INDEX idx_targets_started ON response_targets(started_at)")
    db.execute("ALTER TABLE outbox ADD COLUMN key TEXT")
    db.execute("CREATE UNIQUE INDEX idx_outbox_key ON outbox(key) WHERE key IS NOT NULL")



@migrations()
def m011_draft_language(db: sqlite_utils.Database) -> None:
    """The language each draft is written in (the customer's, when the article has it), to see per language
    how drafts fare and to keep answering a conversation in the language it was answered in."""
    db.execute("ALTER TABLE drafts ADD COLUMN language TEXT")


@migrations()
def m013_lessons_by_conversation(db: sqlite_utils.Database) -> None:
    """Every card build looks up the lessons of its conversation (the Save to knowledge base button shows
    whether it was taught already): index that lookup instead of scanning the table."""
    db.execute("CREATE INDEX IF NOT EXISTS idx_lessons_conversation ON lessons(conversation_id)")

@migrations()
def m014_confirmations(db: sqlite_utils.Database) -> None:
    """Approvals as lessons (bot/approvals.py): one row each time an agent approved a knowledge-base draft exactly
    as drafted, confirming that its article answers the customer's question. The drafter learns the question as
    an example of that article (with the file's `questions`); the row is the audit of why, and what start-up
    loads back into the index. Kept out of the Markdown files: approvals happen all day, the files must stay
    the size a person reads, and an approval must not turn a published article into a draft. Kept by the
    retention purge like `lessons` (knowledge, not a transcript); the bench keeps rows with no conversation."""
    db.execute(
        """
        CREATE TABLE confirmations (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            platform TEXT NOT NULL DEFAULT '',
            workspace TEXT NOT NULL DEFAULT '',
            conversation_id INTEGER REFERENCES conversations(id) ON DELETE SET NULL,
            draft_id INTEGER REFERENCES drafts(id) ON DELETE SET NULL,
            article_id TEXT NOT NULL,
            question TEXT NOT NULL,
            agent TEXT NOT NULL DEFAULT ''
        )"""
    )
    db.execute("CREATE INDEX idx_confirmations_article ON confirmations(article_id, id)")


def _create_private(path: Path) -> None:
    """Create the database file readable by its owner alone, before SQLite opens it. SQLite gives the WAL and
    shared-memory files it creates beside a database the database file's mode, so those are 0600 too."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def exposed_files(path: str | Path) -> list[str]:
    """The database's files (main, -wal, -shm) that other users of the machine can read."""
    if str(path) == ":memory:":
        return []
    path = Path(path).expanduser()
    found = []
    for name in (str(path), f"{path}-wal", f"{path}-shm"):
        try:
            if os.stat(name).st_mode & (stat.S_IRGRP | stat.S_IROTH):
                found.append(name)
        except FileNotFoundError:
            continue
    return found


class DatabaseUnavailable(RuntimeError):
    """The database file cannot be opened or prepared. str() names the file and the reason."""


def open_db(path: str | Path, *, migrate: bool = True) -> sqlite_utils.Database:
    """Open (creating if needed) the database at `path` with WAL, foreign keys and all migrations applied.

    A new file is created 0600 (see `_create_private`); an existing one keeps its mode (`exposed_files`
    says whether others can read it). Raises DatabaseUnavailable when the file cannot be opened (a folder,
    a read-only place, not a database)."""
    path = str(path) if str(path) == ":memory:" else str(Path(path).expanduser())
    try:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            _create_private(Path(path))
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        db = sqlite_utils.Database(conn)
        if path != ":memory:":
            db.enable_wal()
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA busy_timeout = 30000")
        if migrate:
            migrations.apply(db)
    except (sqlite3.Error, OSError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise DatabaseUnavailable(f"cannot open the database {path} ({reason})") from exc
    return db


def pending_migrations(db: sqlite_utils.Database) -> list[str]:
    return [m.name for m in migrations.pending(db)]


def applied_migrations(db: sqlite_utils.Database) -> list[str]:
    return [m.name for m in migrations.applied(db)]
