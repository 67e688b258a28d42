"""Row ids in requests, bounded so that an out-of-range id is a 422, never a database error.

Ids are `INTEGER` columns: PostgreSQL refuses values over 2**31 - 1 (DataError) and SQLite's
driver raises OverflowError over 2**63 - 1; both surfaced as 500s before (found by the
schemathesis run, tests/test_service_schemathesis.py).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import Field

MAX_ROW_ID = 2**31 - 1

RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
OptionalRowIdQuery = Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)]


def row_id_field(**kw: Any) -> Any:
    """A pydantic field holding a row id (e.g. `result_id` in a request body)."""
    return Field(ge=1, le=MAX_ROW_ID, **kw)


__all__ = ["MAX_ROW_ID", "OptionalRowIdQuery", "RowId", "row_id_field"]
