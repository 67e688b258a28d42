"""Database engine, sessions and migrations.

SQLite (the embedded default): WAL journal, `synchronous=FULL` (a committed transaction survives
a power cut or a SIGKILL), foreign keys on, and every transaction opened with `BEGIN IMMEDIATE`
so concurrent writers queue on the busy timeout instead of failing on a lock upgrade. A
GET or read-mostly route (`require(perm, read_first=True)`) opens its first transaction with a plain
`BEGIN` (a WAL snapshot that blocks nobody) and ends it before its first write, so the write lock
is held only for the audit insert.
PostgreSQL: `postgresql+psycopg://...`; `Settings.db_schema` selects a schema (search_path).

`migrate(engine)` runs `alembic upgrade head` programmatically; the app runs it at start-up.
"""

from __future__ import annotations

import os
import re
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import DateTime, Engine, create_engine, event, text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from pgxguard.service.settings import Settings, SettingsError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None,
                             dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Take over transaction control from the sqlite3 module: BEGIN is emitted in `_begin`.
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


READ_FIRST = "pgx_read_first"  # Connection execution option: open with a deferred BEGIN


_HOLDS_WRITE_QUEUE = "pgx_write_queue"
WRITE_QUEUE_TIMEOUT = 30.0  # as SQLite's busy timeout; after it SQLite's own waiting decides


class _WriteQueue:
    """Writers of one SQLite database in this process wait here, woken in turn, instead of in
    SQLite's busy handler, which polls with sleeps of up to 100 ms and lets a lucky newcomer
    overtake: under a sign-in flood a prescriber's write waited seconds. The lock mirrors the
    write lock `BEGIN IMMEDIATE` takes (acquired just before it, released when the transaction
    ends), so it adds no waiting SQLite would not impose; other processes (`--workers`) still
    queue on SQLite's lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def begin(self, conn: Any) -> None:
        deferred = conn.get_execution_options().get(READ_FIRST, False)
        if not deferred and self.lock.acquire(timeout=WRITE_QUEUE_TIMEOUT):
            conn.info[_HOLDS_WRITE_QUEUE] = True
        try:
            conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")
        except BaseException:
            self.release(conn.info)
            raise

    def release(self, info: dict[str, Any]) -> None:
        if info.pop(_HOLDS_WRITE_QUEUE, False):
            self.lock.release()

    def end(self, conn: Any) -> None:
        self.release(conn.info)

    def checkin(self, _dbapi_connection: Any, record: Any) -> None:
        self.release(record.info)  # a connection returned without commit or rollback


_Row = TypeVar("_Row")


def get_row(session: Session, model: type[_Row], row_id: int, what: str, *,
            for_update: bool = False) -> _Row:
    """The row `row_id` of `model`, or the service's 404 naming `what` ("test order", ...)."""
    from pgxguard.service.errors import NotFoundError

    row = session.get(model, row_id, with_for_update=for_update)
    if row is None:
        raise NotFoundError(f"no {what} with id {row_id}")
    return row


def private_file(path: Path, *, own_dir: bool = True) -> None:
    """Make `path` a file only its owner can read (0600), creating it when absent, in a
    directory created 0700; with `own_dir` (the service's data directory) an existing
    directory is made 0700 too, never a shared one such as /tmp. SQLite gives its -wal and
    -shm files the mode of the database file."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if own_dir and path.parent.stat().st_uid == os.getuid():
        path.parent.chmod(0o700)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    path.chmod(0o600)
    for suffix in ("-wal", "-shm", "-journal"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.chmod(0o600)


def _has_nul(params: Any) -> bool:
    if isinstance(params, str):
        return "\x00" in params
    if isinstance(params, dict):
        return any(_has_nul(v) for v in params.values())
    if isinstance(params, list | tuple):
        return any(_has_nul(v) for v in params)
    return False


def _refuse_nul(_conn: Any, _cursor: Any, _statement: str, parameters: Any, _context: Any,
                _executemany: bool) -> None:
    """PostgreSQL text cannot hold NUL (psycopg raises DataError: a 500 found by the
    schemathesis run on PostgreSQL); SQLite would store it. Refuse it the same way on both,
    as bad input, wherever it came from (a username, a search term, a note)."""
    if _has_nul(parameters):
        from pgxguard.service.errors import ValidationFailedError

        raise ValidationFailedError("text must not contain NUL characters (\\x00)",
                                    hint="remove the control character and send it again")


def make_engine(settings: Settings) -> Engine:
    url = settings.database_url
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            db_file = Path(url.removeprefix("sqlite:///"))
            private_file(db_file, own_dir=db_file.parent == settings.data_dir)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        queue = _WriteQueue()
        event.listen(engine, "begin", queue.begin)
        event.listen(engine, "commit", queue.end)
        event.listen(engine, "rollback", queue.end)
        event.listen(engine.pool, "checkin", queue.checkin)
        event.listen(engine, "before_cursor_execute", _refuse_nul)
        return engine
    if url.startswith("postgresql"):
        connect_args: dict[str, Any] = {}
        if settings.db_schema:
            if not _SCHEMA_NAME.match(settings.db_schema):
                raise SettingsError(f"invalid schema name {settings.db_schema!r}")
            connect_args["options"] = f"-csearch_path={settings.db_schema}"
        engine = create_engine(url, connect_args=connect_args, pool_pre_ping=True)
        event.listen(engine, "before_cursor_execute", _refuse_nul)
        return engine
    raise SettingsError(f"unsupported database URL {url.split(':', 1)[0]!r}",
                        hint="use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def migrate(engine: Engine, schema: str | None = None) -> None:
    """`alembic upgrade head` on `engine` (creating `schema` first on PostgreSQL)."""
    from alembic import command
    from alembic.config import Config

    import pgxguard.service.models  # noqa: F401  (register the tables)

    if schema and engine.dialect.name == "postgresql":
        if not _SCHEMA_NAME.match(schema):
            raise SettingsError(f"invalid schema name {schema!r}")
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def draft_revision(message: str, url: str) -> None:
    """Write an autogenerated Alembic revision (models vs. the database at `url`, which is first
    brought to head) into migrations/versions, for a developer to review and edit."""
    from alembic import command
    from alembic.config import Config

    engine = create_engine(url)
    try:
        migrate(engine)
    finally:
        engine.dispose()
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url)
    command.revision(cfg, message=message, autogenerate=True)


def check_database(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


__all__ = ["Base", "UTCDateTime", "check_database", "draft_revision", "get_row", "make_engine",
           "migrate", "session_factory", "utcnow"]
