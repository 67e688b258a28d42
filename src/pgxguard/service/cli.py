"""What `pgxguard serve` calls: kept here so the CLI stays one library call per command."""

from __future__ import annotations

import sys
from typing import Any

from pgxguard.errors import AuditTrailBroken, PgxError
from pgxguard.service.settings import Settings, SettingsError


def create_admin_user(settings: Settings, username: str, password: str) -> str:
    """Create (or confirm) the admin `username` in the configured database; return a message."""
    from pgxguard.service.auth import service as auth
    from pgxguard.service.db import make_engine, migrate, session_factory

    settings.check()
    engine = make_engine(settings)
    try:
        migrate(engine, settings.db_schema)
        with session_factory(engine)() as s:
            user, created = auth.ensure_admin(s, username, password)
            s.commit()
            if not created:
                return f"user {username!r} already exists (role {user.role}); unchanged"
            return f"created admin user {username!r} in {engine.url.render_as_string()}"
    finally:
        engine.dispose()


def run_server(settings: Settings, *, host: str, port: int, workers: int = 1,
               ssl_certfile: str | None = None, ssl_keyfile: str | None = None) -> None:
    """One process, or `workers` uvicorn worker processes (the service is CPU-bound per
    process; each worker builds its app from the environment, migrations run once here).
    Files the service creates are private (umask 077); the access log has query strings
    redacted; uvicorn's own proxy-header handling is off (it trusts 127.0.0.1 by default):
    only `PGXGUARD_TRUSTED_PROXIES` are believed."""
    import logging
    import os

    import uvicorn

    from pgxguard.service.app import create_app
    from pgxguard.service.transport import listen_warning, log_config

    os.umask(0o077)
    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise SettingsError("--ssl-certfile and --ssl-keyfile go together")
    warning = listen_warning(host, tls=ssl_certfile is not None,
                             trusted_proxies=settings.trusted_proxies)
    if warning:
        logging.getLogger("pgxguard.service").warning(warning)
        print(f"WARNING: {warning}", file=sys.stderr, flush=True)
    app = create_app(settings)  # checks settings, migrates, creates the bootstrap admin
    common: dict[str, Any] = {"host": host, "port": port, "log_level": "info",
                              "log_config": log_config(), "proxy_headers": False,
                              "ssl_certfile": ssl_certfile, "ssl_keyfile": ssl_keyfile}
    if workers <= 1:
        uvicorn.run(app, **common)
        return
    app.state.engine.dispose()
    os.environ["PGXGUARD_DB_URL"] = settings.database_url
    os.environ["PGXGUARD_RUN_MIGRATIONS"] = "false"
    uvicorn.run("pgxguard.service.app:app_from_env", factory=True, workers=workers, **common)


def verify_audit(settings: Settings, anchor: str | None = None) -> dict[str, Any]:
    """Verify the audit trail's hash chain in the configured database (read only; no
    migration, no secret needed). `anchor` = "ID:HASH" recorded from an earlier run."""
    from sqlalchemy.exc import SQLAlchemyError

    from pgxguard.service.audit import chain
    from pgxguard.service.db import make_engine, session_factory

    pin: tuple[int, str] | None = None
    if anchor:
        ident, _, digest = anchor.partition(":")
        if not (ident.isascii() and ident.isdigit() and len(digest) == 64):
            raise PgxError(f"--anchor {anchor!r} is not ID:HASH",
                           hint="pass last_id:head from an earlier `pgxguard audit verify`")
        pin = (int(ident), digest.lower())
    engine = make_engine(settings)
    try:
        with session_factory(engine)() as s:
            return chain.verify(s, anchor=pin).as_dict()
    except SQLAlchemyError as e:
        raise PgxError(f"cannot read the audit trail ({type(e).__name__}: {str(e)[:200]})",
                       hint="check --db / PGXGUARD_DB_URL; a database from before version "
                            "0005 is migrated by starting `pgxguard serve` once") from e
    finally:
        engine.dispose()


__all__ = ["AuditTrailBroken", "create_admin_user", "run_server", "verify_audit"]
