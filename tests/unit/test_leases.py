"""Budget leases in memory: calls draw on a lease only while its hold covers their worst
case, a full or old lease takes no more, and a lease is settled when its last call in
flight concludes, with the exact sum of what its calls cost."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from lyra.llm.leases import Lease, LeaseBook
from lyra.spend.budget import charge_nusd

KEY = ("fast", "main", "m/fast")


def opened(book: LeaseBook, held: int, first: int, at: float = 0.0) -> Lease:
    lease = Lease(KEY, "r-1", held, at)
    book.add(lease, first)
    return lease


def test_calls_draw_on_the_lease_until_their_worst_case_no_longer_fits() -> None:
    book = LeaseBook(max_age_s=60)
    lease = opened(book, held=100, first=30)
    assert book.take(KEY, 30, 1.0) is lease
    assert book.take(KEY, 30, 1.0) is lease
    assert lease.room_nusd == 10
    assert book.take(KEY, 11, 1.0) is None  # does not fit: the caller opens another
    assert book.take(KEY, 1, 1.0) is None  # a lease that did not fit takes nothing more
    assert book.in_flight(KEY) == 3


def test_spent_money_stays_taken_and_rounds_up_once() -> None:
    book = LeaseBook(max_age_s=60)
    lease = opened(book, held=1_000, first=400)
    assert book.take(KEY, 400, 1.0) is lease
    assert not book.give_back(lease, 400, Decimal("0.0000001001"), sent=True)
    # 100.1 nano-dollars spent counts as 101 against the hold, however it was split
    assert lease.spent_nusd == 101
    assert lease.room_nusd == 1_000 - 101 - 400
    assert book.take(KEY, 500, 1.0) is None


def test_the_last_call_in_flight_closes_the_lease_with_the_exact_sum() -> None:
    book = LeaseBook(max_age_s=60)
    lease = opened(book, held=1_000, first=100)
    assert book.take(KEY, 100, 1.0) is lease
    assert not book.give_back(lease, 100, Decimal("0.000000012"), sent=True)
    assert book.give_back(lease, 100, Decimal("0.000000030"), sent=True)
    assert lease.closed
    assert lease.spent_usd == Decimal("0.000000042")
    assert lease.sent == 2
    assert book.take(KEY, 1, 2.0) is None  # an idle gateway holds nothing
    assert not book.give_back(lease, 0, None, sent=False)  # closed once only


def test_a_call_never_sent_leaves_nothing_to_settle() -> None:
    book = LeaseBook(max_age_s=60)
    lease = opened(book, held=1_000, first=100)
    assert book.give_back(lease, 100, None, sent=False)
    assert (lease.sent, lease.spent_usd) == (0, 0)


def test_an_old_lease_takes_no_new_calls() -> None:
    book = LeaseBook(max_age_s=10)
    lease = opened(book, held=1_000, first=1, at=0.0)
    assert book.take(KEY, 1, 9.0) is lease
    assert book.take(KEY, 1, 10.5) is None
    assert book.take(KEY, 1, 10.6) is None  # no longer current: the caller opens another


def test_a_new_lease_replaces_a_full_one_which_closes_when_drained() -> None:
    book = LeaseBook(max_age_s=60)
    first = opened(book, held=100, first=100)
    assert book.take(KEY, 50, 1.0) is None
    second = Lease(KEY, "r-2", 500, 1.0)
    book.add(second, 50)
    assert book.take(KEY, 50, 1.0) is second
    assert book.give_back(first, 100, Decimal("0.00000001"), sent=True)  # drained: settle
    assert not second.closed
    assert book.in_flight(KEY) == 2


@given(
    held=st.integers(min_value=1, max_value=10**6),
    calls=st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=10**5),
            st.integers(min_value=0, max_value=10**5),
        ),
        max_size=40,
    ),
)
def test_what_is_spent_plus_held_for_calls_never_exceeds_the_lease(
    held: int, calls: list[tuple[int, int]]
) -> None:
    """Whatever the order, calls whose real cost stays within their worst case never
    make a lease charge more than it holds (money it holds is already reserved)."""
    book = LeaseBook(max_age_s=60)
    lease = opened(book, held=held, first=1)  # the opening call, worst case 1, costs 1
    flying: list[tuple[int, int]] = [(1, 1)]
    for need, cost in calls:
        taken = book.take(KEY, need, 1.0)
        if taken is not None:
            flying.append((need, min(cost, need)))
        elif flying and not lease.closed:
            done_need, done_cost = flying.pop(0)
            book.give_back(lease, done_need, Decimal(done_cost).scaleb(-9), sent=True)
        assert lease.spent_nusd + lease.outstanding_nusd <= held
    for need, cost in flying:
        book.give_back(lease, need, Decimal(cost).scaleb(-9), sent=True)
    assert lease.closed
    assert charge_nusd(lease.spent_usd) <= held
