"""One exception tree: the CLI and API map only `PgxError` to exit codes and HTTP errors."""

from __future__ import annotations


class PgxError(Exception):
    """Root of every error pgxguard raises on purpose.

    The message always says what went wrong, where (file and line when known) and how to fix it.
    """

    exit_code = 1

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 hint: str | None = None) -> None:
        self.path = path
        self.line = line
        self.hint = hint
        self.detail = message
        super().__init__(self._format())

    def _format(self) -> str:
        where = ""
        if self.path:
            where = f"{self.path}"
            if self.line is not None:
                where += f", line {self.line}"
            where += ": "
        text = f"{where}{self.detail}"
        if self.hint:
            text += f" ({self.hint})"
        return text


class KnowledgeBaseError(PgxError):
    """The knowledge-base snapshot or a definition file is missing, corrupt or inconsistent."""

    exit_code = 3


class InputError(PgxError):
    """The user's input (VCF, TSV, JSON, options) cannot be used as given."""

    exit_code = 2


class VcfError(InputError):
    """A VCF/BCF file is malformed, truncated, of an unknown build or lacks what was asked for."""


class OutsideCallError(InputError):
    """A row of an outside-call TSV cannot be used."""


class SampleError(InputError):
    """A requested sample is absent, or sample names are duplicated."""


class UnknownMedicineError(InputError):
    """A medicine name, code or free text that pgxguard cannot resolve."""


class ReportFormatError(PgxError):
    """An output format whose implementation is not available in this installation."""


__all__ = [
    "InputError",
    "KnowledgeBaseError",
    "OutsideCallError",
    "PgxError",
    "ReportFormatError",
    "SampleError",
    "UnknownMedicineError",
    "VcfError",
]
