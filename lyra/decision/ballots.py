"""Structured votes from LLMs: the JSON schema requested, validation, and the one re-ask.

The request asks for OpenAI-style structured output (``response_format`` of type
``json_schema`` with ``strict: true``) and tells OpenRouter to route only to providers
that honour it (``provider.require_parameters: true``; OpenRouter docs, "Structured
Outputs" and "Provider Routing"). Strict mode needs every property listed in
``required`` and ``additionalProperties: false``, so the optional stop price is a
nullable number. The answer is still validated here with pydantic
(:class:`~lyra.decision.votes.BallotModel`): a provider may ignore the schema, and ranges such
as confidence 0..1 are checked by us whatever the provider does. An answer that fails is
re-asked once with the validation error; a second failure is an abstention with its
reason (docs/domain.md, Consensus).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any, Final

from pydantic import ValidationError

from lyra.decision.votes import RATIONALE_MAX, Ballot, BallotModel
from lyra.structured import AnswerSpec, InvalidAnswerError

__all__ = [
    "VOTE_ANSWER",
    "VOTE_SCHEMA",
    "InvalidVoteError",
    "parse_ballot",
    "provider_preferences",
    "reask_message",
    "vote_response_format",
]

VOTE_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "action": {"type": "string", "enum": ["buy", "sell", "hold"]},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "rationale": {"type": "string", "maxLength": RATIONALE_MAX},
        "stop_price": {"type": ["number", "null"], "exclusiveMinimum": 0},
    },
    "required": ["action", "confidence", "rationale", "stop_price"],
    "additionalProperties": False,
}

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


class InvalidVoteError(InvalidAnswerError):
    """The model's answer is not a valid vote; the message says why (no model text)."""


def vote_response_format() -> dict[str, Any]:
    """``response_format`` asking for a strict vote object."""
    return {
        "type": "json_schema",
        "json_schema": {"name": "trading_vote", "strict": True, "schema": VOTE_SCHEMA},
    }


def provider_preferences() -> dict[str, Any]:
    """OpenRouter provider routing: only providers that support every parameter sent."""
    return {"require_parameters": True}


def parse_ballot(content: str | None) -> Ballot:
    """The ballot in a model's answer, or :class:`InvalidVoteError` with the reason.

    A Markdown code fence around the JSON is tolerated (some models add one even in JSON
    mode); anything else that is not exactly one vote object is refused.
    """
    if content is None or not content.strip():
        raise InvalidVoteError("empty answer")
    match = _FENCE.match(content)
    text = match.group(1) if match else content
    try:
        data = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise InvalidVoteError(f"not JSON: {exc.msg} at position {exc.pos}") from None
    if not isinstance(data, dict):
        raise InvalidVoteError(f"expected a JSON object, got {type(data).__name__}")
    try:
        return Ballot.from_model(BallotModel.model_validate(data))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'vote'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidVoteError(f"invalid vote: {problems}") from None


def reask_message(error: InvalidAnswerError) -> dict[str, str]:
    """The follow-up user message of the single re-ask."""
    return {
        "role": "user",
        "content": (
            f"Your previous answer was rejected ({error}). Answer again with exactly one JSON "
            "object with the keys action (buy, sell or hold), confidence (a number from 0 to "
            "1), rationale (a short string) and stop_price (a positive number or null), and "
            "nothing else."
        ),
    }


def _dump_ballot(ballot: Ballot) -> dict[str, Any]:
    model = BallotModel(
        action=ballot.action,
        confidence=ballot.confidence,
        rationale=ballot.rationale,
        stop_price=ballot.stop_price,
    )
    return model.model_dump(mode="json")


def _load_ballot(value: dict[str, Any]) -> Ballot:
    return Ballot.from_model(BallotModel.model_validate(value))


#: A trading vote, as the gateway asks for it (:meth:`lyra.llm.gateway.Gateway.vote`).
VOTE_ANSWER: Final[AnswerSpec[Ballot]] = AnswerSpec(
    name="vote",
    response_format=vote_response_format(),
    parse=parse_ballot,
    reask=reask_message,
    dump=_dump_ballot,
    load=_load_ballot,
)
