"""Alembic environment. The service runs migrations programmatically (`db.migrate`), passing
an open connection in `config.attributes["connection"]`; the alembic CLI works too with
`-x url=...` or `sqlalchemy.url` set."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

import pgxguard.service.models  # noqa: F401  (register the tables)
from pgxguard.service.db import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite",
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: pass -x url=... or set sqlalchemy.url")
    return url


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    conn = config.attributes.get("connection")
    if conn is not None:
        _run(conn)
    else:
        engine = create_engine(_url())
        with engine.begin() as c:
            _run(c)
