"""Anchors of the audit chain outside the database: an append-only JSON-lines file.

An anchor states "database D had ``count`` records, the last being ``seq`` with seal
``head``, at time ``at``", and carries an HMAC-SHA256 under the audit key over those
fields, so someone who can edit the file but not read the key cannot move an anchor.
Lyra appends one at every cycle close and report (docs/tax.md, "Records"); ``lyra audit
verify`` then finds what a rewrite of the database alone cannot hide: records deleted
from the end (fewer than an anchor counted) and a chain recomputed from some record on
(the anchored seal no longer matches).

Each anchor is one ``write`` of one line to the file opened with ``O_APPEND``, under an
exclusive ``flock`` on a sidecar lock file and followed by ``fsync``: appends from
concurrent processes never interleave, and the file is never rewritten (it grows by about
300 bytes per anchor; rewriting it whole at every cycle would cost more as it grows). A
crash can leave at most a torn last line; the next append terminates it and says so in
its own, MAC-covered ``after_torn`` field, and readers skip it (:attr:`AnchorLog.damaged`
names such lines). Any other line that does not parse was written by someone else:
``lyra audit verify`` fails naming it. The file is created 0600 in a 0700 folder, as the
keystore is.

``first_keyed`` (MAC-covered) is the chain record the key sealed first: a plain SHA-256
record from there on is forged. Lines written before these fields existed lack them and
keep their MAC (a field at its default is not part of the MAC'd body).
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path

from lyra.errors import ConfigError

__all__ = ["Anchor", "AnchorLog", "append_anchor", "read_anchors", "sign_anchor"]


@dataclass(frozen=True, slots=True)
class Anchor:
    """One anchor line (``mac`` empty before :func:`sign_anchor`)."""

    database: str
    seq: int
    count: int
    head: str
    at: str
    reason: str
    key_id: str
    mac: str = ""
    first_keyed: int | None = None
    after_torn: bool = False

    def body(self) -> bytes:
        """The bytes the MAC covers: every field but the MAC, canonical JSON (the optional
        fields only when set, so older lines keep their MAC)."""
        fields = {k: v for k, v in self._fields().items() if k != "mac"}
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("utf-8")

    def _fields(self) -> dict[str, object]:
        fields = asdict(self)
        if self.first_keyed is None:
            del fields["first_keyed"]
        if not self.after_torn:
            del fields["after_torn"]
        return fields

    def with_first_keyed(self, seq: int | None) -> Anchor:
        """This anchor (unsigned) stating the chain's first keyed record."""
        return replace(self, first_keyed=seq, mac="")

    def mac_ok(self, key: bytes) -> bool:
        """True when the MAC is this anchor's under ``key``."""
        expected = hmac.new(key, self.body(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.mac)

    def at_time(self) -> datetime:
        return datetime.fromisoformat(self.at)


def sign_anchor(anchor: Anchor, key: bytes) -> Anchor:
    """``anchor`` with its MAC under ``key``."""
    mac = hmac.new(key, anchor.body(), hashlib.sha256).hexdigest()
    return replace(anchor, mac=mac)


@dataclass(frozen=True, slots=True)
class AnchorLog:
    """The anchors in file order, the line numbers that did not parse and the number of
    the file's last non-blank line."""

    anchors: tuple[tuple[int, Anchor], ...]
    damaged: tuple[int, ...]
    exists: bool
    last_line: int = 0

    def edited_lines(self, key: bytes | None) -> tuple[int, ...]:
        """The damaged lines a crash cannot explain: not the last line, and not followed
        by an anchor that (under ``key``) says it ended a torn line."""
        following = dict(self.anchors)
        return tuple(
            number
            for number in self.damaged
            if number != self.last_line
            and not (
                (after := following.get(number + 1)) is not None
                and after.after_torn
                and key is not None
                and after.mac_ok(key)
            )
        )

    @property
    def latest(self) -> tuple[int, Anchor] | None:
        """The anchor with the highest ``seq`` (ties: the last written) and its line."""
        if not self.anchors:
            return None
        return max(self.anchors, key=lambda item: (item[1].seq, item[0]))


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    lock = path.with_name(path.name + ".lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def append_anchor(path: Path, anchor: Anchor, key: bytes | None = None) -> Anchor:
    """Append ``anchor`` as one line, signed here under ``key`` when one is given (else as
    signed by the caller), and return it as written; ConfigError naming the file when it
    cannot."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with _locked(path):
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                size = os.fstat(fd).st_size
                torn = bool(size) and _last_byte(path, size) != b"\n"
                if key is not None:
                    anchor = sign_anchor(replace(anchor, after_torn=torn), key)
                line = json.dumps(anchor._fields(), sort_keys=True, separators=(",", ":"))
                if torn:
                    line = "\n" + line  # end a line a crash tore, never glue onto it
                os.write(fd, (line + "\n").encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
    except OSError as exc:
        raise ConfigError(
            f"cannot append to the audit anchor file {path}: {exc.strerror or exc}"
        ) from None
    return anchor


def _last_byte(path: Path, size: int) -> bytes:
    with path.open("rb") as handle:
        handle.seek(size - 1)
        return handle.read(1)


def read_anchors(path: Path) -> AnchorLog:
    """Every well-formed anchor in ``path`` with its line number. An anchor file belongs to
    one chain (``database`` is informative: the chain's database may move); a new
    database needs a new anchor file."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return AnchorLog((), (), exists=False)
    except OSError as exc:
        raise ConfigError(f"cannot read the audit anchor file {path}: {exc.strerror}") from None
    anchors: list[tuple[int, Anchor]] = []
    damaged: list[int] = []
    last = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        last = number
        try:
            anchor = Anchor(**json.loads(line))
            _check_types(anchor)
        except (ValueError, TypeError):
            damaged.append(number)
            continue
        anchors.append((number, anchor))
    return AnchorLog(tuple(anchors), tuple(damaged), exists=True, last_line=last)


def _check_types(anchor: Anchor) -> None:
    if type(anchor.seq) is not int or type(anchor.count) is not int:
        raise TypeError("seq and count must be integers")
    if anchor.first_keyed is not None and type(anchor.first_keyed) is not int:
        raise TypeError("first_keyed must be an integer")
    if type(anchor.after_torn) is not bool:
        raise TypeError("after_torn must be true or false")
    text_fields = (anchor.database, anchor.head, anchor.at, anchor.reason, anchor.key_id)
    if not all(isinstance(v, str) for v in (*text_fields, anchor.mac)):
        raise TypeError("text fields must be strings")
