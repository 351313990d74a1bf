"""The prompt hash: stable for the same question, changed by any change to it, and set on
every LLM vote from the messages the slot actually asked with."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from benchmarks.talib_reference import real_hourly_candles
from lyra.decision.analysts.llm import LlmAnalyst
from lyra.decision.ballots import VOTE_ANSWER
from lyra.decision.prompt_hash import prompt_hash
from lyra.decision.prompts import market_vote_messages
from lyra.decision.votes import Action, Ballot, MarketSnapshot
from lyra.market.indicators import add_indicators
from lyra.spend.catalog import PanelSlot
from lyra.structured import Answer, AnswerSpec

T = TypeVar("T")

MESSAGES = [
    {"role": "system", "content": "You are a careful analyst."},
    {"role": "user", "content": "BTC/USD at 60000. Vote now."},
]


def _hash(messages: Sequence[dict[str, str]], name: str = "vote", version: int = 1) -> str:
    return prompt_hash(messages, spec_name=name, spec_version=version)


def test_the_same_messages_hash_the_same() -> None:
    digest = _hash(MESSAGES)
    assert digest == _hash([dict(m) for m in MESSAGES])
    assert digest == _hash([dict(reversed(list(m.items()))) for m in MESSAGES])  # key order
    assert len(digest) == 64
    assert int(digest, 16) >= 0


def test_the_hash_is_sha256_of_canonical_json() -> None:
    canonical = json.dumps(
        {"messages": MESSAGES, "spec": {"name": "vote", "version": 1}},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    assert _hash(MESSAGES) == hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def test_any_change_to_the_question_changes_the_hash() -> None:
    digest = _hash(MESSAGES)
    reworded = [MESSAGES[0], {"role": "user", "content": "BTC/USD at 60001. Vote now."}]
    assert _hash(reworded) != digest
    assert _hash([MESSAGES[0], {**MESSAGES[1], "role": "system"}]) != digest
    assert _hash(list(reversed(MESSAGES))) != digest  # message order matters
    assert _hash(MESSAGES[:1]) != digest
    assert _hash(MESSAGES, name="scores") != digest
    assert _hash(MESSAGES, version=2) != digest


FRAME = add_indicators(real_hourly_candles().iloc[-300:].reset_index(drop=True)).tail(50)


def _snapshot(price: str = "8035.88") -> MarketSnapshot:
    return MarketSnapshot(
        exchange="coinbase",
        symbol="BTC/USD",
        timeframe="1h",
        as_of=datetime(2019, 10, 17, tzinfo=UTC),
        price=Decimal(price),
        frame=FRAME.reset_index(drop=True),
    )


@dataclass
class RecordingAsker:
    """An Asker that always buys and keeps the messages it was asked with."""

    asked: list[list[dict[str, str]]] = field(default_factory=list)

    @property
    def secrets(self) -> tuple[str, ...]:
        return ()

    async def ask(
        self,
        *,
        task: str,
        tier: str,
        messages: Sequence[dict[str, str]],
        spec: AnswerSpec[T],
        cycle_id: str | None = None,
        model: str | None = None,
    ) -> Answer[T]:
        self.asked.append([dict(m) for m in messages])
        ballot: Any = Ballot(Action.BUY, Decimal("0.7"), "up")
        return Answer(ballot, None, model="x/model", tier=tier, cost_usd=Decimal("0.001"))


def test_an_llm_vote_carries_the_hash_of_the_messages_it_asked_with() -> None:
    asker = RecordingAsker()
    slot = PanelSlot(name="llm:fast", tier="fast", weight=Decimal(1))
    analyst = LlmAnalyst(slot, asker)
    first = asyncio.run(analyst.vote(_snapshot()))
    again = asyncio.run(analyst.vote(_snapshot()))
    other = asyncio.run(analyst.vote(_snapshot(price="8035.89")))
    expected = prompt_hash(
        asker.asked[0], spec_name=VOTE_ANSWER.name, spec_version=VOTE_ANSWER.version
    )
    assert asker.asked[0] == market_vote_messages(_snapshot())
    assert first.prompt_hash == expected
    assert again.prompt_hash == expected
    assert other.prompt_hash is not None
    assert other.prompt_hash != expected
