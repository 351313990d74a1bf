"""News items, their scores and per-asset sentiment in the database.

Items are written once: ``ON CONFLICT DO NOTHING`` against both unique constraints of
``news_items`` (link, content hash), so a story fetched again next cycle, or syndicated by
another feed, is not stored twice, and concurrent flows never fail on each other's
inserts. :func:`save_news_items` returns only the items that were new, with their ids.

Scores are one row per (item, asset, scorer): an item about BTC and ETH gets its score
under each asset. Scorer names are exact (``vader+crypto``) or, in the lookup functions,
prefixes ending with ``:`` (``llm:`` matches ``llm:<any model>``), since the fast tier's
model varies with its fallback chain.

Aggregated sentiment rows are written once per (asset, as_of) and read back as the
latest at or before an instant, which is what a market-analysis cycle puts in its prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lyra.errors import InvariantError
from lyra.news.aggregate import AssetSentiment, SentimentObservation
from lyra.news.items import NewsItem
from lyra.news.sentiment import Score
from lyra.store.market_tables import AssetSentimentRow, NewsItemRow, NewsScoreRow

__all__ = [
    "StoredNewsItem",
    "latest_asset_sentiment",
    "load_asset_observations",
    "load_unscored_items",
    "save_asset_sentiment",
    "save_news_items",
    "save_news_scores",
]

#: Exact decimals of stored scores and sentiment values (VADER's compound has 4 places).
_PLACES: Final = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class StoredNewsItem:
    """A news item with its database id."""

    id: int
    item: NewsItem


def _insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def _to_item(row: NewsItemRow) -> NewsItem:
    return NewsItem(
        feed=row.feed,
        link=row.link,
        title=row.title,
        summary=row.summary or "",
        published_at=row.published_at,
        content_hash=row.content_hash,
        assets=tuple(row.assets.get("assets", ())),
    )


def _scorer_filter(scorers: Sequence[str]) -> ColumnElement[bool]:
    if not scorers:
        raise ValueError("name at least one scorer")
    conditions = [
        NewsScoreRow.scorer.startswith(s, autoescape=True)
        if s.endswith(":")
        else NewsScoreRow.scorer == s
        for s in scorers
    ]
    return or_(false(), *conditions)


def _rank(scorer: str, scorers: Sequence[str]) -> int:
    for index, wanted in enumerate(scorers):
        if scorer == wanted or (wanted.endswith(":") and scorer.startswith(wanted)):
            return index
    return len(scorers)


def save_news_items(
    session: Session, items: Sequence[NewsItem], *, fetched_at: datetime | None = None
) -> list[StoredNewsItem]:
    """Insert the items not stored yet (by link and by content hash); returns the new ones."""
    if not items:
        return []
    now = fetched_at or datetime.now(UTC)
    rows = [
        {
            "feed": item.feed,
            "link": item.link,
            "content_hash": item.content_hash,
            "title": item.title,
            "summary": item.summary or None,
            "published_at": item.published_at,
            "fetched_at": now,
            "assets": {"assets": list(item.assets)},
        }
        for item in items
    ]
    # Bare ON CONFLICT DO NOTHING covers both unique constraints on both dialects. Skipped
    # rows return nothing, so the new ones are matched back by link, not by position.
    statement = (
        _insert(session)(NewsItemRow)
        .on_conflict_do_nothing()
        .returning(NewsItemRow.id, NewsItemRow.link)
    )
    ids = {link: item_id for item_id, link in session.connection().execute(statement, rows)}
    new: list[StoredNewsItem] = []
    for item in items:
        item_id = ids.pop(item.link, None)  # pop: a link repeated in ``items`` is new once
        if item_id is not None:
            new.append(StoredNewsItem(int(item_id), item))
    return new


def save_news_scores(
    session: Session, scores: Sequence[Score], *, created_at: datetime | None = None
) -> int:
    """Store each score under every asset of its item; returns how many rows were new.

    Raises :class:`InvariantError` for a score of an item that is not stored: scores are
    only ever computed for stored items, and silently dropping one would hide a bug.
    """
    if not scores:
        return 0
    hashes = {score.content_hash for score in scores}
    found = session.execute(
        select(NewsItemRow.id, NewsItemRow.content_hash, NewsItemRow.assets).where(
            NewsItemRow.content_hash.in_(hashes)
        )
    ).all()
    items = {content_hash: (item_id, assets) for item_id, content_hash, assets in found}
    missing = hashes - items.keys()
    if missing:
        raise InvariantError(f"{len(missing)} scored news item(s) are not stored")
    now = created_at or datetime.now(UTC)
    rows = [
        {
            "item_id": items[score.content_hash][0],
            "asset": asset,
            "scorer": score.scorer,
            "score": Decimal(repr(score.value)).quantize(_PLACES),
            "created_at": now,
        }
        for score in scores
        for asset in items[score.content_hash][1].get("assets", ())
    ]
    if not rows:
        return 0
    statement = (
        _insert(session)(NewsScoreRow)
        .on_conflict_do_nothing(index_elements=["item_id", "asset", "scorer"])
        .returning(NewsScoreRow.id)
    )
    return len(session.connection().execute(statement, rows).all())


def load_unscored_items(
    session: Session, scorers: Sequence[str], *, since: datetime
) -> list[StoredNewsItem]:
    """Items published at or after ``since`` that name an asset and that none of
    ``scorers`` has scored yet, oldest first (so a failed scoring run is resumed)."""
    scored = select(NewsScoreRow.item_id).where(_scorer_filter(scorers))
    rows = session.execute(
        select(NewsItemRow)
        .where(NewsItemRow.published_at >= since, NewsItemRow.id.not_in(scored))
        .order_by(NewsItemRow.published_at, NewsItemRow.id)
    ).scalars()
    stored = [StoredNewsItem(row.id, _to_item(row)) for row in rows]
    return [s for s in stored if s.item.assets]


def load_asset_observations(
    session: Session,
    asset: str,
    scorers: Sequence[str],
    *,
    since: datetime,
    until: datetime,
) -> list[SentimentObservation]:
    """The asset's scored items published in ``[since, until)``, oldest first.

    An item scored by several of ``scorers`` counts once, with the score of the first of
    ``scorers`` that scored it (``["llm:", "vader+crypto"]``: the LLM's score where there is
    one, VADER's otherwise).
    """
    rows = session.execute(
        select(
            NewsScoreRow.item_id, NewsScoreRow.scorer, NewsScoreRow.score, NewsItemRow.published_at
        )
        .join(NewsItemRow, NewsItemRow.id == NewsScoreRow.item_id)
        .where(
            NewsScoreRow.asset == asset,
            _scorer_filter(scorers),
            NewsItemRow.published_at >= since,
            NewsItemRow.published_at < until,
        )
        .order_by(NewsItemRow.published_at, NewsScoreRow.item_id, NewsScoreRow.id)
    ).all()
    best: dict[int, tuple[int, datetime, Decimal]] = {}
    for item_id, scorer, score, published_at in rows:
        rank = _rank(scorer, scorers)
        if item_id not in best or rank < best[item_id][0]:
            best[item_id] = (rank, published_at, score)
    ordered = sorted(best.items(), key=lambda entry: (entry[1][1], entry[0]))
    return [SentimentObservation(when, float(score)) for _, (_, when, score) in ordered]


def save_asset_sentiment(
    session: Session, sentiment: AssetSentiment, *, created_at: datetime | None = None
) -> bool:
    """Store an aggregated sentiment; False when one was already stored for that
    (asset, as_of) -- the first is kept, as every record is written once."""
    hours = Decimal(repr(sentiment.half_life / timedelta(hours=1))).quantize(_PLACES)
    statement = (
        _insert(session)(AssetSentimentRow)
        .values(
            asset=sentiment.asset,
            as_of=sentiment.as_of,
            value=Decimal(repr(sentiment.value)).quantize(_PLACES),
            items=sentiment.items,
            half_life_hours=hours,
            created_at=created_at or datetime.now(UTC),
        )
        .on_conflict_do_nothing(index_elements=["asset", "as_of"])
        .returning(AssetSentimentRow.id)
    )
    return session.execute(statement).first() is not None


def latest_asset_sentiment(
    session: Session, asset: str, at: datetime, *, max_age: timedelta | None = None
) -> AssetSentiment | None:
    """The asset's most recent stored sentiment with ``as_of`` at or before ``at`` (and, with
    ``max_age``, no older than that); None when there is none."""
    query = select(AssetSentimentRow).where(
        AssetSentimentRow.asset == asset, AssetSentimentRow.as_of <= at
    )
    if max_age is not None:
        query = query.where(AssetSentimentRow.as_of >= at - max_age)
    row = session.execute(
        query.order_by(AssetSentimentRow.as_of.desc()).limit(1)
    ).scalar_one_or_none()
    if row is None:
        return None
    return AssetSentiment(
        asset=row.asset,
        as_of=row.as_of,
        value=float(row.value),
        items=row.items,
        half_life=timedelta(hours=float(row.half_life_hours)),
    )
