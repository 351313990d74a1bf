"""Redaction of secrets and personal identifiers from prompts and log lines."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from lyra.security.redaction import (
    RedactingFilter,
    Redactor,
    install_redaction,
    is_valid_tfn,
    redact,
)

OPENROUTER_KEY = "sk-or-v1-" + "9f" * 32
OPENAI_KEY = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8t"

# The worked example of the TFN algorithm published for tax practitioners: weights
# 1,4,3,7,5,8,6,9,10 give 1+8+9+28+25+48+42+72+20 = 253 = 11 x 23.
VALID_TFN = "123 456 782"
# python-stdnum's doctest example: 8+28+18+35+20+24+12+9+0 = 154 = 11 x 14.
OTHER_VALID_TFN = "876543210"


@pytest.mark.parametrize(
    ("text", "token", "removed"),
    [
        (f"using key {OPENROUTER_KEY} now", "[REDACTED:api-key]", OPENROUTER_KEY),
        (f"openai={OPENAI_KEY}", "[REDACTED:api-key]", OPENAI_KEY),
        ("curl -H 'Bearer eyJhbGciOi.J9abc-def'", "Bearer [REDACTED:bearer-token]", "eyJhbGciOi"),
        ("Authorization: Basic dXNlcjpwYXNz", "Authorization: [REDACTED:authorization]", "dXNl"),
        (
            '{"authorization": "Bearer tok_123456789"}',
            '"authorization": "[REDACTED:authorization]"',
            "tok_123456789",
        ),
        ("x-api-key=abcd1234efgh", "x-api-key=[REDACTED:api-key]", "abcd1234efgh"),
        ("api_key: 'zz99zz99'", "api_key: '[REDACTED:api-key]'", "zz99zz99"),
        ("passphrase='open sesame now'", "passphrase='[REDACTED:password]'", "open sesame"),
        ("password=hunter22", "password=[REDACTED:password]", "hunter22"),
        ("mail jane.citizen+btc@example.com.au today", "[REDACTED:email]", "jane.citizen"),
        ("call 0412 345 678 today", "[REDACTED:phone]", "345 678"),
        ("call 0412345678", "[REDACTED:phone]", "0412345678"),
        ("call +61 412 345 678", "[REDACTED:phone]", "412 345"),
        ("call +61412345678", "[REDACTED:phone]", "61412345678"),
        ("office (02) 9876 5432", "[REDACTED:phone]", "9876 5432"),
        ("office 02 9876 5432", "[REDACTED:phone]", "9876 5432"),
        ("office +61 (0)2 9876-5432", "[REDACTED:phone]", "9876-5432"),
        (f"TFN {VALID_TFN}.", "TFN [REDACTED:tfn].", VALID_TFN),
        ("TFN 123456782", "[REDACTED:tfn]", "123456782"),
        ("TFN 123-456-782", "[REDACTED:tfn]", "123-456-782"),
        (f"tfn:{OTHER_VALID_TFN}, thanks", "[REDACTED:tfn]", OTHER_VALID_TFN),
    ],
)
def test_each_pattern_is_replaced_by_a_token_naming_it(text: str, token: str, removed: str) -> None:
    redacted = redact(text)
    assert token in redacted
    assert removed not in redacted


@pytest.mark.parametrize(
    "text",
    [
        "BTC last 43,210.55 USD, ETH 2,345.6, volume 123456789",  # 123456789 fails the check
        "quantity 123 456 789 at 0.00012345",
        "close 67891.23456789 and 0.123456782 BTC",  # a valid TFN's digits after a point
        "price $123456782 and 123456782.50 USD",  # a price, not an identifier
        "order id ord_123456782 and hash 0x123456782abc",  # part of an identifier
        "a longer number 1234567820 and 91234567821",
        "dates 2024-03-15, 15/03/2024, 2024-03-15T12:30:45Z, 20240315 and 12:30:45",
        "unix time 1710505845 and ms 1710505845123",
        "sk-short is not a key; ask-anything-abcdefghijklmnopqrstuvwxyz neither",
        "RSI 14 is 71.2, MACD 12 26 9, ATR(14) 512.3",
        "not an email: user@localhost or @handle",
        "zero TFN-like 000 000 000",
    ],
)
def test_ordinary_market_text_is_kept(text: str) -> None:
    assert redact(text) == text


def test_tfn_check_digit_algorithm() -> None:
    assert is_valid_tfn(VALID_TFN)
    assert is_valid_tfn("123456782")
    assert is_valid_tfn(OTHER_VALID_TFN)
    assert not is_valid_tfn("123456789")
    assert not is_valid_tfn("12345678a")
    assert not is_valid_tfn("1234567")
    assert not is_valid_tfn("000000000")


def test_every_single_digit_error_breaks_the_tfn_check() -> None:
    # Weights 1..10 are all non-zero mod 11 (a prime), so changing one digit by 1..9
    # always changes the sum by a non-multiple of 11: the property a check digit exists for.
    digits = VALID_TFN.replace(" ", "")
    for position in range(9):
        for replacement in "0123456789":
            if replacement == digits[position]:
                continue
            typo = digits[:position] + replacement + digits[position + 1 :]
            assert not is_valid_tfn(typo), typo
            assert redact(f"TFN {typo}") == f"TFN {typo}"


def test_known_secrets_are_replaced_anywhere_even_inside_words() -> None:
    secret = "Hunter2Passphrase"
    text = f"user typed {secret} and x{secret}y"
    redacted = redact(text, [secret])
    assert secret not in redacted
    assert redacted.count("[REDACTED:secret]") == 2
    assert redact(text, [SecretStr(secret)]) == redacted


def test_the_longer_of_two_overlapping_secrets_is_replaced_whole() -> None:
    assert redact("k=abcdefgh12", ["abcdefgh", "abcdefgh12"]) == "k=[REDACTED:secret]"


def test_very_short_secrets_are_ignored_to_keep_text_readable() -> None:
    assert redact("the cat sat", ["at", ""]) == "the cat sat"


def test_a_4kb_prompt_is_redacted_quickly() -> None:
    sentence = "BTC moved 2.5% to 43,210.55 USD on 2024-03-15 as RSI(14) hit 71.2. "
    prompt = (sentence * 80)[:4096] + f" key {OPENROUTER_KEY}"
    redactor = Redactor([OPENROUTER_KEY, "passphrase-123"])
    start = time.perf_counter()
    for _ in range(100):
        out = redactor(prompt)
    per_call = (time.perf_counter() - start) / 100
    assert OPENROUTER_KEY not in out
    assert per_call < 0.005, f"{per_call * 1e3:.2f} ms per 4 KB prompt"


@pytest.mark.parametrize("unit", ["a", "1", "a@", "1 ", "sk-", "-", "bearer ", "0412 "])
def test_adversarial_inputs_stay_linear(unit: str) -> None:
    text = unit * (8192 // len(unit))
    start = time.perf_counter()
    redact(text)
    assert time.perf_counter() - start < 0.5


# --- logging -----------------------------------------------------------------------


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    log = logging.getLogger("lyra.test_redaction")
    log.setLevel(logging.DEBUG)
    yield log
    log.filters.clear()


def test_filter_formats_then_redacts_message_and_arguments(
    logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    logger.addFilter(RedactingFilter(["my-own-secret"]))
    with caplog.at_level(logging.DEBUG, logger=logger.name):
        logger.info("calling with %s and %s", OPENROUTER_KEY, "my-own-secret")
    (record,) = caplog.records
    assert record.getMessage() == "calling with [REDACTED:api-key] and [REDACTED:secret]"
    assert record.args is None
    assert OPENROUTER_KEY not in caplog.text
    assert "my-own-secret" not in caplog.text


def test_filter_redacts_exception_text(
    logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.DEBUG, logger=logger.name):
        try:
            raise RuntimeError(f"upstream said Authorization: Bearer {OPENROUTER_KEY}")
        except RuntimeError:
            logger.exception("call failed")
    assert "RuntimeError" in caplog.text
    assert OPENROUTER_KEY not in caplog.text


def test_filter_survives_a_message_that_does_not_format(
    logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.DEBUG, logger=logger.name):
        logger.warning("two slots %s %s but one argument", OPENROUTER_KEY)
    assert "two slots" in caplog.text
    assert OPENROUTER_KEY not in caplog.text


def test_install_redaction_covers_child_loggers_through_the_handlers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    installed = install_redaction(["lyra.test_install"], [SecretStr("vault-passphrase")])
    try:
        child = logging.getLogger("lyra.test_install.gateway")
        child.warning("unlocking with vault-passphrase for jane@example.com")
        logging.getLogger("lyra.test_install").warning("key %s", OPENROUTER_KEY)
    finally:
        installed.detach()
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "unlocking with [REDACTED:secret] for [REDACTED:email]",
        "key [REDACTED:api-key]",
    ]
    caplog.clear()
    logging.getLogger("lyra.test_install.gateway").warning("after detach vault-passphrase")
    assert "vault-passphrase" in caplog.text
