"""News feeds: RSS and Atom over HTTP (or local and packaged files), the adapter that
brings headlines in; what they mean is :mod:`lyra.news`'s business."""

from lyra.feeds.rss import (
    FEED_LIST,
    FeedError,
    FeedResult,
    FeedSource,
    FeedUnavailableError,
    FetchLimits,
    MalformedFeedError,
    ParsedFeed,
    fetch_feed_body,
    load_feed_sources,
    parse_feed,
    read_feed,
    read_feeds,
    unique_items,
)

__all__ = [
    "FEED_LIST",
    "FeedError",
    "FeedResult",
    "FeedSource",
    "FeedUnavailableError",
    "FetchLimits",
    "MalformedFeedError",
    "ParsedFeed",
    "fetch_feed_body",
    "load_feed_sources",
    "parse_feed",
    "read_feed",
    "read_feeds",
    "unique_items",
]
