"""The key pool: parsing the key settings and building the pool, never echoing a key."""

from __future__ import annotations

import dataclasses
import traceback
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr

from lyra.errors import ConfigError
from lyra.llm.keys import (
    KeySpec,
    build_key_pool,
    keystore_specs,
    parse_cap_map,
    parse_key_list,
    parse_tier_map,
)
from lyra.security.keystore import KeyInfo
from lyra.spend.catalog import TIERS

KEY_A = "sk-or-v1-" + "0a" * 32
KEY_B = "sk-or-v1-" + "1b" * 32
KEY_C = "sk-or-v1-" + "2c" * 32
ALL_TIERS = frozenset(TIERS)


def _lyra_locals(exc: BaseException) -> str:
    """Local variables of Lyra's frames in the traceback, as a debugger or a traceback
    printer that shows locals (rich's, typer's) would print them."""
    shown = []
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        if "lyra" in Path(frame.f_code.co_filename).parts:
            shown.extend(f"{name}={value!r}" for name, value in frame.f_locals.items())
    return "\n".join(shown)


def _assert_no_key_text(exc: BaseException, *keys: str, check_locals: bool = True) -> None:
    shown = str(exc) + (_lyra_locals(exc) if check_locals else "")
    for key in keys:
        assert key not in shown
        assert key[-12:] not in shown


def test_parse_key_list_reads_aliases_and_keys() -> None:
    keys = parse_key_list(SecretStr(f" flows = {KEY_A} , research={KEY_B},"))
    assert keys == {"flows": SecretStr(KEY_A), "research": SecretStr(KEY_B)}
    assert parse_key_list(SecretStr("")) == {}


def test_a_key_may_contain_an_equals_sign() -> None:
    assert parse_key_list(SecretStr("flows=abc=="))["flows"].get_secret_value() == "abc=="


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (KEY_A, "entry 1 is not alias=value"),
        (f"flows={KEY_A},{KEY_B}", "entry 2 is not alias=value"),
        (f"{KEY_A}=flows", "entry 1: an alias is 1 to 32"),
        (f"Flows={KEY_A}", "entry 1: an alias is 1 to 32"),
        (f"={KEY_A}", "entry 1: an alias is 1 to 32"),
        (f"flows={KEY_A},flows={KEY_B}", "alias 'flows' is given twice"),
        (f"flows=,research={KEY_B}", "the key of alias 'flows' is empty"),
    ],
)
def test_parse_key_list_errors_name_the_position_never_the_key(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        parse_key_list(SecretStr(value))
    assert "LYRA_OPENROUTER_API_KEYS" in str(caught.value)
    _assert_no_key_text(caught.value, KEY_A, KEY_B)


def test_parse_tier_map() -> None:
    tiers = parse_tier_map("flows=premium|advanced, research = fast ,")
    assert tiers == {"flows": frozenset({"premium", "advanced"}), "research": frozenset({"fast"})}
    assert parse_tier_map("") == {}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("flows=premium|gold", "alias 'flows': tier 'gold' is not one of"),
        (f"flows={KEY_A}", "alias 'flows': tier number 1 is not one of"),
        ("flows=", "alias 'flows' lists no tier"),
        ("flows=fast,flows=premium", "given twice"),
    ],
)
def test_parse_tier_map_errors(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        parse_tier_map(value)
    assert "LYRA_OPENROUTER_KEY_TIERS" in str(caught.value)
    _assert_no_key_text(caught.value, KEY_A, check_locals=False)


def test_parse_cap_map_keeps_exact_decimals() -> None:
    caps = parse_cap_map("flows=20, research=5.50")
    assert caps == {"flows": Decimal("20"), "research": Decimal("5.50")}
    assert str(caps["research"]) == "5.50"


@pytest.mark.parametrize("amount", ["-1", "NaN", "Infinity", "lots", "", KEY_A])
def test_parse_cap_map_refuses_non_amounts_without_echoing_them(amount: str) -> None:
    with pytest.raises(ConfigError, match="alias 'flows': the daily cap must be") as caught:
        parse_cap_map(f"flows={amount}")
    _assert_no_key_text(caught.value, KEY_A, check_locals=False)


def test_a_key_without_tiers_serves_every_tier() -> None:
    pool = build_key_pool(
        {"flows": SecretStr(KEY_A), "research": SecretStr(KEY_B)},
        {"flows": frozenset({"fast"})},
        {"research": Decimal("5.50")},
    )
    by_alias = {spec.alias: spec for spec in pool}
    assert by_alias["flows"].tiers == frozenset({"fast"})
    assert by_alias["flows"].serves("fast")
    assert not by_alias["flows"].serves("premium")
    assert by_alias["research"].tiers == ALL_TIERS
    assert by_alias["research"].daily_cap_usd == Decimal("5.50")
    assert by_alias["flows"].daily_cap_usd is None
    assert {spec.source for spec in pool} == {"env"}


def test_keystore_keys_join_the_pool_with_their_stored_metadata() -> None:
    created = datetime(2025, 1, 1, tzinfo=UTC)
    infos = [
        KeyInfo("vault", frozenset({"premium"}), Decimal("30"), created),
        KeyInfo("spare", frozenset(), None, created),
    ]
    secrets = {"vault": SecretStr(KEY_B), "spare": SecretStr(KEY_C)}
    pool = build_key_pool({"flows": SecretStr(KEY_A)}, {}, {}, keystore_specs(infos, secrets))
    assert [(s.alias, s.source) for s in pool] == [
        ("flows", "env"),
        ("vault", "keystore"),
        ("spare", "keystore"),
    ]
    vault, spare = pool[1], pool[2]
    assert vault.tiers == frozenset({"premium"})
    assert vault.daily_cap_usd == Decimal("30")
    assert vault.secret.get_secret_value() == KEY_B
    assert spare.tiers == ALL_TIERS


def test_environment_tiers_and_caps_win_over_the_keystore() -> None:
    stored = KeySpec("vault", SecretStr(KEY_B), frozenset({"premium"}), Decimal("30"), "keystore")
    (spec,) = build_key_pool({}, {"vault": frozenset({"fast"})}, {"vault": Decimal("1")}, [stored])
    assert spec.tiers == frozenset({"fast"})
    assert spec.daily_cap_usd == Decimal("1")


def test_keystore_specs_needs_every_listed_key_unlocked() -> None:
    info = KeyInfo("vault", frozenset(), None, datetime(2025, 1, 1, tzinfo=UTC))
    with pytest.raises(ConfigError, match="'vault' was not unlocked"):
        keystore_specs([info], {})


def test_the_same_alias_in_both_sources_is_refused() -> None:
    stored = KeySpec("flows", SecretStr(KEY_B), frozenset(), None, "keystore")
    with pytest.raises(ConfigError, match="'flows' is in both") as caught:
        build_key_pool({"flows": SecretStr(KEY_A)}, {}, {}, [stored])
    _assert_no_key_text(caught.value, KEY_A, KEY_B)


def test_the_same_key_under_two_aliases_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigError, match="'flows' and 'copy' hold the same key") as caught:
        build_key_pool({"flows": SecretStr(KEY_A), "copy": SecretStr(KEY_A)}, {}, {})
    _assert_no_key_text(caught.value, KEY_A)


@pytest.mark.parametrize("setting", ["tiers", "caps"])
def test_tiers_or_caps_for_an_alias_without_a_key_are_refused(setting: str) -> None:
    tiers = {"typo": frozenset({"fast"})} if setting == "tiers" else {}
    caps = {"typo": Decimal("1")} if setting == "caps" else {}
    with pytest.raises(ConfigError, match="alias 'typo' has no key"):
        build_key_pool({"flows": SecretStr(KEY_A)}, tiers, caps)


def test_a_keystore_key_with_an_unknown_tier_or_negative_cap_is_refused() -> None:
    odd = KeySpec("vault", SecretStr(KEY_B), frozenset({"gold"}), None, "keystore")
    with pytest.raises(ConfigError, match="alias 'vault': 1 tier name"):
        build_key_pool({}, {}, {}, [odd])
    negative = KeySpec("vault", SecretStr(KEY_B), frozenset(), Decimal("-1"), "keystore")
    with pytest.raises(ConfigError, match="alias 'vault': the daily cap"):
        build_key_pool({}, {}, {}, [negative])


def test_keyspec_repr_and_str_never_show_the_secret() -> None:
    spec = KeySpec("flows", SecretStr(KEY_A), frozenset({"fast"}), Decimal("20"), "env")
    for text in (repr(spec), str(spec), repr([spec]), f"{spec}"):
        assert KEY_A not in text
        assert "flows" in text
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.alias = "other"  # type: ignore[misc]
