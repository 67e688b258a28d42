"""One settings object for the service, read from the environment (`PGXGUARD_*`) or given.

`Settings.check()` refuses unsafe production configurations: the default secret, a short or
low-entropy secret, SQLite in production (unless `allow_sqlite_in_production`), or no public
base URL (FHIR references would otherwise follow the request's Host header).
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pgxguard.errors import SettingsError

DEFAULT_SECRET = "pgxguard-development-secret-do-not-use-in-production"
MIN_SECRET_LENGTH = 32
# Estimated bits of the production secret (the smaller of zxcvbn's guess count and length x
# log2(distinct characters)): 32 random URL-safe characters give about 106, 32 x 'a' about 3.
MIN_SECRET_BITS = 100
ENVIRONMENTS = ("development", "production")


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


def secret_bits(secret: str) -> float:
    """A conservative estimate of a secret's entropy in bits: the smaller of zxcvbn's guess
    count (dictionary words, repeats, sequences, keyboard patterns) and length x log2 of the
    number of distinct characters (so `aaaa...` or `abab...` are weak at any length)."""
    from zxcvbn import zxcvbn

    if not secret:
        return 0.0
    guesses = float(zxcvbn(secret[:72])["guesses"])
    by_chars = len(secret) * math.log2(max(2, len(set(secret))))
    return min(math.log2(max(guesses, 1.0)), by_chars)


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
    # Bounded work per upload, enforced while the input is streamed, before any calling:
    # decompressed bytes of a VCF.gz/BCF, longest line (or BCF record), header samples, data
    # records; a FHIR Bundle's size and JSON nesting depth; the interpretation's time budget.
    max_decompressed_bytes: int = 512 * 1024 * 1024
    max_line_bytes: int = 1024 * 1024
    max_vcf_samples: int = 10_000
    max_vcf_records: int = 2_000_000
    max_bundle_bytes: int = 8 * 1024 * 1024
    max_json_depth: int = 64
    interpret_seconds: int = 120
    token_ttl_hours: int = 12
    # Sign-in throttle (auth/throttle.py). Per account and client address: after
    # `login_max_failures` failures each further attempt waits 1, 2, 4, ... minutes (at most
    # `login_max_delay_minutes`). Per address and over all addresses: failures within
    # `login_window_minutes` beyond these counts refuse sign-ins of accounts not signed in
    # from that address before (password spraying).
    login_max_failures: int = 5
    login_window_minutes: int = 15
    login_max_delay_minutes: int = 60
    login_address_max_failures: int = 30
    login_global_max_failures: int = 300
    # Transport. Addresses or networks of reverse proxies whose X-Forwarded-For / -Proto
    # headers are believed (none by default: the peer address is the client). The public base
    # URL (https://pgx.example.nhs.uk) makes FHIR absolute references; required in production.
    trusted_proxies: tuple[str, ...] = ()
    public_base_url: str | None = None
    # Origins (https://ehr.example.nhs.uk) whose browser pages may call the CDS Hooks services
    # (CORS); none by default. Never "*".
    cors_origins: tuple[str, ...] = ()
    # CDS Hooks JWT bearer authentication (auth/cds_jwt.py): the issuers (`iss`) whose signed
    # JWTs the CDS services accept (none by default: API tokens only), the JWK Set holding
    # their public keys (a file path or an https URL), and the service account (a prescriber)
    # such calls act as.
    cds_jwt_issuers: tuple[str, ...] = ()
    cds_jwks: str | None = None
    cds_jwt_user: str | None = None
    # Interactive API docs (/docs, /redoc): on in development, off in production unless set.
    api_docs: bool | None = None
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

    @property
    def docs_enabled(self) -> bool:
        return (not self.production) if self.api_docs is None else self.api_docs

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
        for name in ("db_url", "db_schema", "secret", "admin_user", "admin_password",
                     "public_base_url", "cds_jwks", "cds_jwt_user"):
            if env.get(p + name.upper()):
                kw[name] = env[p + name.upper()]
        for name in INT_SETTINGS:
            if env.get(p + name.upper()):
                kw[name] = _int(p + name.upper(), env[p + name.upper()])
        for name in ("trusted_proxies", "cors_origins", "cds_jwt_issuers"):
            if env.get(p + name.upper(), "").strip():
                kw[name] = tuple(x.strip() for x in env[p + name.upper()].split(",")
                                 if x.strip())
        for name in ("allow_sqlite_in_production", "run_migrations", "require_signoff",
                     "signoff_second_person", "api_docs"):
            if p + name.upper() in env:
                kw[name] = _bool(env[p + name.upper()])
        kw.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**kw)

    def check(self) -> Settings:
        """Raise `SettingsError` for an invalid or unsafe configuration; return self."""
        if self.environment not in ENVIRONMENTS:
            raise SettingsError(f"unknown environment {self.environment!r}",
                                hint="PGXGUARD_ENV must be development or production")
        for name in INT_SETTINGS:
            if getattr(self, name) <= 0:
                raise SettingsError(f"PGXGUARD_{name.upper()} must be positive",
                                    hint="see docs/service.md, Settings")
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError as e:
                raise SettingsError(f"PGXGUARD_TRUSTED_PROXIES: {proxy!r} is not an IP "
                                    "address or network", hint="e.g. 10.0.0.5,10.1.0.0/16") from e
        for origin in self.cors_origins:
            if not _ORIGIN.fullmatch(origin):
                raise SettingsError(f"PGXGUARD_CORS_ORIGINS: {origin!r} is not an origin",
                                    hint="scheme, host and optional port, no path and no '*': "
                                         "e.g. https://ehr.example.nhs.uk")
        if self.cds_jwt_issuers and not (self.cds_jwks and self.cds_jwt_user):
            raise SettingsError("PGXGUARD_CDS_JWT_ISSUERS is set without PGXGUARD_CDS_JWKS and "
                                "PGXGUARD_CDS_JWT_USER",
                                hint="give the EHR's JWK Set (file or https URL) and the "
                                     "prescriber account its CDS calls act as")
        if self.cds_jwks and self.cds_jwks.startswith("http://") and self.production:
            raise SettingsError("PGXGUARD_CDS_JWKS must be an https URL (or a file) in "
                                "production", hint="keys fetched in clear text can be replaced")
        if self.public_base_url is not None and not (
                self.public_base_url.startswith(("https://", "http://"))
                and "?" not in self.public_base_url and "#" not in self.public_base_url):
            raise SettingsError(f"PGXGUARD_PUBLIC_BASE_URL {self.public_base_url!r} is not a "
                                "base URL", hint="e.g. https://pgx.example.nhs.uk")
        if self.production:
            if self.secret == DEFAULT_SECRET:
                raise SettingsError(
                    "refusing to start in production with the default secret",
                    hint="set PGXGUARD_SECRET to a random value of at least "
                         f"{MIN_SECRET_LENGTH} characters")
            if len(self.secret) < MIN_SECRET_LENGTH:
                raise SettingsError(
                    f"refusing to start in production with a secret shorter than "
                    f"{MIN_SECRET_LENGTH} characters", hint=_SECRET_HINT)
            bits = secret_bits(self.secret)
            if bits < MIN_SECRET_BITS:
                raise SettingsError(
                    f"refusing to start in production with a guessable secret (about "
                    f"{bits:.0f} bits of entropy; at least {MIN_SECRET_BITS} needed)",
                    hint=_SECRET_HINT)
            if not self.public_base_url:
                raise SettingsError(
                    "refusing to start in production without PGXGUARD_PUBLIC_BASE_URL",
                    hint="set it to the address clients use (https://pgx.example.nhs.uk): "
                         "FHIR references are built from it, never from the Host header")
            if self.is_sqlite and not self.allow_sqlite_in_production:
                raise SettingsError(
                    "refusing to start in production on SQLite",
                    hint="pass a PostgreSQL URL (--db postgresql+psycopg://...) or set "
                         "PGXGUARD_ALLOW_SQLITE_IN_PRODUCTION=true for a single-node service")
            if self.admin_password is not None and self.admin_user is None:
                raise SettingsError("PGXGUARD_ADMIN_PASSWORD is set without PGXGUARD_ADMIN_USER")
        return self


INT_SETTINGS = ("max_upload_bytes", "max_json_bytes", "max_decompressed_bytes",
                "max_line_bytes", "max_vcf_samples", "max_vcf_records", "max_bundle_bytes",
                "max_json_depth", "interpret_seconds", "token_ttl_hours", "login_max_failures",
                "login_window_minutes", "login_max_delay_minutes",
                "login_address_max_failures", "login_global_max_failures")
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")
_SECRET_HINT = ("set PGXGUARD_SECRET to a random value, e.g. "
                "python -c 'import secrets; print(secrets.token_urlsafe(48))'")

__all__ = ["DEFAULT_SECRET", "INT_SETTINGS", "Settings", "SettingsError", "default_data_dir",
           "secret_bits"]
