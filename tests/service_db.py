"""Service test databases migrated once per test run and reset after each test.

Migrating a fresh database for every service test cost about half of each test's set-up. Here
each backend is migrated once per pytest run (lazily, only when a service test asks for it):

- SQLite: a migrated template file; each test gets its own copy (so it starts from exactly the
  migrated state, and a test that breaks its file breaks nothing else).
- PostgreSQL: one migrated schema per run; after each test every table but `alembic_version` is
  emptied (DELETE, with triggers and foreign-key checks off for that transaction:
  `session_replication_role = replica`, as the audit trail's append-only triggers otherwise
  refuse it) and its sequences restarted, so ids are as on a fresh database. (TRUNCATE was
  tried: it recreates every table's files and cost about 0.4 s per test.) When that fails (not
  a superuser, a test left a connection holding a lock) the schema is dropped and the next test
  migrates a new one, so a failed reset can only cost time, never leak rows into another test.

Why not one transaction rolled back per test: the service under test opens its own
connections from several threads and its tests check real commits (durability, the SQLite
write queue, the audit chain under concurrent writers), which an outer transaction would hide.
Tests of migrations themselves keep using a fresh database (`fresh_database`).
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DB_FILE = "pgxguard.db"  # Settings.database_url's file name in data_dir


def _drop_schema(schema: str) -> None:
    engine = create_engine(PG_URL)
    try:
        with engine.begin() as c:
            c.execute(text("SET LOCAL lock_timeout = '30s'"))  # a leaked connection: fail
            c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        engine.dispose()


@contextlib.contextmanager
def fresh_database(kind: str, tmp_dir: Path, why_no_postgres: str | None) -> Iterator[object]:
    """Settings for a fresh, unmigrated SQLite file or PostgreSQL schema (dropped afterwards)."""
    from pgxguard.service.settings import Settings

    if kind == "sqlite":
        yield Settings(data_dir=tmp_dir / "data")
        return
    if why_no_postgres:
        pytest.skip(why_no_postgres)
    schema = f"pgxguard_test_{uuid.uuid4().hex[:12]}"
    try:
        yield Settings(data_dir=tmp_dir / "data", db_url=PG_URL, db_schema=schema)
    finally:
        _drop_schema(schema)


class MigratedDatabases:
    """The per-run migrated databases (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._sqlite: Path | None = None
        self._schema: str | None = None
        self.migrations = 0  # how many times a backend was migrated (reported by the tests)

    def _migrate(self, settings: object) -> None:
        from pgxguard.service.db import make_engine, migrate

        engine = make_engine(settings)  # type: ignore[arg-type]
        try:
            migrate(engine, getattr(settings, "db_schema", None))
        finally:
            engine.dispose()
        self.migrations += 1

    def _sqlite_template(self) -> Path:
        if self._sqlite is None:
            from pgxguard.service.settings import Settings

            data = self.root / "sqlite-template"
            self._migrate(Settings(data_dir=data))
            self._sqlite = data / DB_FILE
        return self._sqlite

    @contextlib.contextmanager
    def database(self, kind: str, tmp_dir: Path,
                 why_no_postgres: str | None) -> Iterator[object]:
        """Settings (run_migrations off) for a migrated, empty database of `kind`."""
        from pgxguard.service.settings import Settings

        if kind == "sqlite":
            template = self._sqlite_template()
            data = tmp_dir / "data"
            data.mkdir(parents=True, exist_ok=True)
            for suffix in ("", "-wal", "-shm"):
                src = template.with_name(template.name + suffix)
                if src.exists():
                    shutil.copyfile(src, data / src.name)
            yield Settings(data_dir=data, run_migrations=False)
            return
        if why_no_postgres:
            pytest.skip(why_no_postgres)
        if self._schema is None:
            schema = f"pgxguard_test_{uuid.uuid4().hex[:12]}"
            self._migrate(Settings(data_dir=tmp_dir / "data", db_url=PG_URL, db_schema=schema))
            self._schema = schema
        try:
            yield Settings(data_dir=tmp_dir / "data", db_url=PG_URL, db_schema=self._schema,
                           run_migrations=False)
        finally:
            self._reset_postgres()

    def _reset_postgres(self) -> None:
        schema = self._schema
        if schema is None:
            return
        engine = create_engine(PG_URL)
        try:
            with engine.begin() as c:
                c.execute(text("SET LOCAL lock_timeout = '10s'"))
                c.execute(text("SET LOCAL session_replication_role = replica"))
                tables = c.execute(text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = :s "
                    "AND tablename <> 'alembic_version'"), {"s": schema}).scalars().all()
                for t in tables:  # DELETE: far cheaper than TRUNCATE on tables this small
                    c.execute(text(f'DELETE FROM "{schema}"."{t}"'))
                sequences = c.execute(text(
                    "SELECT sequence_name FROM information_schema.sequences "
                    "WHERE sequence_schema = :s"), {"s": schema}).scalars().all()
                for q in sequences:
                    c.execute(text(f'ALTER SEQUENCE "{schema}"."{q}" RESTART'))
        except Exception:  # cannot reset: start again from a new schema
            self._schema = None
            _drop_schema(schema)
        finally:
            engine.dispose()

    def close(self) -> None:
        if self._schema is not None:
            _drop_schema(self._schema)
            self._schema = None
