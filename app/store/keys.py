"""The clinic data key and its key file: wrapping by passphrase and by recovery key.

The database is encrypted with a random 256-bit key. That key is never written in
plaintext: it sits in the OS keyring, and in `clinic.key` wrapped twice with
AES-256-GCM, once under a key derived from the clinic passphrase (Argon2id, slow on
purpose) and once under a key derived from the recovery key (HKDF: the recovery key
already has 160 random bits, so stretching adds nothing). Changing the passphrase
rewraps the same data key, so the database is never re-encrypted.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.errors import KeyFileError, WeakPassphraseError, WrongPassphraseError
from app.store.passphrase_strength import estimate_strength

KEY_BYTES = 32
KEY_FILE_FORMAT = 1
# OWASP's Argon2id setting with more memory: ~0.3 s on a reception PC, which is
# fine once per unlock and slows offline guessing of a stolen key file.
ARGON2_TIME_COST = 3
ARGON2_MEMORY_KIB = 64 * 1024
ARGON2_PARALLELISM = 4
_RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to mix up
_RECOVERY_GROUPS = 8
_RECOVERY_GROUP_LEN = 4


def new_data_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def key_fingerprint(key: bytes) -> str:
    """A short public name for a key, to tell keys apart without revealing them."""
    return hashlib.sha256(b"frontdesk-key-id\x00" + key).hexdigest()[:16]


def new_recovery_key() -> str:
    """32 characters from a 32-letter alphabet = 160 random bits, grouped to be copied by hand."""
    chars = "".join(
        secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_GROUPS * _RECOVERY_GROUP_LEN)
    )
    return normalize_recovery_key(chars)


def normalize_recovery_key(text: str) -> str:
    """Accept the key as typed: any case, with or without spaces and dashes."""
    cleaned = "".join(ch for ch in text.upper() if ch.isalnum())
    if len(cleaned) != _RECOVERY_GROUPS * _RECOVERY_GROUP_LEN or any(
        ch not in _RECOVERY_ALPHABET for ch in cleaned
    ):
        raise WrongPassphraseError(
            "That is not a recovery key. It has 32 letters and digits in 8 groups of 4, "
            "as printed on the Emergency Kit."
        )
    groups = [
        cleaned[i : i + _RECOVERY_GROUP_LEN] for i in range(0, len(cleaned), _RECOVERY_GROUP_LEN)
    ]
    return "-".join(groups)


def check_passphrase_strength(passphrase: str, context: Sequence[str] = ()) -> None:
    """Refuse passphrases a guesser would try first; say why so the person can pick better.

    The same estimate drives the strength meter on screen, so what the meter calls too
    weak is exactly what is refused here.
    """
    strength = estimate_strength(passphrase, context)
    if not strength.accepted:
        raise WeakPassphraseError(strength.reason)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


@dataclass(frozen=True)
class KeySlot:
    """One wrapped copy of the data key, openable by one secret."""

    kind: str  # "passphrase" or "recovery"
    kdf: dict[str, Any]
    nonce: bytes
    ciphertext: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "kdf": self.kdf,
            "nonce": _b64(self.nonce),
            "ciphertext": _b64(self.ciphertext),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KeySlot:
        return cls(
            kind=str(data["kind"]),
            kdf=dict(data["kdf"]),
            nonce=_unb64(data["nonce"]),
            ciphertext=_unb64(data["ciphertext"]),
        )


@dataclass(frozen=True)
class KeyFile:
    """The contents of clinic.key: which database it belongs to and the wrapped key slots."""

    clinic_id: str
    key_id: str
    database_salt: str  # hex of the database's first 16 bytes, to spot a mismatched pair
    slots: tuple[KeySlot, ...]

    def slot(self, kind: str) -> KeySlot:
        for slot in self.slots:
            if slot.kind == kind:
                return slot
        raise KeyFileError(f"The key file has no {kind} entry.")

    def with_slot(self, new: KeySlot) -> KeyFile:
        others = tuple(s for s in self.slots if s.kind != new.kind)
        return replace(self, slots=(*others, new))


def _associated_data(clinic_id: str, kind: str) -> bytes:
    # Binding the slot to its clinic and kind stops a slot being copied between files.
    return f"frontdesk-key-slot:v1:{clinic_id}:{kind}".encode()


def _argon2_key(passphrase: str, params: dict[str, Any]) -> bytes:
    return hash_secret_raw(
        secret=passphrase.encode("utf-8"),
        salt=_unb64(params["salt"]),
        time_cost=int(params["time_cost"]),
        memory_cost=int(params["memory_kib"]),
        parallelism=int(params["parallelism"]),
        hash_len=KEY_BYTES,
        type=Type.ID,
    )


def _hkdf_key(recovery_key: str, params: dict[str, Any]) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES,
        salt=_unb64(params["salt"]),
        info=b"frontdesk-recovery-key-v1",
    ).derive(normalize_recovery_key(recovery_key).encode("ascii"))


def _wrapping_key(kind: str, secret: str, kdf: dict[str, Any]) -> bytes:
    if kdf.get("name") == "argon2id":
        return _argon2_key(secret, kdf)
    if kdf.get("name") == "hkdf-sha256":
        return _hkdf_key(secret, kdf)
    raise KeyFileError(f"The key file uses an unknown method for its {kind} entry.")


def wrap_with_passphrase(data_key: bytes, passphrase: str, clinic_id: str) -> KeySlot:
    kdf = {
        "name": "argon2id",
        "salt": _b64(os.urandom(16)),
        "time_cost": ARGON2_TIME_COST,
        "memory_kib": ARGON2_MEMORY_KIB,
        "parallelism": ARGON2_PARALLELISM,
    }
    return _seal(
        "passphrase", data_key, _wrapping_key("passphrase", passphrase, kdf), kdf, clinic_id
    )


def wrap_with_recovery_key(data_key: bytes, recovery_key: str, clinic_id: str) -> KeySlot:
    kdf = {"name": "hkdf-sha256", "salt": _b64(os.urandom(16))}
    return _seal("recovery", data_key, _wrapping_key("recovery", recovery_key, kdf), kdf, clinic_id)


def _seal(
    kind: str, data_key: bytes, wrapping: bytes, kdf: dict[str, Any], clinic_id: str
) -> KeySlot:
    nonce = os.urandom(12)
    ciphertext = AESGCM(wrapping).encrypt(nonce, data_key, _associated_data(clinic_id, kind))
    return KeySlot(kind=kind, kdf=kdf, nonce=nonce, ciphertext=ciphertext)


def unwrap(key_file: KeyFile, kind: str, secret: str) -> bytes:
    """Open one slot; a wrong secret fails the GCM tag and says so plainly."""
    slot = key_file.slot(kind)
    wrapping = _wrapping_key(kind, secret, slot.kdf)
    try:
        data_key = AESGCM(wrapping).decrypt(
            slot.nonce, slot.ciphertext, _associated_data(key_file.clinic_id, kind)
        )
    except InvalidTag:
        if kind == "recovery":
            raise WrongPassphraseError(
                "That recovery key does not unlock this clinic. Check it against the "
                "Emergency Kit; nothing was changed."
            ) from None
        raise WrongPassphraseError(
            "That passphrase is not right. Nothing was changed; please try again."
        ) from None
    if key_fingerprint(data_key) != key_file.key_id:
        raise KeyFileError("The key file is damaged: its key does not match its own record.")
    return data_key


def read_key_file(path: Path) -> KeyFile:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise KeyFileError(
            "The clinic's key file (clinic.key) is missing from the data folder. Put it back "
            "from a backup of the data folder (it is kept together with clinic.db)."
        ) from None
    try:
        data = json.loads(raw)
        if data.get("format") != KEY_FILE_FORMAT:
            raise KeyFileError("The key file was written by a newer Frontdesk.")
        return KeyFile(
            clinic_id=str(data["clinic_id"]),
            key_id=str(data["key_id"]),
            database_salt=str(data["database_salt"]),
            slots=tuple(KeySlot.from_json(s) for s in data["slots"]),
        )
    except KeyFileError:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise KeyFileError(
            "The key file (clinic.key) is damaged. Restore it from a backup."
        ) from exc


def write_key_file(key_file: KeyFile, path: Path) -> None:
    """Write atomically: a crash mid-write must never leave a clinic without its key file."""
    payload = {
        "format": KEY_FILE_FORMAT,
        "clinic_id": key_file.clinic_id,
        "key_id": key_file.key_id,
        "database_salt": key_file.database_salt,
        "slots": [s.to_json() for s in key_file.slots],
    }
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)
