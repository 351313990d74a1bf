"""``LYRA_EXCHANGE_CREDENTIALS`` parsed: ``exchange=apikey:secret[:password]``, comma separated.

Checked when the settings load (so a malformed value is refused before anything is
written, whatever the phase) and read again where live brokers are built. An error names
the entry by its position and, only when it is an exchange ccxt knows, by its exchange: a
malformed entry may be nothing but key material, so its text is never echoed.
"""

from __future__ import annotations

from functools import cache

from pydantic import SecretStr

from lyra.errors import ConfigError

__all__ = ["Credentials", "parse_exchange_credentials"]

#: exchange id -> (api key, secret, password or None)
Credentials = dict[str, tuple[str, str, str | None]]


@cache
def _exchange_ids() -> frozenset[str]:
    import ccxt  # only when credentials are given: they name ccxt exchanges

    return frozenset(ccxt.exchanges)


def parse_exchange_credentials(value: SecretStr | None) -> Credentials:
    """The credentials by exchange id; a ConfigError naming the entry (never its text)."""
    if value is None:
        return {}
    found: Credentials = {}
    entries = [part.strip() for part in value.get_secret_value().split(",")]
    for position, part in enumerate((p for p in entries if p), start=1):
        name, sep, rest = part.partition("=")
        exchange = name.strip().lower()
        fields = rest.split(":")
        named = exchange if sep and exchange in _exchange_ids() else None
        where = f"entry {position}" + (f" ({named})" if named else "")
        if named is None or len(fields) not in (2, 3) or not all(fields[:2]):
            raise ConfigError(
                f"LYRA_EXCHANGE_CREDENTIALS: {where} is not exchange=apikey:secret[:password]"
            )
        if exchange in found:
            raise ConfigError(f"LYRA_EXCHANGE_CREDENTIALS: {where} repeats exchange {exchange}")
        found[exchange] = (fields[0], fields[1], fields[2] if len(fields) == 3 else None)
    return found
