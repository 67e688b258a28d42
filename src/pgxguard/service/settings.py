"""One settings object for the service, read from the environment (`PGXGUARD_*`) or given.

`Settings.check()` refuses unsafe production configurations: the default secret, a short
secret, or SQLite in production (unless `allow_sqlite_in_production`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pgxguard.errors import PgxError

DEFAULT_SECRET = "pgxguard-development-secret-do-not-use-in-production"
MIN_SECRET_LENGTH = 32
ENVIRONMENTS = ("development", "production")


class SettingsError(PgxError):
    """The service configuration is unsafe or invalid; the service refuses to start."""

    exit_code = 4


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "pgxguard"


def _bool(value: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"not a boolean: {value!r}", hint="use true or false")


def _int(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError as e:
        raise SettingsError(f"{name} must be an integer, got {value!r}") from e


@dataclass(frozen=True, slots=True)
class Settings:
    """Service configuration. Every field has an environment variable `PGXGUARD_<NAME>`."""

    environment: str = "development"
    data_dir: Path = field(default_factory=default_data_dir)
    # SQLAlchemy URL; None means the embedded SQLite file <data_dir>/pgxguard.db.
    db_url: str | None = None
    # PostgreSQL only: the schema to use (search_path); None = the server's default.
    db_schema: str | None = None
    secret: str = DEFAULT_SECRET
    # Largest accepted upload (VCF, TSV, FHIR Bundle) and largest JSON request body, in bytes.
    max_upload_bytes: int = 64 * 1024 * 1024
    max_json_bytes: int = 1024 * 1024
    token_ttl_hours: int = 12
    # Sign-in throttle: after this many failed sign-ins for one username within the window,
    # further attempts (even with the right password) are refused until the window has passed.
    login_max_failures: int = 5
    login_window_minutes: int = 15
    # Result sign-off: a result version is used for medication reviews and CDS cards only once a
    # laboratory scientist has signed it off, and (second person) not the one who produced it.
    require_signoff: bool = True
    signoff_second_person: bool = True
    allow_sqlite_in_production: bool = False
    # Optional bootstrap admin created at start-up when no user of that name exists.
    admin_user: str | None = None
    admin_password: str | None = None
    run_migrations: bool = True

    @property
    def database_url(self) -> str:
        if self.db_url:
            return self.db_url
        return f"sqlite:///{self.data_dir / 'pgxguard.db'}"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def production(self) -> bool:
        return self.environment == "production"

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        env = dict(os.environ if environ is None else environ)
        kw: dict[str, Any] = {}
        p = "PGXGUARD_"
        if f"{p}ENV" in env:
            kw["environment"] = env[f"{p}ENV"].strip().lower()
        if f"{p}DATA_DIR" in env:
            kw["data_dir"] = Path(env[f"{p}DATA_DIR"])
        for name in ("db_url", "db_schema", "secret", "admin_user", "admin_password"):
            if env.get(p + name.upper()):
                kw[name] = env[p + name.upper()]
        for name in ("max_upload_bytes", "max_json_bytes", "token_ttl_hours",
                     "login_max_failures", "login_window_minutes"):
            if env.get(p + name.upper()):
                kw[name] = _int(p + name.upper(), env[p + name.upper()])
        for name in ("allow_sqlite_in_production", "run_migrations", "require_signoff",
                     "signoff_second_person"):
            if p + name.upper() in env:
                kw[name] = _bool(env[p + name.upper()])
        kw.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**kw)

    def check(self) -> Settings:
        """Raise `SettingsError` for an invalid or unsafe configuration; return self."""
        if self.environment not in ENVIRONMENTS:
            raise SettingsError(f"unknown environment {self.environment!r}",
                                hint="PGXGUARD_ENV must be development or production")
        if self.max_upload_bytes <= 0 or self.max_json_bytes <= 0:
            raise SettingsError("request size limits must be positive")
        if self.token_ttl_hours <= 0:
            raise SettingsError("token_ttl_hours must be positive")
        if self.login_max_failures <= 0 or self.login_window_minutes <= 0:
            raise SettingsError("login_max_failures and login_window_minutes must be positive")
        if self.production:
            if self.secret == DEFAULT_SECRET:
                raise SettingsError(
                    "refusing to start in production with the default secret",
                    hint="set PGXGUARD_SECRET to a random value of at least "
                         f"{MIN_SECRET_LENGTH} characters")
            if len(self.secret) < MIN_SECRET_LENGTH:
                raise SettingsError(
                    f"refusing to start in production with a secret shorter than "
                    f"{MIN_SECRET_LENGTH} characters", hint="set a longer PGXGUARD_SECRET")
            if self.is_sqlite and not self.allow_sqlite_in_production:
                raise SettingsError(
                    "refusing to start in production on SQLite",
                    hint="pass a PostgreSQL URL (--db postgresql+psycopg://...) or set "
                         "PGXGUARD_ALLOW_SQLITE_IN_PRODUCTION=true for a single-node service")
            if self.admin_password is not None and self.admin_user is None:
                raise SettingsError("PGXGUARD_ADMIN_PASSWORD is set without PGXGUARD_ADMIN_USER")
        return self


__all__ = ["DEFAULT_SECRET", "Settings", "SettingsError", "default_data_dir"]
