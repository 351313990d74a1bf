"""Which codes are money (fiat currencies), and which crypto assets track the US dollar.

One list for the importers, the conversion and the valuation: a trade against money is a
buy or a sell (not a crypto-to-crypto swap, ATO "Crypto asset transactions"), and money is
valued by its exchange rate, not by a market price. Stablecoins are crypto assets
(docs/tax.md "AUD values"): valued at their own price, and taken as USD only under a
labelled assumption.
"""

from __future__ import annotations

from typing import Final

__all__ = ["FIAT", "STABLECOINS"]

#: Fiat currency codes (ISO 4217) seen on exchanges, AUD included.
FIAT: Final = frozenset(
    {
        "AUD", "USD", "EUR", "GBP", "NZD", "SGD", "CAD", "JPY", "CHF", "HKD", "KRW",
        "INR", "CNY", "TRY", "BRL", "ZAR", "SEK", "NOK", "DKK", "PLN", "MXN", "CZK",
        "HUF", "AED", "ILS", "TWD", "THB", "MYR", "IDR", "PHP", "VND", "NGN", "ARS",
        "RUB", "UAH", "PGK",
    }
)  # fmt: skip
#: Crypto assets that track the US dollar.
STABLECOINS: Final = frozenset({"USDT", "USDC", "DAI", "BUSD", "TUSD", "USDP", "FDUSD", "PYUSD"})
