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


def run_server(settings: Settings, *, host: str, port: int, workers: int = 1) -> None:
    """One process, or `workers` uvicorn worker processes (the service is CPU-bound per
    process; each worker builds its app from the environment, migrations run once here)."""
    import os

    import uvicorn

    from pgxguard.service.app import create_app

    app = create_app(settings)  # checks settings, migrates, creates the bootstrap admin
    if workers <= 1:
        uvicorn.run(app, host=host, port=port, log_level="info")
        return
    app.state.engine.dispose()
    os.environ["PGXGUARD_DB_URL"] = settings.database_url
    os.environ["PGXGUARD_RUN_MIGRATIONS"] = "false"
    uvicorn.run("pgxguard.service.app:app_from_env", factory=True, host=host, port=port,
                workers=workers, log_level="info")


__all__ = ["create_admin_user", "run_server"]
