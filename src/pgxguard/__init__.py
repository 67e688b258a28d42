"""pgxguard: pharmacogenomics from VCF to diplotype, phenotype and guidance."""

from __future__ import annotations

__version__ = "0.1.0"

from pgxguard.call.options import CallOptions
from pgxguard.call.pipeline import call
from pgxguard.call.results import CallResult, GeneCall, SampleCall
from pgxguard.errors import PgxError
from pgxguard.kb.load import load_knowledge_base

__all__ = ["CallOptions", "CallResult", "GeneCall", "PgxError", "SampleCall", "__version__",
           "call", "load_knowledge_base"]
