"""Shared fixtures of the service tests (imported by the other tests/test_service_*.py files).

`db_settings` (and so `svc`) is parametrised over SQLite (a file in tmp_path) and PostgreSQL at
postgresql+psycopg://postgres@127.0.0.1:5432/test (skipped cleanly when the server is
unreachable). Each backend is migrated once per run and every test starts from the migrated,
empty database (`service_db`); `fresh_db_settings` and `database()` give a fresh, unmigrated
one for the tests of migrations and start-up. `Svc` gives a TestClient, one signed-in user per
role, and direct database access for checking what was stored.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from pgxguard.service.app import create_app
from pgxguard.service.auth import security
from pgxguard.service.auth import service as auth_service
from pgxguard.service.auth.permissions import Role
from pgxguard.service.models import AuditEvent
from pgxguard.service.settings import Settings
from service_db import PG_URL, MigratedDatabases, fresh_database

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DEMO_VCF = EXAMPLES / "demo.vcf"
DEMO_OUTSIDE = EXAMPLES / "demo-outside-calls.tsv"
PASSWORD = "correct-horse-battery"
CHECKER = "checker"  # key of the second laboratory scientist in Svc.tokens / Svc.user_ids
# The PostgreSQL variants are `slow`: `make check` runs SQLite only, `make test` both.
DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)]
VALID_NHS = "9434765919"  # modulus 11: checked in test_service_patients
# A production-grade secret (random; passes the entropy check of Settings.check).
GOOD_SECRET = "u7Qm2Zt9Lr4Xk1Vb8Nc3Hs6Jd0Fw5Gy2Pe7Ta4Rk9Ub1Mz3"


@functools.lru_cache(maxsize=1)
def postgres_reachable() -> str | None:
    """None when reachable, else why not."""
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as c:
            c.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as e:  # any failure means: skip
        return f"PostgreSQL at {PG_URL} unreachable: {type(e).__name__}"
    return None


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing() -> Iterator[None]:
    # argon2id with small costs: the tests exercise the logic, not the work factor.
    saved = security._HASHER
    security._HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    security._HASHER = saved


@contextlib.contextmanager
def database(kind: str, tmp_dir: Path) -> Iterator[Settings]:
    """Settings for a fresh SQLite file or a fresh PostgreSQL schema (dropped afterwards)."""
    with fresh_database(kind, tmp_dir, postgres_reachable()) as settings:
        assert isinstance(settings, Settings)
        yield settings


@pytest.fixture(params=DATABASES)
def db_settings(request: pytest.FixtureRequest, tmp_path: Path,
                migrated_databases: MigratedDatabases) -> Iterator[Settings]:
    """A migrated, empty database (migrated once per run, reset after the test)."""
    with migrated_databases.database(request.param, tmp_path, postgres_reachable()) as settings:
        assert isinstance(settings, Settings)
        yield settings


@pytest.fixture(params=DATABASES)
def fresh_db_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """A fresh, unmigrated database: for tests of the migrations themselves."""
    with database(request.param, tmp_path) as settings:
        yield settings


@dataclass
class Svc:
    client: TestClient
    settings: Settings
    tokens: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)

    @property
    def app(self) -> Any:
        return self.client.app

    def h(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def session(self) -> Session:
        s: Session = self.app.state.sessions()
        return s

    def audit(self, **where: Any) -> list[AuditEvent]:
        with self.session() as s:
            q = select(AuditEvent).order_by(AuditEvent.id)
            for k, v in where.items():
                q = q.where(getattr(AuditEvent, k) == v)
            return list(s.scalars(q))

    def new_patient(self, nhs: str = VALID_NHS, role: str = "prescriber") -> int:
        r = self.client.post("/patients", headers=self.h(role), json={
            "nhs_number": nhs, "family_name": "Smith", "given_name": "Ann",
            "date_of_birth": str(date(1970, 1, 2))})
        assert r.status_code == 201, r.text
        return int(r.json()["id"])

    def upload_vcf(self, patient_id: int, sample: str = "PATIENT1",
                   path: Path = DEMO_VCF, sign_off: bool = True) -> dict[str, Any]:
        """Upload as the lab scientist; by default a second one (`checker`) signs it off, as
        the laboratory does before a result is used clinically."""
        with path.open("rb") as fh:
            r = self.client.post(f"/patients/{patient_id}/results/vcf", headers=self.h(
                "lab_scientist"), files={"file": (path.name, fh)}, data={"sample": sample})
        assert r.status_code == 201, r.text
        out: dict[str, Any] = r.json()
        if sign_off:
            out = self.sign_off(out["id"], out["latest"]["version"])
        return out

    def sign_off(self, result_id: int, version: int) -> dict[str, Any]:
        r = self.client.post(f"/results/{result_id}/versions/{version}/sign-off",
                             headers=self.h("checker"), json={"note": "checked"})
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out


def make_service(settings: Settings) -> Iterator[Svc]:
    app = create_app(settings)
    with TestClient(app) as client:
        svc = Svc(client=client, settings=settings)
        with svc.session() as s:
            for role in Role:
                u = auth_service.create_user(s, f"user-{role.value}".replace("_", "-"),
                                             PASSWORD, role.value)
                svc.user_ids[role.value] = u.id
            # a second laboratory scientist, who signs off what the first one produced
            svc.user_ids[CHECKER] = auth_service.create_user(s, "user-checker", PASSWORD,
                                                             Role.LAB_SCIENTIST.value).id
            s.commit()
        for key, name in [*((r.value, f"user-{r.value}".replace("_", "-")) for r in Role),
                          (CHECKER, "user-checker")]:
            r = client.post("/auth/token", json={"username": name, "password": PASSWORD})
            assert r.status_code == 200, r.text
            svc.tokens[key] = r.json()["access_token"]
        yield svc


@pytest.fixture
def svc(db_settings: Settings) -> Iterator[Svc]:
    yield from make_service(db_settings)


@pytest.fixture
def sqlite_svc(tmp_path: Path) -> Iterator[Svc]:
    yield from make_service(Settings(data_dir=tmp_path / "sqlite-only"))
