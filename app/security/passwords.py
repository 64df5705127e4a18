"""Sign-in passwords: Argon2id hashes and the strength a person's own password needs.

The hash parameters are RFC 9106's "second recommended" profile (Argon2id, t=3, 64 MiB,
p=4), pinned here rather than taken from the library's defaults, so an upgrade of
argon2-cffi never changes them silently; a stored hash made with other parameters is
re-made at the next good sign-in (`needs_rehash`). About 0.1 s per check: slow for a
guesser holding a copy of the database, quick enough for switching user at the desk.

Strength: the clinic passphrase's own estimate (zxcvbn, with the person's and the
clinic's names counting as easy words), with a longer minimum and no composition rules
or forced periodic changes (NIST SP 800-63B).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from functools import cache

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

from app.errors import InvalidInputError
from app.store.passphrase_strength import PassphraseStrength, estimate_strength

PARAMETERS = profiles.RFC_9106_LOW_MEMORY
MIN_PASSWORD_LENGTH = 12
_HASHER = PasswordHasher.from_parameters(PARAMETERS)
# A temporary password an administrator hands over: 3 groups of 4 from an alphabet
# without look-alikes (0/O, 1/I), about 71 random bits, easy to read out loud.
_TEMPORARY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored: str, password: str) -> bool:
    """True when `password` is the one `stored` was made from; a damaged or empty stored
    hash is a plain no (the person asks an administrator for a new password)."""
    if not stored:
        return False
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether a hash was made with other parameters than today's (re-made after a good
    sign-in, when the password itself is at hand)."""
    try:
        return _HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True


@cache
def dummy_hash() -> str:
    """A hash of nothing anyone knows: a sign-in for an unknown or disabled name checks
    against it, so the time taken does not tell which names exist."""
    return _HASHER.hash(secrets.token_hex(16))


def password_strength(password: str, context: Sequence[str] = ()) -> PassphraseStrength:
    """The verdict for the meter and the check, in the words of a password."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return PassphraseStrength(
            False,
            "Too weak",
            f"A password needs at least {MIN_PASSWORD_LENGTH} characters. "
            "A few unrelated words are strong and easy to remember.",
            min(len(password), MIN_PASSWORD_LENGTH) / MIN_PASSWORD_LENGTH / 4,
        )
    verdict = estimate_strength(password, context)
    reason = verdict.reason.replace("passphrase", "password").replace("Passphrase", "Password")
    return PassphraseStrength(verdict.accepted, verdict.label, reason, verdict.meter)


def check_password(password: str, context: Sequence[str] = ()) -> None:
    """Refuse a password a guesser would try early, saying what to change."""
    verdict = password_strength(password, context)
    if not verdict.accepted:
        raise InvalidInputError(verdict.reason)


def temporary_password() -> str:
    """A random first password for an administrator to hand over (changed at first use)."""
    chars = "".join(secrets.choice(_TEMPORARY_ALPHABET) for _ in range(12))
    return f"{chars[:4]}-{chars[4:8]}-{chars[8:]}"
