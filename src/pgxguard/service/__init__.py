"""The clinical service (`pgxguard serve`): results store, test orders, medication reviews.

Layout (by domain; each package has `service.py` with plain functions taking a Session and a
thin FastAPI `router.py`): `patients`, `results`, `orders`, `reviews`, `auth`, `audit`, `stats`.
Shared: `settings` (one Settings object), `db` (engine, sessions, migrations), `models` (ORM),
`deps` (session and permission dependencies), `errors` (HTTP-mapped PgxErrors), `app`
(`create_app`).
"""

from __future__ import annotations

from pgxguard.service.settings import Settings, SettingsError

__all__ = ["Settings", "SettingsError", "create_app"]


def __getattr__(name: str) -> object:
    if name == "create_app":
        from pgxguard.service.app import create_app

        return create_app
    raise AttributeError(name)
