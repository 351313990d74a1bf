"""``LYRA_EXCHANGE_CREDENTIALS``: parsed, refused when malformed (in every phase, before
anything is written), and never echoed in the error (lyra/config/credentials.py)."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from lyra.config import Settings
from lyra.config.credentials import parse_exchange_credentials
from lyra.errors import ConfigError

KEY, SECRET = "K3yMaterialZq9", "S3cretMaterialXw4"


def test_entries_are_parsed_by_exchange_with_an_optional_password() -> None:
    parsed = parse_exchange_credentials(SecretStr(f" Binance={KEY}:{SECRET} , okx=a:b:pw ,"))
    assert parsed == {"binance": (KEY, SECRET, None), "okx": ("a", "b", "pw")}
    assert parse_exchange_credentials(None) == {}


@pytest.mark.parametrize(
    ("value", "named"),
    [
        (f"binance {KEY}{SECRET}", "entry 1 is"),  # no '=': the whole entry may be a key
        (f"{KEY}={SECRET}", "entry 1 is"),  # not an exchange id on the left
        (f"binance={KEY}", "entry 1 (binance)"),  # no secret
        (f"binance={KEY}:", "entry 1 (binance)"),
        (f"okx=a:b,kraken={KEY}:{SECRET}:pw:extra", "entry 2 (kraken)"),
        (f"binance={KEY}:{SECRET},binance=x:y", "repeats exchange binance"),
    ],
)
def test_a_malformed_entry_is_named_by_position_never_by_its_text(value: str, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_exchange_credentials(SecretStr(value))
    assert named in str(caught.value)
    assert KEY not in str(caught.value)
    assert SECRET not in str(caught.value)


def test_settings_refuse_malformed_credentials_whatever_the_phase() -> None:
    with pytest.raises(ValueError, match="entry 1 is not") as bad:
        Settings(exchange_credentials=SecretStr(f"binance {KEY}:{SECRET}"), phase=3)
    assert KEY not in str(bad.value)
    assert SECRET not in str(bad.value)
    ok = Settings(exchange_credentials=SecretStr(f"binance={KEY}:{SECRET}"), phase=3)
    assert ok.exchange_credentials is not None
