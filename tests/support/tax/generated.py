"""Generated ledgers for property tests (hypothesis): buys and sells of two assets that
never sell more than is held, some naming their parcel, some on the same day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import strategies as st

from lyra.compliance.ledger import Txn

__all__ = ["ASSETS", "ledgers"]

START = datetime(2022, 7, 1, 2, tzinfo=UTC)
ASSETS = ("BTC", "ETH")


def _txn(
    i: int, day: int, kind: str, asset: str, qty: Decimal, value: Decimal, lot: str = ""
) -> Txn:
    return Txn(
        line=i + 2,
        timestamp=START + timedelta(days=day, minutes=i),
        type=kind,
        asset=asset,
        quantity=qty,
        aud_value=value,
        fee_aud=Decimal("0.5") if kind == "buy" else Decimal(0),
        to_asset="",
        to_quantity=None,
        given_aud_value=None,
        exchange="kraken",
        counterparty="",
        id=f"t{i}",
        lot=lot,
        aud_source="test",
    )


@st.composite
def ledgers(draw: st.DrawFn) -> list[Txn]:
    """Buys and sells that never sell more than held, then everything sold."""
    steps = draw(
        st.lists(
            st.tuples(
                st.sampled_from(ASSETS),
                st.booleans(),
                st.integers(1, 500),  # quantity in hundredths
                st.integers(1, 100_000),  # AUD value in cents
                st.integers(0, 400),  # days later
                st.integers(0, 10**6),  # lot choice seed
            ),
            min_size=1,
            max_size=40,
        )
    )
    held: dict[str, list[tuple[str, Decimal]]] = {a: [] for a in ASSETS}
    rows: list[Txn] = []
    day = 0
    for asset, is_buy, q, cents, gap, seed in steps:
        day += gap
        qty, value = Decimal(q) / 100, Decimal(cents) / 100
        lots = [(lid, left) for lid, left in held[asset] if left > 0]
        if is_buy or not lots:
            rows.append(_txn(len(rows), day, "buy", asset, qty, value))
            held[asset].append((rows[-1].id, qty))
            continue
        lid, left = lots[seed % len(lots)]
        take = min(qty, left)
        rows.append(_txn(len(rows), day, "sell", asset, take, value, lot=lid))
        held[asset] = [(i, x - take if i == lid else x) for i, x in held[asset]]
    for asset in ASSETS:
        total = sum((x for _, x in held[asset]), Decimal(0))
        if total:
            day += 1
            rows.append(_txn(len(rows), day, "sell", asset, total, Decimal("123.45")))
    return rows
