"""Australian business identifiers: ABN, ACN and TFN check digits, and TFN masking.

Pure functions, no I/O. A valid check digit says the number is well formed, never that
it is issued or active (for that, the Australian Business Register is the source).

- ABN (ABR "Format of the ABN"): 11 digits; subtract 1 from the first digit; weights
  10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19; valid iff the weighted sum is divisible by 89.
  The ABR's own example, 51 824 753 556, is valid.
- ACN (ASIC "Australian Company Number" check digit): 9 digits; weights 8..1 on the
  first eight; check digit = (10 - sum mod 10) mod 10.
- TFN (ATO algorithm, weights 1, 4, 3, 7, 5, 8, 6, 9, 10): 9 digits, weighted sum
  divisible by 11. A TFN is personal information: it is never logged, stored in plain
  text or printed whole (docs/tax.md "Identifiers"); :func:`mask_tfn` shows the last three.

Usage::

    is_valid_abn("51 824 753 556")   # True
    mask_tfn("123456782")            # '******782'
"""

from __future__ import annotations

__all__ = [
    "digits_of",
    "is_valid_abn",
    "is_valid_acn",
    "is_valid_tfn",
    "mask_tfn",
]

_ABN_WEIGHTS = (10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19)
_ACN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 1)
_TFN_WEIGHTS = (1, 4, 3, 7, 5, 8, 6, 9, 10)
_SEPARATORS = " -"


def digits_of(number: str) -> str | None:
    """The digits of ``number`` with spaces and hyphens removed; None if anything else
    is in it (letters, dots), so ``"51.824"`` is not silently read as ``51824``."""
    stripped = "".join(ch for ch in number.strip() if ch not in _SEPARATORS)
    if not stripped.isascii() or not stripped.isdigit():
        return None
    return stripped


def is_valid_abn(number: str) -> bool:
    """True when ``number`` is a well-formed ABN (module docstring for the rule)."""
    digits = digits_of(number)
    if digits is None or len(digits) != 11:
        return False
    values = [int(d) for d in digits]
    values[0] -= 1
    if values[0] < 0:
        return False
    return sum(w * v for w, v in zip(_ABN_WEIGHTS, values, strict=True)) % 89 == 0


def is_valid_acn(number: str) -> bool:
    """True when ``number`` is a well-formed ACN (ASIC check digit)."""
    digits = digits_of(number)
    if digits is None or len(digits) != 9:
        return False
    values = [int(d) for d in digits]
    total = sum(w * v for w, v in zip(_ACN_WEIGHTS, values[:8], strict=True))
    return (10 - total % 10) % 10 == values[8]


def is_valid_tfn(number: str) -> bool:
    """True when ``number`` is a well-formed 9-digit TFN (ATO weights, modulus 11)."""
    digits = digits_of(number)
    if digits is None or len(digits) != 9:
        return False
    total = sum(w * int(d) for w, d in zip(_TFN_WEIGHTS, digits, strict=True))
    return total % 11 == 0


def mask_tfn(number: str) -> str:
    """The TFN as it may be shown: all but the last three digits hidden."""
    digits = digits_of(number) or ""
    if len(digits) <= 3:
        return "*" * len(digits)
    return "*" * (len(digits) - 3) + digits[-3:]
