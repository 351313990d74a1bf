"""The keyed chain (pure), its key file and its anchor file, without a database."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lyra.errors import ConfigError
from lyra.security.audit_anchor import Anchor, append_anchor, read_anchors, sign_anchor
from lyra.security.audit_chain import (
    GENESIS,
    ChainLink,
    TamperKind,
    key_id_of,
    link_hash,
    link_mac,
    verify_chain,
)
from lyra.security.audit_key import create_or_load_key, load_key

KEY = b"\x01" * 32
T0 = datetime(2026, 12, 7, tzinfo=UTC)


def keyed_chain(n: int, key: bytes = KEY) -> list[tuple[ChainLink, str]]:
    out, prev = [], GENESIS
    for seq in range(1, n + 1):
        link = ChainLink(seq, T0, "e", f"s{seq}", {"n": seq}, prev, key_id_of(key))
        seal = link_mac(key, link)
        out.append((link, seal))
        prev = seal
    return out


def test_a_keyed_chain_verifies_only_with_its_key() -> None:
    chain = keyed_chain(3)
    verdict = verify_chain(chain, KEY)
    assert verdict.intact
    assert (verdict.records, verdict.head_seq, verdict.head_hash) == (3, 3, chain[-1][1])
    other = b"\x02" * 32
    assert verify_chain(chain, other).kind is TamperKind.FOREIGN_KEY
    with pytest.raises(ValueError, match="without the audit key"):
        verify_chain(chain)


def test_a_plain_hash_cannot_stand_in_for_a_mac() -> None:
    chain = keyed_chain(2)
    link = ChainLink(3, T0, "e", "forged", {}, chain[-1][1], key_id_of(KEY))
    verdict = verify_chain([*chain, (link, link_hash(link))], KEY)
    assert (verdict.first_broken_seq, verdict.kind) == (3, TamperKind.EDITED)
    unkeyed = ChainLink(3, T0, "e", "forged", {}, chain[-1][1])
    verdict = verify_chain([*chain, (unkeyed, link_hash(unkeyed))], KEY)
    assert (verdict.first_broken_seq, verdict.kind) == (3, TamperKind.FORGED)


def test_legacy_records_keep_their_sha256_and_open_the_chain() -> None:
    legacy = ChainLink(1, T0, "e", "s", {}, GENESIS)
    seal = link_hash(legacy)
    keyed = ChainLink(2, T0, "e", "s", {}, seal, key_id_of(KEY))
    assert verify_chain([(legacy, seal), (keyed, link_mac(KEY, keyed))], KEY).intact
    assert verify_chain([(legacy, seal)]).intact  # no key needed for a legacy-only chain


def test_the_key_file_is_created_once_private_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "audit" / "chain.key"
    keys = []
    threads = [
        threading.Thread(target=lambda: keys.append(create_or_load_key(path))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({k.key_id for k in keys}) == 1  # every racer got the one published key
    assert path.stat().st_mode & 0o777 == 0o600
    assert (path.parent.stat().st_mode & 0o777) == 0o700
    assert keys[0].secret.hex() not in repr(keys[0])
    assert [p.name for p in path.parent.iterdir()] == ["chain.key"]  # no temporary left
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="not a valid Lyra audit key"):
        create_or_load_key(path)
    assert path.read_text() == "{not json"
    with pytest.raises(ConfigError, match="does not exist"):
        load_key(tmp_path / "none.key")


def test_a_key_file_whose_id_does_not_match_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "chain.key"
    create_or_load_key(path)
    document = json.loads(path.read_text())
    document["key_id"] = "0" * 16
    path.write_text(json.dumps(document))
    with pytest.raises(ConfigError, match="key_id does not match"):
        load_key(path)


def _anchor(seq: int) -> Anchor:
    return sign_anchor(Anchor("sqlite:///x", seq, seq, "ab" * 32, T0.isoformat(), "t", "id"), KEY)


def test_anchors_append_as_lines_and_a_torn_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "audit" / "anchors.jsonl"
    append_anchor(path, _anchor(1))
    with path.open("a") as handle:
        handle.write('{"database": "sqlite:///x", "seq": 9')  # a crash mid-write
    append_anchor(path, _anchor(2))
    log = read_anchors(path)
    assert [a.seq for _, a in log.anchors] == [1, 2]
    assert log.damaged == (2,)
    assert log.latest is not None
    assert log.latest[1].seq == 2
    assert all(a.mac_ok(KEY) for _, a in log.anchors)
    assert not _anchor(2).mac_ok(b"\x02" * 32)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert not read_anchors(tmp_path / "none.jsonl").exists
