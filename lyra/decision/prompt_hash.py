"""A fingerprint of what an LLM was asked: the messages sent and the answer kind.

The vote journal (``lyra/store/vote_journal.py``) keeps each LLM answer with the hash of
its prompt, so a replay can tell a recorded answer to the same question from one to a
question since reworded (a new template, another indicator line). The hash is SHA-256
over canonical JSON (keys sorted, no spaces, non-ASCII kept as is) of the messages in
order and the answer spec's name and version: the same question always hashes the same,
on any machine, and any change to a message or to the answer's shape changes it.

Usage::

    digest = prompt_hash(messages, spec_name=VOTE_ANSWER.name, spec_version=VOTE_ANSWER.version)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence

__all__ = ["prompt_hash"]


def prompt_hash(messages: Sequence[Mapping[str, str]], *, spec_name: str, spec_version: int) -> str:
    """The SHA-256 hex digest of the canonical JSON of ``messages`` and the spec."""
    payload = {
        "messages": [dict(message) for message in messages],
        "spec": {"name": spec_name, "version": spec_version},
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
