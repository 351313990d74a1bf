"""Headline sentiment by the gateway's fast tier, with VADER where the LLM gives nothing.

docs/domain.md (News): headlines are scored "by the LLM fast tier through the gateway
when the gateway is configured; offline by VADER". :class:`LlmScorer` sends batches of
headlines through :meth:`lyra.llm.gateway.Gateway.ask` on the ``news`` task (fast tier,
cost-aware routing, 600 s cache, every attempt budgeted and recorded like a vote), with
the prompt of :func:`lyra.news.sentiment.sentiment_messages`: headlines only inside a
nonce-delimited data block, the data-block rule in the system prompt, secrets redacted.
The answer must be the strict :data:`~lyra.news.sentiment.SENTIMENT_SCHEMA`; one invalid
answer is re-asked once (the gateway's rule), a second is an abstention.

Whatever the LLM does not score -- the batch abstained (budget exhausted, every model
failing), or the answer left an item out -- is scored by the offline scorer in the same
pass and recorded under its name, so a cycle's sentiment never silently loses items and
``news_scores`` says which scorer produced each figure. That fallback is final for the
item (it counts as scored); the aggregation prefers ``llm:`` scores where both exist.

Batches are small (``batch_size`` headlines): an invalid answer costs one batch, and the
prompt stays far below the fast tier's context.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from lyra.news.items import NewsItem
from lyra.news.sentiment import (
    Score,
    SentimentScorer,
    VaderScorer,
    parse_score_list,
    sentiment_messages,
    sentiment_response_format,
)
from lyra.structured import AnswerSpec, Asker, InvalidAnswerError

__all__ = ["LLM_SCORER_PREFIX", "NEWS_TASK", "NEWS_TIER", "LlmScorer", "ScoredBatch"]

log = logging.getLogger(__name__)

#: ``news_scores.scorer`` of an LLM score is this prefix and the model's id.
LLM_SCORER_PREFIX: Final = "llm:"
#: The catalog task (fast tier, cost-aware) and its tier.
NEWS_TASK: Final = "news"
NEWS_TIER: Final = "fast"
#: Headlines per request.
BATCH_SIZE: Final = 20


@dataclass(frozen=True, slots=True)
class ScoredBatch:
    """Item numbers (1-based) and scores of one batch's valid answer."""

    scores: tuple[tuple[int, float], ...]


def scores_answer(count: int) -> AnswerSpec[ScoredBatch]:
    """The answer spec of a batch of ``count`` headlines."""

    def parse(content: str | None) -> ScoredBatch:
        return ScoredBatch(tuple(parse_score_list(content, count)))

    def reask(error: InvalidAnswerError) -> dict[str, str]:
        return {
            "role": "user",
            "content": (
                f"Your previous answer was rejected ({error}). Answer again with exactly one "
                'JSON object {"scores": [{"item": <number 1..' + str(count) + '>, "score": '
                "<number from -1 to 1>}]}, one entry per headline, and nothing else."
            ),
        }

    return AnswerSpec(
        name="headline_scores",
        response_format=sentiment_response_format(),
        parse=parse,
        reask=reask,
        dump=lambda batch: {"scores": [list(pair) for pair in batch.scores]},
        load=lambda value: ScoredBatch(tuple((int(n), float(v)) for n, v in value["scores"])),
    )


class LlmScorer:
    """Scores headlines through the gateway's fast tier; the offline scorer fills gaps."""

    def __init__(
        self,
        gateway: Asker,
        *,
        fallback: SentimentScorer | None = None,
        batch_size: int = BATCH_SIZE,
        cycle_id: str | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._gateway = gateway
        self._fallback = fallback or VaderScorer()
        self._batch_size = batch_size
        self._cycle_id = cycle_id

    async def score(self, items: Sequence[NewsItem]) -> list[Score]:
        """One score per item: the LLM's where it gave one, else the offline scorer's."""
        batches = [
            list(items[i : i + self._batch_size]) for i in range(0, len(items), self._batch_size)
        ]
        results = await asyncio.gather(*(self._score_batch(batch) for batch in batches))
        scored = [score for batch in results for score in batch]
        done = {s.content_hash for s in scored}
        missing = [item for item in items if item.content_hash not in done]
        if missing:
            scored.extend(await self._fallback.score(missing))
        return scored

    async def _score_batch(self, batch: list[NewsItem]) -> list[Score]:
        answer = await self._gateway.ask(
            task=NEWS_TASK,
            tier=NEWS_TIER,
            messages=sentiment_messages(batch, self._gateway.secrets),
            spec=scores_answer(len(batch)),
            cycle_id=self._cycle_id,
        )
        if answer.value is None:
            log.warning(
                "LLM gave no headline scores for %d items (%s); scoring them offline",
                len(batch),
                answer.abstain_reason,
            )
            return []
        scorer = f"{LLM_SCORER_PREFIX}{answer.model}"
        return [Score(batch[n - 1].content_hash, value, scorer) for n, value in answer.value.scores]
