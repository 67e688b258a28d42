"""What `pgxguard serve` calls: kept here so the CLI stays one library call per command."""

from __future__ import annotations

from pgxguard.service.settings import Settings


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


def run_server(settings: Settings, *, host: str, port: int) -> None:
    import uvicorn

    from pgxguard.service.app import create_app

    app = create_app(settings)
    uvicorn.run(app, host=host, port=port, log_level="info")


__all__ = ["create_admin_user", "run_server"]
