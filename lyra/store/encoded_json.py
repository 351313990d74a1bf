"""A JSON column that also stores JSON text already encoded, as it is.

A year's tax report is tens of megabytes of JSON, encoded once (canonically) for its
digest (:func:`lyra.store.compliance_tables.save_report`). Decoding that text back into
objects for the column to encode again held two more copies of it at once; a
:class:`JsonText` is bound unchanged instead, so the stored text is the digested text.
Rows read back are decoded as any JSON column's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from sqlalchemy import JSON, Dialect
from sqlalchemy.types import TypeDecorator

__all__ = ["EncodedJson", "JsonText", "sha256_text"]


class JsonText:
    """JSON already encoded: :class:`EncodedJson` binds ``text`` as it is (a wrapper,
    not a ``str`` subclass, whose construction would copy the text)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _as_is(text: str) -> str:
    return text


class EncodedJson(TypeDecorator[Any]):
    """The JSON column type, which also takes a :class:`JsonText` and stores that text
    unchanged (module docstring); other values are encoded as the JSON type does."""

    impl = JSON
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        encode = self.impl_instance.dialect_impl(dialect).bind_processor(dialect)
        if dialect.driver == "psycopg":  # binds psycopg's Json wrapper: given the text
            from psycopg.types.json import Json

            def as_text(text: str) -> Any:
                return Json(text, dumps=_as_is)
        else:  # the generic JSON type binds the encoded text itself
            as_text = _as_is

        def process(value: Any) -> Any:
            if isinstance(value, JsonText):
                return as_text(value.text)
            return encode(value) if encode is not None else value

        return process


#: Text is hashed this many characters at a time (no whole UTF-8 copy of a big report).
_HASH_CHUNK = 1 << 20


def sha256_text(text: str) -> str:
    """SHA-256 of ``text`` as UTF-8, hex."""
    digest = hashlib.sha256()
    for start in range(0, len(text), _HASH_CHUNK):
        digest.update(text[start : start + _HASH_CHUNK].encode("utf-8"))
    return digest.hexdigest()
