"""The one error tree (the map in `pgxguard.errors`' docstring) and the public API names.

Expected values come from the drawn map: every `PgxError` subclass anywhere in pgxguard must be
defined in `pgxguard.errors`, drawn under its real parent, and have the code, exit status and
HTTP status the map gives it.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import pgxguard
from pgxguard import errors
from pgxguard.errors import PgxError

README = Path(__file__).resolve().parents[1] / "README.md"
_ROW = re.compile(r"^(?P<indent>[ │├└─]*)(?P<name>[A-Z][A-Za-z]+)\s+(?P<code>[a-z_]+)\s+"
                  r"(?P<exit>\d)\s+(?P<http>\d{3})\b")


def _drawn() -> dict[str, tuple[str | None, str, int, int]]:
    """name -> (parent, code, exit code, HTTP status) as drawn in the docstring."""
    rows: dict[str, tuple[str | None, str, int, int]] = {}
    stack: list[tuple[int, str]] = []
    for line in (errors.__doc__ or "").splitlines():
        m = _ROW.match(line[4:]) if line.startswith("    ") else None
        if not m:
            continue
        depth = len(m["indent"])
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parent = stack[-1][1] if stack else None
        rows[m["name"]] = (parent, m["code"], int(m["exit"]), int(m["http"]))
        stack.append((depth, m["name"]))
    return rows


def _all_pgx_errors() -> set[type[PgxError]]:
    for mod in pkgutil.walk_packages(pgxguard.__path__, "pgxguard."):
        if ".migrations." in mod.name + ".":  # alembic scripts run only under alembic
            continue
        importlib.import_module(mod.name)
    seen: set[type[PgxError]] = set()
    todo: list[type[PgxError]] = [PgxError]
    while todo:
        cls = todo.pop()
        if cls not in seen:
            seen.add(cls)
            todo.extend(cls.__subclasses__())
    return seen


def test_the_drawn_map_parses() -> None:
    drawn = _drawn()
    assert drawn["PgxError"][0] is None
    assert drawn["VcfError"][0] == "InputError"
    assert drawn["NotFoundError"][0] == "ServiceError"
    assert len(drawn) >= 20


def test_every_error_class_is_in_the_one_tree() -> None:
    drawn = _drawn()
    found = _all_pgx_errors()
    for cls in found:
        where = f"{cls.__module__}.{cls.__qualname__}"
        assert cls.__module__ == "pgxguard.errors", \
            f"{where}: define it in pgxguard/errors.py and draw it in the map there"
        assert cls.__name__ in drawn, f"{where}: draw it in the map in pgxguard/errors.py"
        assert cls.__name__ in errors.__all__
        parent, code, exit_code, http = drawn[cls.__name__]
        assert (cls.__bases__[0].__name__ if cls is not PgxError else None) == parent, where
        assert "code" in vars(cls), f"{where}: give it its own stable `code`"
        assert (cls.code, cls.exit_code, cls.status_code) == (code, exit_code, http), where
    assert {c.__name__ for c in found} == set(drawn), "the map names a class that is gone"
    codes = [c.code for c in found]
    assert len(codes) == len(set(codes)), "codes must be unique"


def test_old_import_locations_still_work() -> None:
    from pgxguard.budget import TimeBudgetError, WorkCancelled
    from pgxguard.cohort import CohortError
    from pgxguard.io.callers import FormatError
    from pgxguard.service.cli import AuditTrailBroken
    from pgxguard.service.errors import NotFoundError, TooManyAttemptsError
    from pgxguard.service.fhir.service import BadSearchError
    from pgxguard.service.settings import SettingsError

    assert TimeBudgetError is errors.TimeBudgetError and WorkCancelled is errors.WorkCancelled
    assert CohortError is errors.CohortError and FormatError is errors.CallerFormatError
    assert AuditTrailBroken is errors.AuditTrailBroken and SettingsError is errors.SettingsError
    assert NotFoundError is errors.NotFoundError and BadSearchError is errors.BadSearchError
    assert TooManyAttemptsError is errors.TooManyAttemptsError


@pytest.mark.parametrize(("exc", "status"), [
    (errors.KnowledgeBaseError("the knowledge base is corrupt", hint="reinstall pgxguard"), 500),
    (errors.VcfError("not a VCF", hint="give a VCF"), 422),
    (errors.NotFoundError("no such patient"), 404),
    (PgxError("something else", hint="fix it"), 400),
])
def test_http_status_through_the_service(tmp_path: Path, exc: PgxError, status: int) -> None:
    """The service's own error handler answers with the class's status: a knowledge-base
    fault is the server's (500), not the request's."""
    from pgxguard.service.app import create_app
    from pgxguard.service.settings import Settings

    app = create_app(Settings(data_dir=tmp_path / "data"))

    def boom() -> None:
        raise exc

    app.add_api_route("/test-only-boom", boom)
    with TestClient(app) as client:
        r = client.get("/test-only-boom")
    assert r.status_code == status, r.text
    assert r.json()["error"] == exc.detail and r.json()["hint"] == exc.hint


def test_public_api_names() -> None:
    """Every name in `pgxguard.__all__` is importable, has a docstring and is in the README."""
    readme = README.read_text(encoding="utf-8")
    for name in pgxguard.__all__:
        obj = getattr(pgxguard, name)
        if not isinstance(obj, str):
            assert (obj.__doc__ or "").strip(), f"pgxguard.{name} has no docstring"
        assert re.search(rf"\b{re.escape(name)}\b", readme), f"README.md does not mention {name}"
        ns: dict[str, object] = {}
        exec(f"from pgxguard import {name}", ns)
        assert ns[name] is obj
