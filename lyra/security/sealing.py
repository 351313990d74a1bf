"""Secrets sealed under a passphrase: AES-256-GCM with a key from PBKDF2-HMAC-SHA256.

The one implementation of Lyra's encryption at rest (the keystore of API keys, a tax
entity's TFN): the key is derived from the passphrase and a random salt with
:data:`ITERATIONS` rounds (OWASP Password Storage Cheat Sheet, 2023: at least 600,000 for
PBKDF2-HMAC-SHA256), and GCM authenticates the ciphertext together with the caller's
associated data, so metadata stored beside it cannot be changed unnoticed. Derived keys
and plaintext bytes live only inside these functions' frames.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from pydantic import SecretStr

__all__ = ["ITERATIONS", "KEY_BYTES", "derive_key", "open_sealed", "seal"]

#: PBKDF2-HMAC-SHA256 iterations: OWASP Password Storage Cheat Sheet (2023) minimum.
ITERATIONS = 600_000
#: AES-256.
KEY_BYTES = 32


def derive_key(passphrase: SecretStr, salt: bytes, iterations: int) -> bytes:
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, iterations=iterations)
    return kdf.derive(passphrase.get_secret_value().encode("utf-8"))


def seal(
    passphrase: SecretStr, secret: SecretStr, salt: bytes, iterations: int, nonce: bytes, aad: bytes
) -> bytes:
    """Ciphertext and tag of ``secret`` (surrounding white space removed, as pasted keys
    often carry a newline). Key and plaintext bytes live only in this frame."""
    key = derive_key(passphrase, salt, iterations)
    return AESGCM(key).encrypt(nonce, secret.get_secret_value().strip().encode("utf-8"), aad)


def open_sealed(
    passphrase: SecretStr, salt: bytes, iterations: int, nonce: bytes, sealed: bytes, aad: bytes
) -> SecretStr | None:
    """The plaintext, or None when authentication fails.

    Derived key and plaintext bytes live only in this frame, which has returned before
    any error is raised: a traceback printed with local variables shows neither.
    """
    try:
        plain = AESGCM(derive_key(passphrase, salt, iterations)).decrypt(nonce, sealed, aad)
    except InvalidTag:
        return None
    return SecretStr(plain.decode("utf-8"))
