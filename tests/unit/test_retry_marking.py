"""One layer decides how often a call is tried: an error the adapter marked exhausted is
not retried by Prefect's retry condition; an unmarked retryable one still is."""

from __future__ import annotations

import pickle
from types import SimpleNamespace

import pytest
from prefect.states import Failed

from lyra.errors import (
    ExchangeUnavailableError,
    RetryableError,
    UnknownSymbolError,
    is_retryable,
)
from lyra.feeds.rss import FeedUnavailableError
from tasks.retry import NETWORK_RETRIES, retry_on_retryable


def test_an_exhausted_error_is_not_retryable_and_a_plain_one_is() -> None:
    plain = ExchangeUnavailableError("binance create order: no answer")
    spent = ExchangeUnavailableError("binance ticker of BTC/USDT: failed 4 times", exhausted=True)
    assert (plain.exhausted, spent.exhausted) == (False, True)
    assert is_retryable(plain)
    assert not is_retryable(spent)
    assert isinstance(spent, RetryableError)  # still transient: a later run may succeed
    assert str(spent) == "binance ticker of BTC/USDT: failed 4 times"


def test_subclasses_take_the_mark_too() -> None:
    assert not is_retryable(FeedUnavailableError("feed timed out", exhausted=True))
    assert is_retryable(FeedUnavailableError("feed timed out"))


def test_the_mark_survives_pickling() -> None:
    """Prefect may carry the exception over a process boundary in the task's state."""
    spent = pickle.loads(pickle.dumps(ExchangeUnavailableError("x", exhausted=True)))
    plain = pickle.loads(pickle.dumps(ExchangeUnavailableError("x")))
    assert spent.exhausted
    assert not plain.exhausted
    assert not is_retryable(spent)


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (ExchangeUnavailableError("create order: no answer"), True),
        (
            ExchangeUnavailableError("ticker: failed once, asked to wait 120 s", exhausted=True),
            False,
        ),
        (RetryableError("database busy"), True),
        (UnknownSymbolError("XRP/USD"), False),
    ],
)
def test_prefects_retry_condition_follows_the_mark(error: Exception, retried: bool) -> None:
    # the state Prefect hands to retry_condition_fn: Failed, with the exception as data
    assert retry_on_retryable(None, None, Failed(data=error)) is retried
    assert retry_on_retryable(None, None, SimpleNamespace(data=error)) is retried
    assert NETWORK_RETRIES["retry_condition_fn"] is retry_on_retryable
