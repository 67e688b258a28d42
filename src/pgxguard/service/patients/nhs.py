"""NHS number: 10 digits, the last a modulus 11 check digit.

Weights 10..2 on the first nine digits; check = 11 - (sum mod 11); 11 becomes 0; 10 means the
number is invalid. Spaces and hyphens (`943 476 5919`, `943-476-5919`) are accepted on input.
"""

from __future__ import annotations

import re

from pgxguard.service.errors import ValidationFailedError

_SEPARATORS = re.compile(r"[\s-]")


def check_digit(first_nine: str) -> int | None:
    """The check digit for nine digits, or None when no valid check digit exists (10)."""
    total = sum(int(d) * w for d, w in zip(first_nine, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    return None if check == 10 else check


def normalise_nhs_number(value: str) -> str:
    """The 10-digit form of `value`, or `ValidationFailedError` saying what is wrong."""
    digits = _SEPARATORS.sub("", value)
    if not digits.isascii() or not digits.isdigit() or len(digits) != 10:
        raise ValidationFailedError(
            f"invalid NHS number {value!r}: it must be 10 digits",
            hint="spaces and hyphens are allowed, e.g. 943 476 5919")
    check = check_digit(digits[:9])
    if check is None:
        raise ValidationFailedError(
            f"invalid NHS number {value!r}: no valid modulus 11 check digit exists for "
            f"{digits[:9]}", hint="check the number against the patient's record")
    if int(digits[9]) != check:
        raise ValidationFailedError(
            f"invalid NHS number {value!r}: check digit is {digits[9]}, the modulus 11 rule "
            f"gives {check}", hint="check the number against the patient's record")
    return digits


def is_valid(value: str) -> bool:
    try:
        normalise_nhs_number(value)
    except ValidationFailedError:
        return False
    return True


__all__ = ["check_digit", "is_valid", "normalise_nhs_number"]
