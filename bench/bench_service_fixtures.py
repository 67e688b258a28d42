"""Per-test cost of the service tests' database fixture: fresh and migrated per test (the old
`db_settings`) against migrated once per run and reset per test (tests/service_db.py).

Each round makes one service (`make_service`: app, users, sign-ins) on each kind of database,
alternating old and new so that the machine's load falls on both alike. Prints the median wall
and CPU seconds per test set-up plus tear-down. Usage: python bench/bench_service_fixtures.py [N]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from argon2 import PasswordHasher

import test_service_support as support
from pgxguard.service.auth import security
from service_db import MigratedDatabases


def one(ctx: object) -> tuple[float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    with ctx as settings:  # type: ignore[attr-defined]
        gen = support.make_service(settings)
        next(gen)
        for _ in gen:
            pass
    return time.perf_counter() - t0, time.process_time() - c0


def main(n: int) -> None:
    security._HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    kinds = ["sqlite"] + ([] if support.postgres_reachable() else ["postgresql"])
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        dbs = MigratedDatabases(root / "migrated")
        times: dict[tuple[str, str], list[tuple[float, float]]] = {}
        try:
            for i in range(n + 1):
                for kind in kinds:
                    for how in ("fresh", "migrated once"):
                        d = root / f"{kind}-{how}-{i}"
                        ctx = (support.database(kind, d) if how == "fresh" else
                               dbs.database(kind, d, support.postgres_reachable()))
                        w, c = one(ctx)
                        if i:  # round 0 warms up (imports, the one migration of the run)
                            times.setdefault((kind, how), []).append((w, c))
        finally:
            dbs.close()
    print("| database | fixture | wall s (median) | CPU s (median) | rounds |")
    print("| --- | --- | ---: | ---: | ---: |")
    for (kind, how), xs in times.items():
        print(f"| {kind} | {how} | {statistics.median(w for w, _ in xs):.3f} | "
              f"{statistics.median(c for _, c in xs):.3f} | {len(xs)} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
