"""How risk figures are written for people (check details, reasons, the kill switch)."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

__all__ = ["fmt", "pct"]


def fmt(value: Decimal) -> str:
    """A decimal with thousands separators, no exponent, no trailing zeros: ``12,000.5``."""
    return f"{value.normalize():,f}" if value else "0"


def pct(value: Decimal) -> str:
    """A fraction as a percentage, cut (not rounded) to two places: ``0.14999`` ->
    ``14.99%``, so a figure just short of a limit never reads as the limit."""
    text = f"{(value * 100).quantize(Decimal('0.01'), rounding=ROUND_DOWN):f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return f"{text}%"
