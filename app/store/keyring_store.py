"""The data key in the OS keyring (Windows Credential Manager, macOS Keychain, Secret Service).

The keyring is a convenience that makes unlocking silent on a workstation the clinic
trusts; it is never the only copy. Any keyring failure (none installed on headless
Linux, a locked Keychain) means "not available" and the app falls back to the passphrase.
"""

from __future__ import annotations

import logging

import keyring

SERVICE = "Frontdesk clinic key"
log = logging.getLogger(__name__)

# Backends raise more than KeyringError (D-Bus errors from Secret Service, OSError
# from a locked Keychain); each means "no keyring now", never a reason to fail.
_KEYRING_FAILURES = (Exception,)


def _is_usable() -> bool:
    backend = keyring.get_keyring()
    # The fail and null backends exist only to say "no keyring here".
    return backend.priority > 0 and "fail" not in type(backend).__module__


def load_key(clinic_id: str) -> bytes | None:
    if not _is_usable():
        return None
    try:
        stored = keyring.get_password(SERVICE, clinic_id)
    except _KEYRING_FAILURES as exc:
        log.info("keyring not available: %s", type(exc).__name__)
        return None
    if stored is None:
        return None
    try:
        return bytes.fromhex(stored)
    except ValueError:
        log.warning("keyring entry for this clinic is not a key; ignoring it")
        return None


def save_key(clinic_id: str, key: bytes) -> bool:
    """Returns whether the keyring took the key, so the UI can say if unlock will be silent."""
    if not _is_usable():
        return False
    try:
        keyring.set_password(SERVICE, clinic_id, key.hex())
    except _KEYRING_FAILURES as exc:
        log.info("keyring refused the key: %s", type(exc).__name__)
        return False
    return True


def forget_key(clinic_id: str) -> None:
    if not _is_usable():
        return
    try:
        keyring.delete_password(SERVICE, clinic_id)
    except _KEYRING_FAILURES as exc:
        log.info("keyring entry not removed: %s", type(exc).__name__)
