"""The service tests' databases (tests/service_db.py): a fresh database migrates to head, and
the per-run migrated database comes back empty, with ids restarting, for every test."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import func, select

import test_service_support as support
from pgxguard.service.app import create_app
from pgxguard.service.auth import service as auth_service
from pgxguard.service.db import MIGRATIONS_DIR, make_engine, session_factory
from pgxguard.service.models import AuditEvent, User
from pgxguard.service.settings import Settings
from service_db import MigratedDatabases

_fast_password_hashing = support._fast_password_hashing
fresh_db_settings = support.fresh_db_settings


def _head() -> str:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head
    return head


def _revision(settings: Settings) -> str | None:
    engine = make_engine(settings)
    try:
        with engine.connect() as c:
            return MigrationContext.configure(c).get_current_revision()
    finally:
        engine.dispose()


def test_fresh_database_migrates_at_start_up(fresh_db_settings: Settings) -> None:
    assert fresh_db_settings.run_migrations
    with TestClient(create_app(fresh_db_settings)) as client:
        assert client.get("/health").json()["status"] == "ok"
    assert _revision(fresh_db_settings) == _head()


@pytest.mark.parametrize("kind", support.DATABASES)
def test_migrated_database_is_empty_for_each_use(kind: str, tmp_path: Path,
                                                 migrated_databases: MigratedDatabases) -> None:
    ids = []
    for use in range(2):
        with migrated_databases.database(kind, tmp_path / f"use{use}",
                                         support.postgres_reachable()) as settings:
            assert isinstance(settings, Settings) and not settings.run_migrations
            assert _revision(settings) == _head()
            engine = make_engine(settings)
            try:
                with session_factory(engine)() as s:
                    assert s.scalar(select(func.count()).select_from(User)) == 0
                    assert s.scalar(select(func.count()).select_from(AuditEvent)) == 0
                    ids.append(auth_service.create_user(s, f"u{use}", support.PASSWORD,
                                                        "admin").id)
                    s.commit()
            finally:
                engine.dispose()
    assert ids[0] == ids[1]  # identities restart, as on a fresh database
