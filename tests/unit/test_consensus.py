"""Weighted consensus (docs/domain.md, Consensus): scores, quorum, threshold, ties and stops."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lyra.decision.consensus import ConsensusPolicy, decide
from lyra.decision.votes import Action, Ballot, Vote

D = Decimal
POLICY = ConsensusPolicy(threshold=D("0.70"))


def ballot(
    name: str, action: str, confidence: str, weight: str = "1", stop: str | None = None
) -> Vote:
    return Vote(
        analyst=name,
        kind="offline",
        weight=D(weight),
        ballot=Ballot(Action(action), D(confidence), "test", None if stop is None else D(stop)),
    )


def abstain(name: str, weight: str = "1") -> Vote:
    return Vote.abstain(name, "llm", D(weight), "timeout")


# --- policy -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"threshold": D(0)},
        {"threshold": D("1.01")},
        {"threshold": D("NaN")},
        {"threshold": D("0.7"), "min_votes": 0},
        {"threshold": D("0.7"), "min_weight_share": D(0)},
        {"threshold": D("0.7"), "min_weight_share": D("1.5")},
    ],
)
def test_policy_rejects_out_of_range_settings(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must be"):
        ConsensusPolicy(**kwargs)  # type: ignore[arg-type]


def test_policy_rejects_float_threshold() -> None:
    with pytest.raises(TypeError, match="Decimal"):
        ConsensusPolicy(threshold=0.7)  # type: ignore[arg-type]


def test_policy_accepts_the_bounds() -> None:
    policy = ConsensusPolicy(threshold=D(1), min_votes=1, min_weight_share=D(1))
    assert policy.threshold == 1


# --- quorum -------------------------------------------------------------------------


def test_no_votes_is_hold_without_quorum() -> None:
    result = decide([], POLICY)
    assert result.action is Action.HOLD
    assert not result.quorum_met
    assert not result.actionable
    assert result.reason.startswith("no quorum: 0 valid votes, 3 required")
    assert result.scores == {Action.BUY: 0, Action.SELL: 0, Action.HOLD: 0}


def test_all_abstain_is_hold_without_quorum_and_zero_scores() -> None:
    result = decide([abstain("a"), abstain("b"), abstain("c")], POLICY)
    assert result.action is Action.HOLD
    assert not result.quorum_met
    assert result.valid_votes == 0
    assert result.configured_weight == 3
    assert "3 of 3 abstained" in result.reason
    assert all(score == 0 for score in result.scores.values())


def test_one_model_left_with_min_votes_three_has_no_quorum() -> None:
    votes = [ballot("a", "buy", "0.95"), abstain("b"), abstain("c")]
    result = decide(votes, POLICY)
    assert result.action is Action.HOLD
    assert not result.quorum_met
    assert result.reason.startswith("no quorum: 1 valid vote, 3 required")
    # the lone buy is still reported as the proposal, just not acted on
    assert result.proposed is Action.BUY


def test_one_model_left_decides_when_policy_allows_one_vote_and_weight_suffices() -> None:
    policy = ConsensusPolicy(threshold=D("0.70"), min_votes=1, min_weight_share=D("0.6"))
    votes = [ballot("big", "buy", "0.9", weight="3"), abstain("b"), abstain("c")]
    result = decide(votes, policy)
    assert result.quorum_met
    assert result.action is Action.BUY
    assert result.scores[Action.BUY] == D("0.9")


def test_weight_share_just_below_fails_quorum_with_figures() -> None:
    votes = [
        ballot("a", "buy", "1", "2"),
        ballot("b", "buy", "1", "2"),
        ballot("c", "buy", "1", "1.99"),
    ]
    votes.append(abstain("x", weight="4.01"))  # valid 5.99 of configured 10, 6 required
    result = decide(votes, POLICY)
    assert result.configured_weight == 10
    assert not result.quorum_met
    assert result.action is Action.HOLD
    assert "valid weight 5.99 below 6 (0.6 of configured weight 10)" in result.reason


def test_weight_share_exactly_at_minimum_meets_quorum() -> None:
    votes = [ballot(f"v{i}", "buy", "0.9", weight="2") for i in range(3)]
    votes.append(abstain("x", weight="4"))  # 6 of 10 = exactly 0.6
    result = decide(votes, POLICY)
    assert result.quorum_met
    assert result.action is Action.BUY


def test_both_quorum_conditions_reported_when_both_fail() -> None:
    votes = [ballot("a", "buy", "1"), ballot("b", "buy", "1"), abstain("c", weight="10")]
    result = decide(votes, POLICY)
    assert "2 valid votes, 3 required" in result.reason
    assert "valid weight 2 below 7.2" in result.reason


def test_abstentions_are_excluded_from_the_score_denominator() -> None:
    votes = [ballot("a", "buy", "0.9"), ballot("b", "buy", "0.9"), ballot("c", "buy", "0.9")]
    with_abstention = [*votes, abstain("d")]
    # 3 x 0.9 / 3 valid = 0.9, not 2.7 / 4 = 0.675
    result = decide(with_abstention, POLICY)
    assert result.scores[Action.BUY] == D("0.9")
    assert result.action is Action.BUY
    assert result.valid_weight == 3
    assert result.configured_weight == 4


def test_zero_weight_voters_do_not_divide_by_zero_and_hold() -> None:
    votes = [ballot(n, "buy", "1", weight="0") for n in "abc"]
    result = decide(votes, POLICY)
    assert result.action is Action.HOLD
    assert not result.quorum_met
    assert result.reason == "no quorum: valid weight is 0"
    assert all(score == 0 for score in result.scores.values())


def test_zero_weight_voter_counts_as_a_vote_but_adds_no_score() -> None:
    votes = [
        ballot("a", "buy", "0.8"),
        ballot("b", "buy", "0.8"),
        ballot("ghost", "sell", "1", weight="0"),
    ]
    result = decide(votes, POLICY)
    assert result.valid_votes == 3
    assert result.scores[Action.SELL] == 0
    assert result.action is Action.BUY


# --- threshold ----------------------------------------------------------------------


def test_threshold_exactly_met_is_acted_on() -> None:
    votes = [ballot(n, "buy", "0.7") for n in "abc"]
    result = decide(votes, POLICY)
    assert result.action is Action.BUY
    assert result.actionable
    assert result.reason == "buy 0.70 >= threshold 0.70"


def test_threshold_exactly_met_with_unequal_weights_that_do_not_divide_evenly() -> None:
    # (1 x 0.7 + 2 x 0.7) / 3 is exactly 0.7 although 1/3 and 2/3 are not finite decimals
    votes = [
        ballot("a", "sell", "0.7"),
        ballot("b", "sell", "0.7", weight="2"),
        ballot("c", "sell", "0.7"),
    ]
    result = decide(votes, ConsensusPolicy(threshold=D("0.7")))
    assert result.action is Action.SELL


def test_just_below_threshold_holds_and_says_so() -> None:
    votes = [ballot("a", "buy", "0.6999"), ballot("b", "buy", "0.7"), ballot("c", "buy", "0.7")]
    result = decide(votes, POLICY)
    assert result.action is Action.HOLD
    assert result.proposed is Action.BUY
    assert not result.actionable
    assert result.reason == "buy 0.69 below threshold 0.70"


def test_below_threshold_reason_quotes_the_score() -> None:
    votes = [ballot("a", "buy", "0.55"), ballot("b", "buy", "0.55"), ballot("c", "buy", "0.55")]
    result = decide(votes, POLICY)
    assert result.reason == "buy 0.55 below threshold 0.70"


def test_acted_reason_for_sell() -> None:
    votes = [ballot("a", "sell", "0.82"), ballot("b", "sell", "0.82"), ballot("c", "sell", "0.82")]
    result = decide(votes, ConsensusPolicy(threshold=D("0.80")))
    assert result.action is Action.SELL
    assert result.reason == "sell 0.82 >= threshold 0.80"


def test_threshold_with_more_places_is_printed_unrounded() -> None:
    votes = [ballot(n, "buy", "0.7049") for n in "abc"]
    result = decide(votes, ConsensusPolicy(threshold=D("0.705")))
    assert result.reason == "buy 0.70 below threshold 0.705"


# --- ties, hold majority, no support -------------------------------------------------


def test_buy_sell_tie_holds() -> None:
    votes = [ballot("a", "buy", "0.8"), ballot("b", "sell", "0.8"), ballot("c", "hold", "0.4")]
    result = decide(votes, ConsensusPolicy(threshold=D("0.2")))
    assert result.action is Action.HOLD
    assert result.proposed is None
    assert result.reason.startswith("tie: buy and sell both 0.26")


def test_tie_reason_matches_brief_example() -> None:
    votes = [
        ballot("a", "buy", "0.8"),
        ballot("b", "sell", "0.8"),
        ballot("c", "hold", "1"),
        ballot("d", "hold", "0"),
    ]
    result = decide(votes, POLICY)
    assert result.reason == "tie: buy and sell both 0.20"


def test_hold_majority_holds_and_names_the_weaker_proposal() -> None:
    votes = [ballot("a", "hold", "0.9"), ballot("b", "hold", "0.9"), ballot("c", "buy", "0.9")]
    result = decide(votes, POLICY)
    assert result.action is Action.HOLD
    assert result.proposed is Action.BUY
    assert result.scores[Action.HOLD] > result.scores[Action.BUY]
    assert result.reason == "buy 0.30 below threshold 0.70"


def test_no_buy_or_sell_support_holds() -> None:
    votes = [ballot(n, "hold", "0.6") for n in "abc"]
    result = decide(votes, POLICY)
    assert result.action is Action.HOLD
    assert result.proposed is None
    assert result.reason == "no buy or sell support (hold 0.60)"


def test_buy_with_zero_confidence_is_no_support() -> None:
    votes = [ballot("a", "buy", "0"), ballot("b", "sell", "0"), ballot("c", "hold", "0")]
    result = decide(votes, POLICY)
    assert result.proposed is None
    assert result.reason.startswith("no buy or sell support")


def test_stronger_side_wins_when_buy_and_sell_both_have_support() -> None:
    votes = [ballot("a", "sell", "0.9"), ballot("b", "sell", "0.9"), ballot("c", "buy", "0.9")]
    result = decide(votes, ConsensusPolicy(threshold=D("0.6")))
    assert result.proposed is Action.SELL
    assert result.action is Action.SELL


def test_duplicate_analyst_names_are_a_value_error() -> None:
    with pytest.raises(ValueError, match="same analyst: a"):
        decide([ballot("a", "buy", "1"), abstain("a"), ballot("b", "buy", "1")], POLICY)


def test_absurdly_precise_inputs_fail_loudly_rather_than_round() -> None:
    long = "0." + "3" * 70
    votes = [ballot(n, "buy", long, weight="1." + "7" * 70) for n in "abc"]
    with pytest.raises(ValueError, match="too precise"):
        decide(votes, POLICY)


# --- stop selection -----------------------------------------------------------------


def test_buy_stop_is_the_lowest_given_by_buyers() -> None:
    votes = [
        ballot("a", "buy", "0.9", stop="95"),
        ballot("b", "buy", "0.9", stop="90"),
        ballot("c", "buy", "0.9"),
        ballot("d", "sell", "0.1", stop="80"),  # a seller's stop is not the buy's
    ]
    result = decide(votes, ConsensusPolicy(threshold=D("0.60")))  # 2.7 / 4 = 0.675
    assert result.action is Action.BUY
    assert result.stop_price == D("90")


def test_sell_stop_is_the_highest_given_by_sellers() -> None:
    votes = [
        ballot("a", "sell", "0.9", stop="105"),
        ballot("b", "sell", "0.9", stop="110"),
        ballot("c", "sell", "0.9", stop="104"),
        ballot("d", "buy", "0.1", stop="120"),
    ]
    result = decide(votes, ConsensusPolicy(threshold=D("0.60")))  # 2.7 / 4 = 0.675
    assert result.action is Action.SELL
    assert result.stop_price == D("110")


def test_no_stop_when_no_winner_gave_one_or_when_not_actionable() -> None:
    stopless = decide([ballot(n, "buy", "0.9") for n in "abc"], POLICY)
    assert stopless.actionable
    assert stopless.stop_price is None
    below = decide([ballot(n, "buy", "0.5", stop="90") for n in "abc"], POLICY)
    assert not below.actionable
    assert below.stop_price is None


# --- properties ---------------------------------------------------------------------

confidences = st.decimals(min_value=0, max_value=1, places=4, allow_nan=False)
weights = st.decimals(min_value=0, max_value=5, places=2, allow_nan=False)
actions = st.sampled_from(list(Action))


@st.composite
def panels(draw: st.DrawFn) -> list[Vote]:
    size = draw(st.integers(min_value=0, max_value=8))
    votes: list[Vote] = []
    for index in range(size):
        weight = draw(weights)
        if draw(st.booleans()) and draw(st.booleans()):
            votes.append(Vote.abstain(f"m{index}", "llm", weight, "failed"))
        else:
            b = Ballot(draw(actions), draw(confidences), "r", draw(st.none() | st.just(D(100))))
            votes.append(Vote(f"m{index}", "llm", weight, b))
    return votes


policies = st.builds(
    ConsensusPolicy,
    threshold=st.decimals(min_value=D("0.01"), max_value=1, places=2),
    min_votes=st.integers(min_value=1, max_value=4),
    min_weight_share=st.decimals(min_value=D("0.01"), max_value=1, places=2),
)


@given(panels(), policies)
def test_scores_are_fractions_that_sum_to_at_most_one(
    votes: list[Vote], policy: ConsensusPolicy
) -> None:
    scores = decide(votes, policy).scores
    assert set(scores) == set(Action)
    assert all(0 <= score <= 1 for score in scores.values())
    assert sum(scores.values()) <= 1


@given(panels(), policies, st.randoms(use_true_random=False))
def test_permuting_votes_does_not_change_the_result(
    votes: list[Vote], policy: ConsensusPolicy, rng: object
) -> None:
    shuffled = list(votes)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    assert decide(shuffled, policy) == decide(votes, policy)


@given(panels(), policies, weights)
def test_adding_an_abstention_never_changes_scores(
    votes: list[Vote], policy: ConsensusPolicy, weight: Decimal
) -> None:
    extra = Vote.abstain("newcomer", "llm", weight, "timeout")
    assert decide([*votes, extra], policy).scores == decide(votes, policy).scores


@given(panels(), policies)
def test_actionable_decisions_meet_quorum_and_threshold(
    votes: list[Vote], policy: ConsensusPolicy
) -> None:
    result = decide(votes, policy)
    if result.actionable:
        assert result.quorum_met
        assert result.action is result.proposed
        assert result.scores[result.action] >= policy.threshold - D("1e-27")
        assert result.valid_votes >= policy.min_votes


thresholds = st.lists(st.decimals(min_value=D("0.01"), max_value=1, places=3), max_size=6)


@given(panels(), policies, thresholds)
def test_decide_thresholds_is_decide_at_each_threshold(
    votes: list[Vote], policy: ConsensusPolicy, more: list[D]
) -> None:
    from dataclasses import replace

    from lyra.decision.consensus import decide_thresholds

    every = [policy.threshold, *more]
    assert decide_thresholds(votes, policy, every) == tuple(
        decide(votes, replace(policy, threshold=t)) for t in every
    )


def test_decide_thresholds_refuses_a_threshold_outside_0_1() -> None:
    from lyra.decision.consensus import decide_thresholds

    with pytest.raises(ValueError, match="threshold"):
        decide_thresholds([], ConsensusPolicy(threshold=D("0.7")), [D("1.5")])
