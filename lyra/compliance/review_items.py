"""A review item: something a person must look at before a tax report is final.

Koinly, CryptoTaxCalculator and Syla call them warnings; Lyra lists them with
``lyra tax review`` and a report built while any is open says "needs review"
(docs/tax.md "Review before a report is final"). ``row`` is the ledger line (an int) or,
for what only the import saw, the export's ``file:line`` (a str).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["MISSING_PREFIX", "REVIEW_KINDS", "ReviewItem", "ReviewKind"]

#: ``aud_source`` of a value the import could not find (``missing:<why>``): a review
#: item, and a row a report refuses.
MISSING_PREFIX: Final = "missing:"

ReviewKind = Literal[
    "missing_cost_base",
    "missing_aud_value",
    "more_sold_than_held",
    "unmatched_transfer",
    "duplicate",
    "unknown_kind",
    "lot_ignored",
]
REVIEW_KINDS: Final[tuple[ReviewKind, ...]] = (
    "missing_cost_base",
    "missing_aud_value",
    "more_sold_than_held",
    "unmatched_transfer",
    "duplicate",
    "unknown_kind",
    "lot_ignored",
)


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """One item: its kind, where it is, and what is wrong in a sentence."""

    kind: ReviewKind
    row: int | str
    detail: str

    def as_json(self) -> dict[str, int | str]:
        """``{kind, row, detail}`` (the ``lyra tax review --format json`` contract)."""
        return {"kind": self.kind, "row": self.row, "detail": self.detail}
