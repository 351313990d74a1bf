"""Taxpayer entities as configuration: type, investor or trader, GST, ABN, sealed TFN.

An entity file is YAML (one entity)::

    name: Example Trading Pty Ltd
    type: company            # individual | trust | smsf (complying super fund) | company
    basis: investor          # investor (CGT) | trader (revenue account, trading stock)
    abn: "51 824 753 556"    # checked with the ABR check digit
    gst:
      registered: true
      registered_from: 2017-07-01
      cycle: quarterly       # monthly | quarterly | annual
      reporting: full        # full worksheet (G1..G20) | simpler (G1, 1A, 1B)
      other_input_tax_credits_12m: "4000"   # credits outside this ledger (threshold test)
    tfn_sealed: {...}        # from seal_tfn(); never the TFN in plain text

The TFN is personal information that must never be logged or stored in plain text
(docs/tax.md "Identifiers"; Privacy (Tax File Number) Rule 2015). :func:`seal_tfn` checks it
and seals it with the keystore's AES-256-GCM under a PBKDF2-SHA256 key from a passphrase
(:mod:`lyra.security.sealing`, the keystore's primitives, not a second implementation); only
the last three digits are kept in clear, for display as ``******782``.
"""

from __future__ import annotations

import base64
import secrets
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from lyra.compliance.identifiers import digits_of, is_valid_abn, is_valid_tfn, mask_tfn
from lyra.compliance.rules import EntityType
from lyra.errors import ConfigError
from lyra.security.sealing import ITERATIONS, open_sealed, seal

__all__ = [
    "DEFAULT_ENTITY_FILE",
    "Entity",
    "GstRegistration",
    "SealedTfn",
    "entity_for_type",
    "load_entity",
    "open_tfn",
    "seal_tfn",
]

DEFAULT_ENTITY_FILE = Path(__file__).parent / "data" / "entity.yaml"
_TFN_AAD = b"lyra-tfn-v1"


class SealedTfn(BaseModel):
    """A TFN sealed with AES-256-GCM; ``last3`` is the only part in clear."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    iterations: int = Field(ge=1)
    salt: str
    nonce: str
    ciphertext: str
    last3: str = Field(pattern=r"^\d{3}$")

    @property
    def masked(self) -> str:
        """How the TFN may be shown."""
        return "******" + self.last3


class GstRegistration(BaseModel):
    """GST registration and BAS cycle (docs/tax.md "GST and BAS")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    registered: bool = False
    registered_from: date | None = None
    cycle: Literal["monthly", "quarterly", "annual"] = "quarterly"
    reporting: Literal["full", "simpler"] = "full"
    other_input_tax_credits_12m: Decimal = Field(default=Decimal(0), ge=0)


class Entity(BaseModel):
    """One taxpayer (see the module docstring for the file format)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200)
    type: EntityType
    basis: Literal["investor", "trader"] = "investor"
    abn: str | None = None
    gst: GstRegistration = Field(default_factory=GstRegistration)
    tfn_sealed: SealedTfn | None = None
    resident_country: str = Field(default="AU", pattern=r"^[A-Z]{2}$")

    @field_validator("abn")
    @classmethod
    def _check_abn(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not is_valid_abn(value):
            raise ValueError(f"ABN {value!r} fails the ABR check digit")
        return digits_of(value)

    @property
    def trader(self) -> bool:
        """True on revenue account (trading stock), not CGT."""
        return self.basis == "trader"

    def gst_registered_on(self, day: date) -> bool:
        """True when registered for GST on ``day``."""
        start = self.gst.registered_from
        return self.gst.registered and (start is None or start <= day)


def entity_for_type(
    entity_type: EntityType, basis: Literal["investor", "trader"] = "investor"
) -> Entity:
    """A minimal entity of a type (the CLI's ``--entity individual`` and friends)."""
    return Entity(name=f"{entity_type} ({basis})", type=entity_type, basis=basis)


def load_entity(path: Path | None = None) -> Entity:
    """The entity of a YAML file (default: the shipped example company)."""
    path = path or DEFAULT_ENTITY_FILE
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"entity file {path} does not exist") from None
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"entity file {path} cannot be read: {exc}") from None
    try:
        return Entity.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "entity"
        raise ConfigError(f"entity file {path}: {where}: {first['msg']}") from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def seal_tfn(tfn: SecretStr, passphrase: SecretStr, *, iterations: int = ITERATIONS) -> SealedTfn:
    """Check a TFN and seal it; the error never contains the number."""
    digits = digits_of(tfn.get_secret_value())
    if digits is None or not is_valid_tfn(digits):
        raise ConfigError("the TFN given is not a valid 9-digit TFN (check digit fails)")
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    sealed = seal(passphrase, SecretStr(digits), salt, iterations, nonce, _TFN_AAD)
    return SealedTfn(
        iterations=iterations,
        salt=_b64(salt),
        nonce=_b64(nonce),
        ciphertext=_b64(sealed),
        last3=mask_tfn(digits)[-3:],
    )


def open_tfn(sealed: SealedTfn, passphrase: SecretStr) -> SecretStr:
    """The TFN, for lodgement only; a wrong passphrase or edited file is a ConfigError."""
    try:
        salt = base64.b64decode(sealed.salt, validate=True)
        nonce = base64.b64decode(sealed.nonce, validate=True)
        body = base64.b64decode(sealed.ciphertext, validate=True)
    except ValueError:
        raise ConfigError("sealed TFN is corrupt (not base64)") from None
    plain = open_sealed(passphrase, salt, sealed.iterations, nonce, body, _TFN_AAD)
    if plain is None:
        raise ConfigError("sealed TFN cannot be opened: wrong passphrase or edited file")
    return plain
