"""Full-jitter exponential backoff, floored by the server's ``Retry-After``.

"Full jitter" from Marc Brooker, "Exponential Backoff And Jitter", AWS Architecture Blog
(2015): ``sleep = random_between(0, min(cap, base * 2 ** attempt))``. Of the schemes that
post compares, it spreads competing clients best for the least total work: callers that
failed together do not retry together. A ``Retry-After`` from the server (RFC 9110
§10.2.3) is a floor, never shortened by the jitter (docs/domain.md, LLM gateway: retries
use "full-jitter exponential backoff that honours Retry-After").

The randomness is an injected :class:`random.Random`, so tests and replays are
deterministic. Whether a long ``Retry-After`` is worth waiting for, or the call should
fall back to the next model instead, is the caller's decision: this module only says how
long a retry must wait.

Usage::

    backoff = Backoff(base_s=0.5, cap_s=20.0, rng=random.Random(7))
    await asyncio.sleep(backoff.delay(attempt=0, retry_after=error.retry_after))
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

__all__ = ["Backoff", "delay"]

#: Exponents above this are past any cap a caller could mean; it keeps ``ldexp`` finite.
_MAX_EXPONENT = 1000


def delay(
    attempt: int,
    *,
    base: float,
    cap: float,
    retry_after: float | None = None,
    rng: random.Random,
) -> float:
    """Seconds to wait before retry number ``attempt`` (0 for the first retry).

    ``max(retry_after or 0, uniform(0, min(cap, base * 2 ** attempt)))``.
    """
    if attempt < 0:
        raise ValueError(f"attempt must be 0 or more, got {attempt}")
    if not (base > 0 and math.isfinite(base)):
        raise ValueError(f"base must be a positive number of seconds, got {base}")
    if not (cap >= 0 and math.isfinite(cap)):
        raise ValueError(f"cap must be a non-negative number of seconds, got {cap}")
    try:
        ceiling = min(cap, math.ldexp(base, min(attempt, _MAX_EXPONENT)))
    except OverflowError:
        ceiling = cap
    jittered = rng.uniform(0.0, ceiling)
    floor = retry_after if retry_after is not None and retry_after > 0 else 0.0
    return max(floor, jittered)


@dataclass(frozen=True)
class Backoff:
    """A backoff policy: ``base_s`` and ``cap_s`` in seconds, with its random source."""

    base_s: float = 0.5
    cap_s: float = 20.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (see :func:`delay`)."""
        return delay(
            attempt, base=self.base_s, cap=self.cap_s, retry_after=retry_after, rng=self.rng
        )
