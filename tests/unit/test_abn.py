"""Identifiers (docs/tax.md "Identifiers"; ABR "Format of the ABN"; ATO TFN algorithm)."""

from __future__ import annotations

import pytest

from lyra.compliance.identifiers import is_valid_abn, is_valid_acn, is_valid_tfn, mask_tfn


@pytest.mark.parametrize(
    "number",
    ["51 824 753 556", "51824753556", "53 004 085 616", " 51-824-753-556 "],
)
def test_abn_with_a_good_check_digit_is_valid(number: str) -> None:
    """ABR: subtract 1 from the first digit, weights 10,1,3,...,19, sum divisible by 89.
    51 824 753 556 is the ABR's own example."""
    assert is_valid_abn(number)


@pytest.mark.parametrize(
    "number",
    [
        "51 824 753 557",
        "5182475355",
        "518247535560",
        "51.824.753.556",
        "abcdefghijk",
        "",
        "01 824 753 556",
    ],
)
def test_abn_with_a_bad_digit_length_or_character_is_invalid(number: str) -> None:
    """ABR rule: 11 digits only; one digit changed breaks the mod-89 check."""
    assert not is_valid_abn(number)


def test_every_single_digit_change_of_a_valid_abn_is_caught() -> None:
    """Weights modulo 89 catch any single-digit error (ABR format)."""
    digits = "51824753556"
    for i in range(11):
        for d in "0123456789":
            if d != digits[i]:
                assert not is_valid_abn(digits[:i] + d + digits[i + 1 :])


def test_acn_check_digit() -> None:
    """ASIC ACN check digit: weights 8..1, (10 - sum mod 10) mod 10. 004 085 616 is the
    ACN inside ABN 53 004 085 616."""
    assert is_valid_acn("004 085 616")
    assert not is_valid_acn("004 085 617")
    assert not is_valid_acn("00408561")


def test_tfn_check_and_mask_never_show_the_whole_number() -> None:
    """ATO TFN weights 1,4,3,7,5,8,6,9,10, sum divisible by 11; a TFN is never printed
    whole (docs/tax.md "Identifiers")."""
    assert is_valid_tfn("123 456 782")
    assert not is_valid_tfn("123 456 789")
    assert mask_tfn("123 456 782") == "******782"
    assert "123456" not in mask_tfn("123456782")
