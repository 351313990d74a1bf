"""News sentiment: feeds as data, untrusted headlines made plain, offline or LLM scoring,
and per-asset sentiment with time decay (docs/domain.md, News).

The pipeline a news flow runs, in order::

    sources = load_feed_sources("sample")          # lyra.feeds: the feed list (YAML)
    results = await read_feeds(sources)            # fetch + parse, one result per feed
    items = unique_items(results)                  # cleaned, deduplicated NewsItems
    scores = await VaderScorer().score(items)      # sentiment.py (or an LLM scorer)
    sentiment = aggregate_sentiment("BTC", observations, as_of=instant)  # aggregate.py

Storage of items, scores and sentiment is :mod:`lyra.store.news`.
"""

from lyra.news.aggregate import (
    DEFAULT_HALF_LIFE,
    LOOKBACK_HALF_LIVES,
    AssetSentiment,
    SentimentObservation,
    aggregate_sentiment,
    decay_weight,
    lookback_start,
)
from lyra.news.items import (
    ASSET_KEYWORDS,
    FEED_NAME_CHARS,
    LINK_CHARS,
    SUMMARY_CHARS,
    TITLE_CHARS,
    NewsItem,
    content_hash,
    dedupe,
    html_to_text,
    make_item,
    tag_assets,
)
from lyra.news.lexicon import CRYPTO_OVERLAY, OverlayWord
from lyra.news.sentiment import (
    SENTIMENT_SCHEMA,
    SENTIMENT_SYSTEM_PROMPT,
    VADER_SCORER,
    InvalidSentimentAnswerError,
    Score,
    SentimentScorer,
    VaderScorer,
    parse_score_list,
    parse_sentiment_answer,
    sentiment_messages,
    sentiment_response_format,
)

__all__ = [
    "ASSET_KEYWORDS",
    "CRYPTO_OVERLAY",
    "DEFAULT_HALF_LIFE",
    "FEED_NAME_CHARS",
    "LINK_CHARS",
    "LOOKBACK_HALF_LIVES",
    "SENTIMENT_SCHEMA",
    "SENTIMENT_SYSTEM_PROMPT",
    "SUMMARY_CHARS",
    "TITLE_CHARS",
    "VADER_SCORER",
    "AssetSentiment",
    "InvalidSentimentAnswerError",
    "NewsItem",
    "OverlayWord",
    "Score",
    "SentimentObservation",
    "SentimentScorer",
    "VaderScorer",
    "aggregate_sentiment",
    "content_hash",
    "decay_weight",
    "dedupe",
    "html_to_text",
    "lookback_start",
    "make_item",
    "parse_score_list",
    "parse_sentiment_answer",
    "sentiment_messages",
    "sentiment_response_format",
    "tag_assets",
]
