"""The audit head kept outside the database, so removing the newest entries is caught.

A hash chain proves that each entry follows the one before it; it cannot tell that the
last few were deleted, because what remains is still a valid chain. So the newest
entry's number and hash are also written to `audit-head` in the data folder, with an
HMAC under a key derived from the clinic's data key: without the key nobody can write
a head that verify accepts, and with the file in hand nobody learns anything private
(a number and a hash).

The file is written *inside* the write transaction that adds the entries, while the
database's write lock is held: two windows, a background thread or a scheduled task
writing at the same moment therefore write their heads in the same order as their
entries. If the transaction then rolls back, the head is put back. It is replaced
in place, in one of two slots (see SLOT), and not flushed to disk each time: after a
power cut the database (synchronous=NORMAL) and this file can disagree by the last few
entries, and verify says that this is what a power cut looks like.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger(__name__)

ANCHOR_FILE = "audit-head"
_FORMAT = "frontdesk-audit-head-1"
_HKDF_INFO = b"frontdesk audit head v1"


@dataclass(frozen=True)
class AuditHead:
    """The newest entry of the log: its number (0 = no entry yet) and its hash in hex."""

    seq: int
    hash_hex: str


@dataclass(frozen=True)
class AnchorReading:
    """What the `audit-head` file says; `problem` is '' when it was read and its seal holds."""

    head: AuditHead | None
    problem: str = ""


@lru_cache(maxsize=8)
def _mac_key(data_key: bytes, clinic_id: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=clinic_id.encode(),
        info=_HKDF_INFO,
    ).derive(data_key)


def _mac(data_key: bytes, clinic_id: str, head: AuditHead) -> str:
    message = f"{clinic_id}\n{head.seq}\n{head.hash_hex}".encode()
    return hmac.new(_mac_key(data_key, clinic_id), message, hashlib.sha256).hexdigest()


def anchor_path(home: Path) -> Path:
    return home / ANCHOR_FILE


# Threads of one process write the file in turn (the database lock already orders
# writers across processes; this keeps two threads' seeks and writes from interleaving).
_WRITE_LOCK = threading.Lock()
# Two fixed slots, the head going to slot seq % 2: a write is one small overwrite in place
# (replacing the file by rename cost 0.2 to 2 ms on ext4, which flushes on rename), and a
# write torn by a crash spoils one slot while the other still holds the head before it.
SLOT = 256


def _slot_bytes(clinic_id: str, data_key: bytes, head: AuditHead) -> bytes:
    payload = {
        "format": _FORMAT,
        "clinic_id": clinic_id,
        "seq": head.seq,
        "hash": head.hash_hex,
        "mac": _mac(data_key, clinic_id, head),
    }
    line = json.dumps(payload, separators=(",", ":")).encode("ascii")
    if len(line) >= SLOT:
        raise ValueError("audit head too long for its slot")
    return line.ljust(SLOT - 1, b" ") + b"\n"


def write_anchor(
    home: Path, clinic_id: str, data_key: bytes, head: AuditHead, *, both: bool = False
) -> None:
    """Write the head into its slot (no fsync: see the module docstring). `both` makes it
    the only head the file holds: after a rollback, a restore or a new key."""
    record = _slot_bytes(clinic_id, data_key, head)
    with _WRITE_LOCK:
        fd = os.open(anchor_path(home), os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o600)
        with os.fdopen(fd, "r+b", buffering=0) as file:
            if both:
                file.write(record + record)
                file.truncate(2 * SLOT)
            else:
                file.seek((head.seq % 2) * SLOT)
                file.write(record)


def read_anchor(home: Path, clinic_id: str, data_key: bytes) -> AnchorReading:
    """The newest head the file records, or why it cannot be trusted (in plain words)."""
    try:
        data = anchor_path(home).read_bytes()
    except FileNotFoundError:
        return AnchorReading(None, "missing")
    except OSError:
        return AnchorReading(None, "unreadable")
    heads: list[AuditHead] = []
    for start in range(0, max(len(data), 1), SLOT):
        chunk = data[start : start + SLOT].strip(b" \n\x00")
        if not chunk:
            continue  # a slot never written yet
        reading = _read_slot(chunk, clinic_id, data_key)
        if reading.problem:
            return reading
        if reading.head is not None:
            heads.append(reading.head)
    if not heads:
        return AnchorReading(None, "unreadable")
    return AnchorReading(max(heads, key=lambda h: h.seq))


def _read_slot(chunk: bytes, clinic_id: str, data_key: bytes) -> AnchorReading:
    try:
        payload = json.loads(chunk)
        head = AuditHead(int(payload["seq"]), str(payload["hash"]))
        mac = str(payload["mac"])
        owner = str(payload["clinic_id"])
    except (KeyError, TypeError, ValueError):
        return AnchorReading(None, "unreadable")
    if owner != clinic_id:
        return AnchorReading(None, "from another clinic")
    if not hmac.compare_digest(mac, _mac(data_key, clinic_id, head)):
        return AnchorReading(None, "not sealed with this clinic's key")
    return AnchorReading(head)
