"""Redaction of secrets and personal identifiers from prompts and log lines.

docs/domain.md (LLM gateway): secrets and personal identifiers are redacted from every
prompt and log line. Two kinds of things are removed:

- *known secrets*: the exact values Lyra holds (API keys, the keystore passphrase),
  replaced wherever they appear, even inside other text;
- *patterns*: API keys in the OpenAI/OpenRouter style (``sk-...``, ``sk-or-v1-...``),
  ``Bearer`` tokens, the values of ``Authorization``, ``X-API-Key`` and password fields,
  e-mail addresses, Australian phone numbers and Australian tax file numbers.

Each is replaced by a token naming what was removed (``[REDACTED:api-key]``,
``[REDACTED:email]``, ``[REDACTED:tfn]``...), so a reader of a log still sees its shape.

A TFN is 8 (older numbers) or 9 digits with a check digit: the weighted sum of the digits
with weights 1, 4, 3, 7, 5, 8, 6, 9, 10 is a multiple of 11 (the ATO gives the algorithm
to software developers under agreement; it is publicly described, e.g. by tax
practitioners' "The secret life of TFNs" articles with the worked example 123 456 782, and
implemented by python-stdnum's ``stdnum.au.tfn``, which applies the first eight weights to
8-digit numbers; https://www.ato.gov.au/individuals-and-families/tax-file-number). Only
numbers that pass the check are redacted, so an ordinary 9-digit price such as 123456789
stays. Random digit strings pass one time in eleven, so numbers that are plainly part of
something else (a decimal, a price after ``$``, a longer digit run, an identifier) are
never candidates.

The patterns are compiled once; each runs only when a substring test shows it could
match, and each candidate is anchored where a run of its characters begins, so a 4 KB
prompt dense with numbers costs about 0.1 ms and no input makes the scan quadratic.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Final

from pydantic import SecretStr

__all__ = [
    "MIN_SECRET_CHARS",
    "RedactingFilter",
    "Redactor",
    "install_redaction",
    "is_valid_tfn",
    "redact",
]

#: Known secrets shorter than this are not replaced (a 3-letter "secret" would blank
#: every occurrence of a common word); real keys and passphrases are far longer.
MIN_SECRET_CHARS: Final = 4

#: ATO check-digit weights of a 9-digit TFN; an 8-digit TFN uses the first eight.
TFN_WEIGHTS: Final = (1, 4, 3, 7, 5, 8, 6, 9, 10)

_KNOWN_VALUE_MARK = "[REDACTED:secret]"

# Field names whose value is a credential, in headers, JSON, query strings and logs.
_FIELD_KINDS: Final = {
    "authorization": "authorization",
    "proxy-authorization": "authorization",
    "api-key": "api-key",
    "apikey": "api-key",
    "password": "password",
    "passphrase": "password",
}
_FIELD_HINTS: Final = ("authorization", "apikey", "api_key", "api-key", "password", "passphrase")

# Each pattern runs only when a plain substring test (C speed) says it could match, and
# each starts with a character class or literal, which lets the regex engine skip ahead
# instead of trying every position: what keeps a 4 KB prompt cheap.

# "Authorization: Bearer abc", "x-api-key=abc", '"password": "a b"': keep the name.
_FIELD = re.compile(
    r"""
    (?<![\w-])
    (?P<name>(?:proxy-)?authorization|(?:x-)?api[-_]?key|password|passphrase)
    (?P<sep>["']?\s*[:=]\s*)
    (?:
        "(?P<double>[^"\r\n]*)"
      | '(?P<single>[^'\r\n]*)'
      | (?:(?:bearer|basic|token)\s+)?[^\s"',;&}]+
    )
    """,
    re.ASCII | re.IGNORECASE | re.VERBOSE,
)
_BEARER = re.compile(r"(?<![\w-])(?P<word>bearer\s+)[A-Za-z0-9._~+/=-]{8,}", re.ASCII | re.I)
_API_KEY = re.compile(r"sk-(?<![\w-]sk-)[A-Za-z0-9_-]{20,}", re.ASCII)
_EMAIL = re.compile(
    r"""
    (?<![\w.%+-])[\w.%+-]+@
    [A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*
    \.[A-Za-z]{2,}
    """,
    re.ASCII | re.VERBOSE,
)
# Phone numbers and TFN candidates. The first character is consumed; a lookahead then
# rejects the many short numbers of a prompt at once (every candidate has 7 more digits,
# spaces, hyphens or brackets), and the lookbehinds check what precedes it: not part of
# a word, a price ($), a decimal or a longer run of digits; the end is checked alike.
_DIGITS = re.compile(
    r"""
    [+(\d](?=[\d\ ()-]{7})(?<![\w+$][+(\d])(?<!\d[.,][+(\d])
    (?:
        (?P<phone>
            (?<=\+)61[ -]?(?:\(0\)[ -]?)?[2-478](?:[ -]?\d){8}   # +61 4xx xxx xxx
          | (?<=\()0[2378]\)[ -]?\d{4}[ -]?\d{4}                  # (02) xxxx xxxx
          | (?<=0)[2-478](?:[ -]?\d){8}                          # 04xx xxx xxx, 02 xxxx xxxx
        )
      | (?P<tfn>
            (?<=\d)\d{7,8}                                       # 123456782
          | (?<=\d)(?<!\d[ -]\d)\d\d(?P<sep>[ -])\d{3}(?P=sep)\d{2,3}(?![ -]?\d)  # 123 456 782
        )
    )
    (?!\w)(?![.,]\d)
    """,
    re.ASCII | re.VERBOSE,
)


def is_valid_tfn(digits: str) -> bool:
    """True when ``digits`` (8 or 9 digits, spaces and hyphens ignored) pass the ATO check.

    All zeros pass the arithmetic but is no TFN (and is common in data), so it fails.
    """
    compact = digits.replace(" ", "").replace("-", "")
    if len(compact) not in (8, 9) or not compact.isascii() or not compact.isdigit():
        return False
    if compact.strip("0") == "":
        return False
    total = sum(int(d) * w for d, w in zip(compact, TFN_WEIGHTS, strict=False))
    return total % 11 == 0


def _replace_field(match: re.Match[str]) -> str:
    name = match.group("name").lower().replace("_", "-").removeprefix("x-")
    token = f"[REDACTED:{_FIELD_KINDS.get(name, 'secret')}]"
    if match.group("double") is not None:
        token = f'"{token}"'
    elif match.group("single") is not None:
        token = f"'{token}'"
    return f"{match.group('name')}{match.group('sep')}{token}"


def _replace_bearer(match: re.Match[str]) -> str:
    return f"{match.group('word')}[REDACTED:bearer-token]"


def _replace_digits(match: re.Match[str]) -> str:
    if match.group("phone") is not None:
        return "[REDACTED:phone]"
    if is_valid_tfn(match.group(0)):
        return "[REDACTED:tfn]"
    return match.group(0)


def _redact_patterns(text: str) -> str:
    """Every pattern, in an order where an earlier one cannot hide a later one's text
    (a key inside an Authorization header goes with the header)."""
    lowered = text.lower()
    if any(hint in lowered for hint in _FIELD_HINTS):
        text = _FIELD.sub(_replace_field, text)
    if "bearer" in lowered:
        text = _BEARER.sub(_replace_bearer, text)
    if "sk-" in text:
        text = _API_KEY.sub("[REDACTED:api-key]", text)
    if "@" in text:
        text = _EMAIL.sub("[REDACTED:email]", text)
    return _DIGITS.sub(_replace_digits, text)


def _secret_values(secrets: Iterable[str | SecretStr]) -> tuple[str, ...]:
    values = {s.get_secret_value() if isinstance(s, SecretStr) else s for s in secrets}
    # Longest first, so a secret that contains another is replaced whole.
    return tuple(sorted((v for v in values if len(v) >= MIN_SECRET_CHARS), key=len, reverse=True))


class Redactor:
    """A redaction function bound to a set of known secrets (built once, reused)."""

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Iterable[str | SecretStr] = ()) -> None:
        self._secrets = _secret_values(secrets)

    def __repr__(self) -> str:
        return f"Redactor({len(self._secrets)} secrets)"

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, _KNOWN_VALUE_MARK)
        return _redact_patterns(text)


def redact(text: str, secrets: Iterable[str | SecretStr] = ()) -> str:
    """``text`` with known ``secrets`` and secret-looking or personal patterns replaced."""
    return Redactor(secrets)(text)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts each record's message, exception and stack text.

    The message is formatted first (``msg % args``) so a secret passed as an argument is
    caught too; the record then carries the redacted text and no arguments. A message
    that does not format is kept as text with its arguments, redacted as well.
    """

    def __init__(self, secrets: Iterable[str | SecretStr] = ()) -> None:
        super().__init__()
        self._redact: Callable[[str], str] = Redactor(secrets)
        self._attached: list[logging.Filterer] = []

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            # Logging would print msg and args raw in its "--- Logging error ---" report.
            message = f"{record.msg} (arguments that did not format: {record.args!r})"
        record.msg = self._redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self._redact(record.stack_info)
        return True

    def attach(self, target: logging.Filterer) -> None:
        """Add this filter to a logger or handler (once) and remember it for :meth:`detach`."""
        if self not in target.filters:
            target.addFilter(self)
            self._attached.append(target)

    def detach(self) -> None:
        """Remove this filter from everything :meth:`attach` added it to."""
        for target in self._attached:
            target.removeFilter(self)
        self._attached.clear()


def install_redaction(
    logger_names: Iterable[str], secrets: Iterable[str | SecretStr] = ()
) -> RedactingFilter:
    """Redact every record of the named loggers, and of their children, before output.

    A filter on a logger sees only records logged on that very logger, not those that
    propagate from its children (``lyra.openrouter.client`` into ``lyra``), so the filter is also
    added to every handler a named logger's records reach: its own and its ancestors'
    up to the root, following ``propagate``. Call this after logging is configured (a
    handler added later is not covered; calling again covers it). Returns the filter;
    ``detach()`` undoes the installation.
    """
    redacting = RedactingFilter(secrets)
    for name in logger_names:
        logger: logging.Logger | None = logging.getLogger(name)
        redacting.attach(logging.getLogger(name))
        while logger is not None:
            for handler in logger.handlers:
                redacting.attach(handler)
            logger = logger.parent if logger.propagate else None
    return redacting
