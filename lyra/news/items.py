"""News items: untrusted feed entries made plain, hashed, tagged with assets, deduplicated.

Everything a feed says is untrusted (OWASP LLM01:2025, prompt injection): titles and
summaries go through :func:`~lyra.security.untrusted.clean_untrusted` (NFKC, invisible and
control characters removed, one line, length-limited) before anything else sees them, so
the stored text, the content hash, the asset tags and the sentiment score all work on the
same visible words. HTML in a summary is reduced to its text first.

Deduplication is by link and by content hash: a story re-listed under its link
with an edited title, or syndicated word for word under another link, is one item. The
hash is SHA-256 of the case-folded cleaned title and summary, so case and spacing
differences do not split a story.

Pure: no I/O. Usage::

    item = make_item(feed="lyra-sample", link=..., title=raw_title, summary=raw_html,
                     published_at=when)
    unique = dedupe(items_of_all_feeds)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Final

from lyra.security.untrusted import clean_untrusted

__all__ = [
    "ASSET_KEYWORDS",
    "FEED_NAME_CHARS",
    "LINK_CHARS",
    "SUMMARY_CHARS",
    "TITLE_CHARS",
    "NewsItem",
    "content_hash",
    "dedupe",
    "html_to_text",
    "make_item",
    "tag_assets",
]

#: Longest title kept (a long real headline is about 150 characters; the data block's own
#: item limit is 300 as well, see ``DEFAULT_ITEM_CHARS``).
TITLE_CHARS: Final = 300
#: Longest summary kept: a paragraph is context enough, and feeds sometimes ship whole articles.
SUMMARY_CHARS: Final = 1000
#: The width of the ``news_items.link`` and ``news_items.feed`` columns.
LINK_CHARS: Final = 1000
FEED_NAME_CHARS: Final = 200

#: Which asset an item is about, by whole-word keywords (case-insensitive). A small table on
#: purpose: tagging decides which asset's sentiment a score moves, so a keyword belongs
#: here only if it names the asset unambiguously in crypto news.
ASSET_KEYWORDS: Final[dict[str, tuple[str, ...]]] = {
    "BTC": ("bitcoin", "bitcoins", "btc", "xbt"),
    "ETH": ("ethereum", "ether", "eth"),
    "LTC": ("litecoin", "litecoins", "ltc"),
}

_KEYWORD_PATTERNS: Final = {
    asset: re.compile(r"\b(?:" + "|".join(map(re.escape, words)) + r")\b", re.IGNORECASE)
    for asset, words in ASSET_KEYWORDS.items()
}


@dataclass(frozen=True, slots=True)
class NewsItem:
    """One news entry, cleaned: plain one-line ``title`` and ``summary``, UTC time.

    ``assets`` are the tickers the title or summary names (:func:`tag_assets`), sorted.
    """

    feed: str
    link: str
    title: str
    summary: str
    published_at: datetime
    content_hash: str
    assets: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.published_at.tzinfo is None or self.published_at.utcoffset() is None:
            raise ValueError("published_at must be timezone-aware")


class _TextOnly(HTMLParser):
    """Collects the text of an HTML fragment; script and style content is dropped."""

    _SKIPPED = frozenset({"script", "style"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIPPED:
            self._skip_depth += 1
        else:
            self.parts.append(" ")  # <p>a</p><p>b</p> is "a b", not "ab"

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIPPED:
            self._skip_depth = max(0, self._skip_depth - 1)
        else:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.parts.append(data)


def html_to_text(fragment: str) -> str:
    """The visible text of an HTML fragment (tags removed, entities decoded)."""
    parser = _TextOnly()
    parser.feed(fragment)
    parser.close()
    return "".join(parser.parts)


def content_hash(title: str, summary: str) -> str:
    """SHA-256 (hex) of the case-folded, cleaned title and summary."""
    key = f"{title.casefold()}\n{summary.casefold()}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def tag_assets(text: str) -> tuple[str, ...]:
    """The assets of :data:`ASSET_KEYWORDS` that ``text`` names, sorted."""
    return tuple(sorted(a for a, pattern in _KEYWORD_PATTERNS.items() if pattern.search(text)))


def make_item(
    *,
    feed: str,
    link: str,
    title: str,
    summary: str,
    published_at: datetime,
    summary_is_html: bool = False,
    title_is_html: bool = False,
) -> NewsItem | None:
    """A cleaned :class:`NewsItem`, or None when the title or link cleans to nothing.

    ``title`` and ``summary`` are raw feed text; set the ``*_is_html`` flags when the feed
    marks them as HTML so only their text is kept.
    """
    if published_at.tzinfo is None or published_at.utcoffset() is None:
        raise ValueError("published_at must be timezone-aware")  # astimezone would guess
    raw_title = html_to_text(title) if title_is_html else title
    raw_summary = html_to_text(summary) if summary_is_html else summary
    clean_title = clean_untrusted(raw_title, TITLE_CHARS)
    clean_link = clean_untrusted(link, LINK_CHARS)
    if not clean_title or not clean_link:
        return None
    clean_summary = clean_untrusted(raw_summary, SUMMARY_CHARS) if raw_summary else ""
    return NewsItem(
        feed=clean_untrusted(feed, FEED_NAME_CHARS),
        link=clean_link,
        title=clean_title,
        summary=clean_summary,
        published_at=published_at.astimezone(UTC),
        content_hash=content_hash(clean_title, clean_summary),
        assets=tag_assets(f"{clean_title} {clean_summary}"),
    )


def dedupe(items: Iterable[NewsItem]) -> list[NewsItem]:
    """``items`` without repeats: the first of each link and of each content hash is kept."""
    seen_links: set[str] = set()
    seen_hashes: set[str] = set()
    unique: list[NewsItem] = []
    for item in items:
        if item.link in seen_links or item.content_hash in seen_hashes:
            continue
        seen_links.add(item.link)
        seen_hashes.add(item.content_hash)
        unique.append(item)
    return unique
