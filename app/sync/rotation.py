"""Key rotation across workstations: a replaced data key reaches every desk still enrolled.

Issue 10's key replacement gives this desk's database a new data key at the next start.
The other desks learn it through the relay's key mailbox: the new key sealed to each
enrolled, not removed desk's public key (from the journalled sync_device rows, never
from the relay's word) and signed by this desk's own device key (app/sync/keyring.py).

The rule that makes this crash-safe without bookkeeping: the key this desk's database
opens with belongs in the ring only once every other desk's package was accepted by
the relay. So "the current key is not in the ring" means "not shared yet", and the
next sync round tries again (the relay keeps one package per key and device, so a
repeat replaces it). Until then envelopes stay sealed with the newest shared key, which
every desk can open; the new one is used the moment all desks can.

The sync engine calls `exchange_keys` at the start of each round, `sealing_key` for new
envelopes and `keys_for_opening` to open what it pulls.
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass

from app.clinic import Clinic
from app.errors import KeyPackageError, SyncError
from app.store.keys import key_fingerprint
from app.sync import keyring, state
from app.sync.devices import active_devices, known_devices
from app.sync.relay_api import RelaySession, require_mapping, session_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeyExchange:
    """What one exchange did, in counts (no key material)."""

    shared_to: int = 0  # devices the current key was sealed to just now
    received: int = 0  # new keys added to the ring from the mailbox
    refused: int = 0  # packages that did not open or came from a desk not on record


def sealing_key(clinic: Clinic) -> bytes:
    """The key new envelopes are sealed with: the newest every desk has been sent."""
    newest = keyring.newest(keyring.ring(clinic.conn))
    return newest.data_key if newest is not None else clinic.opened.data_key


def keys_for_opening(clinic: Clinic) -> dict[str, bytes]:
    """Every key an envelope may name: the ring and this database's own key."""
    keys = keyring.keys_by_id(keyring.ring(clinic.conn))
    keys.setdefault(key_fingerprint(clinic.opened.data_key), clinic.opened.data_key)
    return keys


def needs_sharing(clinic: Clinic) -> bool:
    """Whether this desk's database key is new and the other desks do not have it yet."""
    current = key_fingerprint(clinic.opened.data_key)
    return current not in keyring.keys_by_id(keyring.ring(clinic.conn))


def private_key(clinic: Clinic) -> bytes:
    setup = state.read_setup(clinic.conn)
    if setup is None or setup.private_key is None:
        raise SyncError("This workstation is not connected to a sync server.")
    return setup.private_key


def share_current_key(clinic: Clinic, session: RelaySession) -> int:
    """After a key replacement: seal this database's key to every other enrolled desk and
    leave it in their mailboxes, then add it to the ring (so it starts sealing); 0 when
    there was nothing to share. A relay error leaves the key unshared for the next try."""
    if not needs_sharing(clinic):
        return 0
    data_key = clinic.opened.data_key
    key_id = key_fingerprint(data_key)
    own = private_key(clinic)
    me = clinic.store.device_id
    targets = active_devices(clinic.conn, except_device=me)
    for device in targets:
        package = keyring.seal_key_package(
            data_key,
            sender_private=own,
            from_device=me,
            recipient_public=base64.b64decode(device.public_key),
            to_device=device.device_id,
        )
        session.call("PUT", f"/v1/keys/{key_id}/devices/{device.device_id}", {"package": package})
    keyring.add_key(clinic.conn, data_key)
    log.info("sync: the new clinic key was sent to %d workstations", len(targets))
    return len(targets)


def collect_key_packages(clinic: Clinic, session: RelaySession) -> tuple[int, int]:
    """Fetch the keys other desks left in this desk's mailbox and add those that open and
    come from a desk on record (not removed); returns (added, refused). A package from a
    desk whose row has not arrived here yet is left for a later round."""
    answer = require_mapping(session.call("GET", "/v1/keys"))
    items = answer.get("packages", [])
    if not isinstance(items, list):
        return 0, 0
    held = keyring.keys_by_id(keyring.ring(clinic.conn))
    known = known_devices(clinic.conn)
    own = private_key(clinic)
    me = clinic.store.device_id
    added = refused = 0
    for item in items:
        if not isinstance(item, dict):
            refused += 1
            continue
        key_id, sender = item.get("key_id"), item.get("from_device")
        if not isinstance(key_id, str) or not isinstance(sender, str) or key_id in held:
            continue
        device = known.get(sender)
        if device is None or not device.public_key:
            continue  # its sync_device row comes with a later batch
        if device.revoked_at is not None:
            refused += 1
            continue
        try:
            data_key = keyring.open_key_package(
                item.get("package"),
                key_id=key_id,
                recipient_private=own,
                to_device=me,
                sender_public=base64.b64decode(device.public_key, validate=True),
                from_device=sender,
            )
        except (KeyPackageError, binascii.Error, ValueError):
            log.warning("sync: a key package did not open and was ignored")
            refused += 1
            continue
        keyring.add_key(clinic.conn, data_key)
        held[key_id] = data_key
        added += 1
    return added, refused


def exchange_keys(clinic: Clinic, session: RelaySession | None = None) -> KeyExchange:
    """One round's key work: share a replaced key, then take in the others' new keys."""
    if session is None:
        with session_for(clinic) as own:
            return exchange_keys(clinic, own)
    shared = share_current_key(clinic, session)
    received, refused = collect_key_packages(clinic, session)
    return KeyExchange(shared, received, refused)
