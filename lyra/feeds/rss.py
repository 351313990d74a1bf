"""RSS and Atom feeds: the feed list as data, fetching over httpx, parsing with feedparser.

The HTTP and file adapter of the news pipeline (docs/style.md, "Adapters": translate at
the edge): every failure becomes one of Lyra's errors, split into retryable and final --

- :class:`FeedUnavailableError` (retryable): connection failures, timeouts, HTTP 408, 425,
  429 and 5xx;
- :class:`FeedError` (final): other HTTP statuses, a body over the size limit, a file that
  cannot be read; :class:`MalformedFeedError` when the bytes are not an RSS or Atom feed.

Each message names the feed (never its URL, which may carry a token). One bad feed does not
stop the others: :func:`read_feeds` returns a :class:`FeedResult` per feed, with its items
or its error.

Limits (:class:`FetchLimits`): a total deadline from connect to last byte
(``asyncio.timeout``; httpx's own timeouts are per read, so a server trickling a byte a
second would never trip them), a cap on the decoded body (counted while streaming, so a
gzip bomb stops at the cap) and a cap on entries per feed. feedparser reads the bytes from
memory (never a URL or a file name: ``feedparser.parse(b"...")`` would take bytes as a file
name), and expat does not fetch external entities.

Feed URLs are ``http(s)://``, ``file:///absolute/path`` or ``package://lyra.news/data/x.xml``
(a file shipped inside an installed package: the embedded default's sample feed). Usage::

    results = await read_feeds(load_feed_sources("sample"))
    items = unique_items(results)
    failed = [r for r in results if r.error is not None]
"""

from __future__ import annotations

import asyncio
import calendar
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Final
from urllib.parse import urlsplit
from urllib.request import url2pathname

import feedparser  # type: ignore[import-untyped]
import httpx
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lyra.errors import ConfigError, FinalError, LyraError, RetryableError
from lyra.news.items import NewsItem, dedupe, make_item
from lyra.security.untrusted import clean_untrusted

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

#: The shipped feed list: groups ``sample`` (the embedded default) and ``real``.
FEED_LIST: Final = "data/feeds.yaml"
_HEADERS: Final = {
    "User-Agent": "Lyra/0.1 news-sentiment (feed reader)",
    "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8",
}
#: Statuses worth a retry (RFC 9110: 408 request timeout, 425 too early, 429 too many
#: requests, 5xx server errors).
_RETRYABLE_STATUSES: Final = frozenset({408, 425, 429})
_HTML_TYPES: Final = frozenset({"text/html", "application/xhtml+xml"})


class FeedUnavailableError(RetryableError):
    """A feed did not answer in time or answered with a transient error."""


class FeedError(FinalError):
    """A feed answered, but with something a retry will not fix (status, size, file)."""


class MalformedFeedError(FeedError):
    """A feed's body is not a readable RSS or Atom document."""


@dataclass(frozen=True, slots=True)
class FeedSource:
    """A feed by Lyra's own ``name`` for it (used in messages and stored with each item)."""

    name: str
    url: str


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """How long and how much one feed may take."""

    timeout_s: float = 15.0
    max_bytes: int = 2_000_000
    max_items: int = 200

    def __post_init__(self) -> None:
        if self.timeout_s <= 0 or self.max_bytes < 1 or self.max_items < 1:
            raise ValueError("fetch limits must be positive")


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A feed's cleaned items; ``skipped`` entries lacked a date, link or title, or were
    beyond the item cap; ``warning`` says when feedparser had to recover from bad XML."""

    items: tuple[NewsItem, ...]
    skipped: int
    warning: str | None


@dataclass(frozen=True, slots=True)
class FeedResult:
    """What reading one feed gave: its items, or the error that stopped it."""

    source: FeedSource
    items: tuple[NewsItem, ...]
    skipped: int = 0
    warning: str | None = None
    error: LyraError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def retryable(self) -> bool:
        """True when the feed failed and a later retry may succeed."""
        return isinstance(self.error, RetryableError)


# --- the feed list -------------------------------------------------------------------


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
    url: Annotated[str, Field(min_length=1, max_length=1000)]


class _FeedList(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sample: tuple[_Entry, ...] = ()
    real: tuple[_Entry, ...] = ()


def load_feed_sources(group: str = "sample", path: Path | None = None) -> list[FeedSource]:
    """The feeds of ``group`` (``sample`` or ``real``) from ``path`` or the shipped list."""
    source = path or Path(str(files("lyra.news").joinpath(FEED_LIST)))
    try:
        raw: Any = yaml.safe_load(source.read_text(encoding="utf-8"))
        feed_list = _FeedList.model_validate(raw or {})
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read the feed list {source}: {exc}") from None
    except ValidationError as exc:
        raise ConfigError(f"invalid feed list {source}: {exc}") from None
    if group not in ("sample", "real"):
        raise ConfigError(f"feed group must be 'sample' or 'real', not {group!r}")
    entries: tuple[_Entry, ...] = getattr(feed_list, group)
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise ConfigError(f"feed names repeat in group {group!r} of {source}")
    for entry in entries:
        _check_url(entry.name, entry.url)
    return [FeedSource(e.name, e.url) for e in entries]


def _check_url(name: str, url: str) -> None:
    scheme = urlsplit(url).scheme
    if scheme not in ("http", "https", "file", "package"):
        raise ConfigError(f"feed {name!r}: URL scheme must be http, https, file or package")


# --- fetching ------------------------------------------------------------------------


async def fetch_feed_body(
    source: FeedSource, client: httpx.AsyncClient, limits: FetchLimits
) -> tuple[bytes, str | None]:
    """The feed's bytes and declared content type (None for files)."""
    parts = urlsplit(source.url)
    if parts.scheme in ("http", "https"):
        return await _fetch_http(source, client, limits)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ConfigError(f"feed {source.name!r}: file URLs name a local absolute path")
        data = await _read_local(source, Path(url2pathname(parts.path)), limits)
        return data, None
    if parts.scheme == "package":
        relative = [p for p in parts.path.split("/") if p]
        if not parts.netloc or not relative or ".." in relative:
            raise ConfigError(f"feed {source.name!r}: use package://<package>/<path inside it>")
        try:
            resource = files(parts.netloc).joinpath(*relative)
        except (ModuleNotFoundError, TypeError):  # no such package, or a plain module
            raise ConfigError(f"feed {source.name!r}: no package {parts.netloc!r}") from None
        return await _read_local(source, Path(str(resource)), limits), None
    raise ConfigError(f"feed {source.name!r}: URL scheme must be http, https, file or package")


async def _read_local(source: FeedSource, path: Path, limits: FetchLimits) -> bytes:
    def read() -> bytes:
        if path.stat().st_size > limits.max_bytes:
            raise FeedError(f"feed {source.name!r}: file larger than {limits.max_bytes} bytes")
        return path.read_bytes()

    try:
        return await asyncio.to_thread(read)
    except OSError as exc:
        raise FeedError(f"feed {source.name!r}: cannot read its file: {exc.strerror}") from None


async def _fetch_http(
    source: FeedSource, client: httpx.AsyncClient, limits: FetchLimits
) -> tuple[bytes, str | None]:
    name = source.name
    try:
        async with (
            asyncio.timeout(limits.timeout_s),
            client.stream(
                "GET", source.url, headers=_HEADERS, timeout=httpx.Timeout(limits.timeout_s)
            ) as response,
        ):
            _check_status(name, response.status_code)
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limits.max_bytes:
                raise FeedError(f"feed {name!r}: body larger than {limits.max_bytes} bytes")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > limits.max_bytes:
                    raise FeedError(f"feed {name!r}: body larger than {limits.max_bytes} bytes")
            return bytes(body), response.headers.get("content-type")
    except (TimeoutError, httpx.TimeoutException):
        raise FeedUnavailableError(
            f"feed {name!r}: no complete answer within {limits.timeout_s:g} s"
        ) from None
    except httpx.TransportError as exc:
        raise FeedUnavailableError(f"feed {name!r}: {type(exc).__name__}") from None
    except httpx.HTTPError as exc:  # too many redirects, undecodable content encoding
        raise FeedError(f"feed {name!r}: {type(exc).__name__}") from None


def _check_status(name: str, status: int) -> None:
    if 200 <= status < 300:
        return
    if status in _RETRYABLE_STATUSES or status >= 500:
        raise FeedUnavailableError(f"feed {name!r}: HTTP {status}")
    raise FeedError(f"feed {name!r}: HTTP {status}")


# --- parsing -------------------------------------------------------------------------


def _is_html(detail: Any) -> bool:
    return isinstance(detail, dict) and detail.get("type") in _HTML_TYPES


def _published(entry: Any) -> datetime | None:
    when = entry.get("published_parsed") or entry.get("updated_parsed")
    if when is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(when), UTC)  # a UTC struct_time
    except (TypeError, ValueError, OverflowError):
        return None


def parse_feed(
    feed: str, body: bytes, *, content_type: str | None = None, max_items: int = 200
) -> ParsedFeed:
    """The cleaned, deduplicated items of an RSS or Atom document.

    Raises :class:`MalformedFeedError` when the bytes are not a feed at all, or are broken
    XML from which feedparser's lenient parser recovered nothing. Entries without a date
    are skipped: an undated item cannot be placed before or after a decision instant.
    """
    headers = {"content-type": content_type} if content_type else {}
    try:
        parsed: Any = feedparser.parse(
            io.BytesIO(body), response_headers=headers, resolve_relative_uris=False
        )
    except Exception as exc:  # feedparser means not to raise; hostile input still may
        raise MalformedFeedError(f"feed {feed!r} is malformed: {type(exc).__name__}") from None
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    entries: list[Any] = list(parsed.get("entries", []))
    if not parsed.get("version") or (problem is not None and not entries):
        detail = clean_untrusted(str(problem), 200) if problem else "not an RSS or Atom document"
        raise MalformedFeedError(f"feed {feed!r} is malformed: {detail}")
    skipped = max(0, len(entries) - max_items)
    items: list[NewsItem] = []
    for entry in entries[:max_items]:
        published = _published(entry)
        item = None
        if published is not None:
            item = make_item(
                feed=feed,
                link=str(entry.get("link", "")),
                title=str(entry.get("title", "")),
                summary=str(entry.get("summary", "")),
                published_at=published,
                title_is_html=_is_html(entry.get("title_detail")),
                summary_is_html=_is_html(entry.get("summary_detail")),
            )
        if item is None:
            skipped += 1
        else:
            items.append(item)
    warning = f"recovered from: {clean_untrusted(str(problem), 200)}" if problem else None
    return ParsedFeed(tuple(dedupe(items)), skipped, warning)


# --- one feed, many feeds ------------------------------------------------------------


async def read_feed(
    source: FeedSource, client: httpx.AsyncClient, limits: FetchLimits
) -> FeedResult:
    """Fetch and parse one feed; Lyra errors are returned in the result, not raised."""
    try:
        body, content_type = await fetch_feed_body(source, client, limits)
        parsed = await asyncio.to_thread(
            parse_feed, source.name, body, content_type=content_type, max_items=limits.max_items
        )
    except LyraError as exc:
        return FeedResult(source, (), error=exc)
    return FeedResult(source, parsed.items, parsed.skipped, parsed.warning)


async def read_feeds(
    sources: Sequence[FeedSource],
    *,
    client: httpx.AsyncClient | None = None,
    limits: FetchLimits | None = None,
) -> list[FeedResult]:
    """Read every feed concurrently; one result per source, in the sources' order.

    Without a ``client`` one is opened for the call (redirects followed, at most 5).
    """
    chosen = limits or FetchLimits()
    if client is not None:
        return list(await asyncio.gather(*(read_feed(s, client, chosen) for s in sources)))
    async with httpx.AsyncClient(follow_redirects=True, max_redirects=5) as own:
        return list(await asyncio.gather(*(read_feed(s, own, chosen) for s in sources)))


def unique_items(results: Iterable[FeedResult]) -> list[NewsItem]:
    """The items of all ``results``, deduplicated across feeds (first feed wins)."""
    return dedupe(item for result in results for item in result.items)
