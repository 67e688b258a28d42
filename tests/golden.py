"""Golden outputs of the demo: `pgxguard call` and `pgxguard review` on examples/demo.vcf.

`make golden` (or `python tests/golden.py --write`) rewrites examples/demo.calls.json and
examples/demo.review.json after an intended change (a new knowledge base, a new field); the
test (tests/test_golden.py) fails on any other change to what the demo prints. Volatile fields
are normalised: the tool's version and the input paths (kept as file names). The golden files
guard against unintended change; the correctness of each call is asserted by the other tests
from the definitions.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DEMO_VCF = EXAMPLES / "demo.vcf"
DEMO_OUTSIDE = EXAMPLES / "demo-outside-calls.tsv"
DEMO_MEDS = EXAMPLES / "demo-medicines.txt"
SAMPLE = "PATIENT1"
GOLDEN = {"calls": EXAMPLES / "demo.calls.json", "review": EXAMPLES / "demo.review.json"}
VERSION = "<version>"


def normalise(doc: Any) -> Any:
    """`doc` with the tool's version and file paths made independent of the checkout."""
    if isinstance(doc, dict):
        out = {k: normalise(v) for k, v in doc.items()}
        tool = out.get("tool")
        if isinstance(tool, dict) and "version" in tool:
            out["tool"] = {**tool, "version": VERSION}
        if isinstance(out.get("input"), dict) and out["input"].get("path"):
            out["input"] = {**out["input"], "path": Path(out["input"]["path"]).name}
        opts = out.get("options")
        if isinstance(opts, dict) and opts.get("outside_calls"):
            out["options"] = {**opts, "outside_calls": [Path(p).name
                                                        for p in opts["outside_calls"]]}
        return out
    if isinstance(doc, list):
        return [normalise(x) for x in doc]
    return doc


def produce() -> dict[str, Any]:
    """What the demo commands print now, through the CLI, normalised."""
    from typer.testing import CliRunner

    from pgxguard.cli import app

    runner = CliRunner()
    with tempfile.TemporaryDirectory() as tmp:
        calls = Path(tmp) / "demo.calls.json"
        r = runner.invoke(app, ["call", str(DEMO_VCF), "--outside-calls", str(DEMO_OUTSIDE),
                                "-o", str(calls)])
        if r.exit_code != 0:
            raise RuntimeError(f"pgxguard call failed: {r.output}")
        review = Path(tmp) / "demo.review.json"
        r = runner.invoke(app, ["review", "--calls", str(calls), "--meds", str(DEMO_MEDS),
                                "--sample", SAMPLE, "-o", str(review)])
        if r.exit_code != 0:
            raise RuntimeError(f"pgxguard review failed: {r.output}")
        return {"calls": normalise(json.loads(calls.read_text(encoding="utf-8"))),
                "review": normalise(json.loads(review.read_text(encoding="utf-8")))}


def text_of(doc: Any) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def main(argv: list[str]) -> int:
    if argv != ["--write"]:
        print("usage: python tests/golden.py --write", file=sys.stderr)
        return 2
    for name, doc in produce().items():
        GOLDEN[name].write_text(text_of(doc), encoding="utf-8")
        print(f"wrote {GOLDEN[name]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
