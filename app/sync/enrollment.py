"""Connecting a clinic to a relay and adding a workstation with a one-time code.

The first desk registers the clinic's space at the relay (`start_space`). To add a
workstation an administrator there makes an enrollment code (`create_invite`): the relay
address, an invite id (40 random bits: the relay's ticket for one claim) and a secret
(80 random bits the relay never sees), 24 characters in six groups, also as a QR picture.

The new desk types or scans it (`parse_code`), makes its own X25519 key pair and device
id, and claims the invite (`claim`) with proof = HMAC-SHA256(secret, invite id ‖ device
id ‖ public key). The relay cannot make that proof, so the existing desk, once it sees
the claim and checks it (`wait_for_claim`), knows the public key belongs to whoever
holds the code, and seals the clinic's keys and key file to it (`admit`): X25519 with an
ephemeral key, HKDF-SHA256 salted with the secret, AES-256-GCM bound to the invite and
both device ids. Only the secret's holder can open it, and only a desk that made the
code can have sealed something that opens (`wait_for_package`). Both screens show the
same short check code so the administrator can see the right computer is joining.

A wrong, expired or used code gets the same words whatever the reason: the relay gives
no hint either, so a guesser learns nothing.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import secrets
import struct
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.audit.log import computer_name, workstation
from app.clinic import Clinic
from app.errors import EnrollmentError, KeyFileError, KeyPackageError, RelayError
from app.ops import CancelToken, Progress, no_progress
from app.security.permissions import require
from app.store import keyring_store, keys
from app.store.changes import Changes
from app.store.writer import utc_now
from app.sync import keyring, state
from app.sync.devices import clean_name
from app.sync.keyring import RingKey
from app.sync.qr import qr_matrix
from app.sync.relay_api import (
    RelaySession,
    check_relay_url,
    require_mapping,
    require_text,
    session_for,
)
from app.sync.rotation import share_current_key

INVITE_SECONDS: Final = 900  # the relay's limit too: a code lives 15 minutes at most
POLL_SECONDS: Final = 1.0
ALPHABET: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # 32 signs: no 0/O, no 1/I
INVITE_ID_BYTES: Final = 5  # 40 bits, 8 signs
SECRET_BYTES: Final = 10  # 80 bits, 16 signs
_GROUP: Final = 4
_CODE_SIGNS: Final = (INVITE_ID_BYTES + SECRET_BYTES) * 8 // 5  # 24
_PACKAGE_FORMAT: Final = 1
_ENROLL_INFO: Final = b"frontdesk-enroll-v1"
_CHECK_LABEL: Final = b"frontdesk-enroll-check-v1"
_NAME_INFO: Final = b"frontdesk-enroll-name-v1"
_NONCE_BYTES: Final = 12

CODE_REFUSED: Final = (
    "That code was not accepted. It may be mistyped, more than 15 minutes old, or already "
    "used. Make a new code on a workstation that is already connected, and enter it again."
)
PROOF_FAILED: Final = (
    "A workstation answered the code without knowing all of it, so nothing was sent to it "
    "and it was removed again. Make a new code and enter it on the new workstation."
)
EXPIRED: Final = "The code expired before a workstation used it. Make a new one."
NOT_ADMITTED: Final = (
    "The other workstation did not send the clinic's keys in time. Make a new code there "
    "and enter it again."
)
PACKAGE_BROKEN: Final = (
    "What arrived from the other workstation could not be opened. Make a new code there and "
    "enter it again."
)


def _now() -> datetime:
    return datetime.now(UTC)


# --- the code ---------------------------------------------------------------------------


def _to_signs(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    count = len(data) * 8 // 5
    return "".join(ALPHABET[(number >> (5 * (count - 1 - i))) & 31] for i in range(count))


def _from_signs(text: str) -> bytes:
    number = 0
    for sign in text:
        number = number << 5 | ALPHABET.index(sign)
    return number.to_bytes(len(text) * 5 // 8, "big")


def _grouped(signs: str) -> str:
    return "-".join(signs[i : i + _GROUP] for i in range(0, len(signs), _GROUP))


@dataclass(frozen=True)
class EnrollmentCode:
    """A code as the new desk understood it."""

    relay_url: str
    invite_id: str  # 8 signs
    secret: bytes = field(repr=False)

    @property
    def invite_bytes(self) -> bytes:
        return _from_signs(self.invite_id)

    @property
    def text(self) -> str:
        return f"{self.relay_url} {_grouped(self.invite_id + _to_signs(self.secret))}"


def parse_code(text: str) -> EnrollmentCode:
    """Read a code as typed: any case, spaces or dashes anywhere in the 24 signs. Letters
    the code never uses (O, 0, I, 1) and a wrong length are refused with what to check."""
    words = text.strip().split(maxsplit=1)
    if len(words) < 2 or ("." not in words[0] and ":" not in words[0]):
        raise EnrollmentError(
            "The code starts with the sync server's address (https://…), then 24 letters and "
            "digits. Enter it as the other workstation shows it."
        )
    address = words[0] if "://" in words[0] else "https://" + words[0]
    try:
        relay_url = check_relay_url(address)
    except RelayError as exc:
        raise EnrollmentError(str(exc)) from None
    signs = "".join(ch for ch in words[1].upper() if not ch.isspace() and ch not in "-_.–—")
    confusable = sorted({ch for ch in signs if ch in "0O1I"})
    if confusable:
        raise EnrollmentError(
            "A code never contains the letters O or I, nor the digits 0 or 1 (you typed "
            f"{' and '.join(confusable)}). Look again at the other workstation's screen: "
            "it is probably another letter or digit."
        )
    if any(ch not in ALPHABET for ch in signs):
        raise EnrollmentError(
            "A code has only the letters A to Z and the digits 2 to 9 after the sync "
            "server's address. Check what you typed."
        )
    if len(signs) != _CODE_SIGNS:
        raise EnrollmentError(
            f"A code has {_CODE_SIGNS} letters and digits after the sync server's address, in six "
            f"groups of four; this one has {len(signs)}. Check what you typed."
        )
    invite = signs[: INVITE_ID_BYTES * 8 // 5]
    return EnrollmentCode(relay_url, invite, _from_signs(signs[len(invite) :]))


def proof_for(code: EnrollmentCode, device_id: str, public_key: bytes) -> bytes:
    """HMAC-SHA256(secret, invite id ‖ device id ‖ public key): the claimant knows the code."""
    message = code.invite_bytes + device_id.encode() + public_key
    return hmac.new(code.secret, message, hashlib.sha256).digest()


def check_code(invite_bytes: bytes, device_id: str, public_key: bytes) -> str:
    """Six signs both screens show, so the administrator sees the right computer joins."""
    digest = hashlib.sha256(_CHECK_LABEL + invite_bytes + device_id.encode() + public_key)
    signs = _to_signs(digest.digest()[:5])[:6]
    return f"{signs[:3]}-{signs[3:]}"


def seal_name(code: EnrollmentCode, device_id: str, public_key: bytes, name: str) -> str:
    """The new desk's name for the claim, sealed so that only a holder of the code opens
    it: AES-256-GCM under HKDF(secret, "frontdesk-enroll-name-v1"), bound to the invite,
    the device id and the public key. The sync server stores it and learns nothing."""
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = AESGCM(_name_key(code.secret)).encrypt(
        nonce, name.encode(), _name_context(code.invite_bytes, device_id, public_key)
    )
    return _b64(nonce + sealed)


def open_name(
    secret: bytes, invite_bytes: bytes, device_id: str, public_key: bytes, sealed: str
) -> str:
    """The name a claim carries; ValueError when it was not sealed with this code's
    secret for this device (altered, moved from another claim, or made without the code)."""
    data = _unb64(sealed)
    if len(data) <= _NONCE_BYTES:
        raise ValueError("too short")
    try:
        plain = AESGCM(_name_key(secret)).decrypt(
            data[:_NONCE_BYTES],
            data[_NONCE_BYTES:],
            _name_context(invite_bytes, device_id, public_key),
        )
        return clean_name(plain.decode())
    except (InvalidTag, UnicodeDecodeError):
        raise ValueError("not sealed with this code") from None


def _name_key(secret: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_NAME_INFO).derive(secret)


def _name_context(invite_bytes: bytes, device_id: str, public_key: bytes) -> bytes:
    parts = (invite_bytes, device_id.encode(), public_key)
    return b"".join(struct.pack(">H", len(p)) + p for p in parts)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object) -> bytes:
    if not isinstance(text, str):
        raise ValueError("not text")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError("not base64") from None


def _context(invite_bytes: bytes, from_device: str, to_device: str) -> bytes:
    parts = (invite_bytes, from_device.encode(), to_device.encode())
    return b"".join(struct.pack(">H", len(p)) + p for p in parts)


def _pause(seconds: float, cancel: CancelToken | None) -> None:
    """Wait between polls, answering Cancel within a tenth of a second."""
    end = time.monotonic() + seconds
    while True:
        if cancel is not None:
            cancel.raise_if_cancelled()
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(0.1, left))


# --- the first desk ---------------------------------------------------------------------


def ensure_current_key(clinic: Clinic) -> bool:
    """The key this desk's database is opened with belongs in the ring (after a key
    replacement it is new here); True when it was added just now."""
    return keyring.add_key(clinic.conn, clinic.opened.data_key)


def write_own_device(
    clinic: Clinic, public_key: bytes, *, enrolled_at: str | None = None
) -> Changes:
    """This desk's row in sync_device (journalled: every desk learns its public key and
    name through the sealed data, not from the relay)."""
    return put_device(
        clinic,
        clinic.store.device_id,
        name=workstation(clinic),
        public_key=public_key,
        enrolled_at=enrolled_at,
    )


def put_device(
    clinic: Clinic,
    device_id: str,
    *,
    name: str | None,
    public_key: bytes,
    enrolled_at: str | None = None,
) -> Changes:
    encoded = _b64(public_key)
    with clinic.store.write() as tx:
        current = tx.current("sync_device", device_id, ("name", "public_key"))
        if current is None:
            tx.insert(
                "sync_device",
                {
                    "id": device_id,
                    "name": name or "",
                    "public_key": encoded,
                    "enrolled_at": enrolled_at or utc_now(),
                    "revoked_at": None,
                },
            )
        else:
            values: dict[str, Any] = {"public_key": encoded}
            if name:
                values["name"] = name
            tx.update("sync_device", device_id, values)
    return tx.changes


def start_space(clinic: Clinic, relay_url: str, *, registration_key: str = "") -> Changes:
    """Connect this clinic to a relay as its first workstation (administrators).

    The space's id is the clinic id (a random UUID, no patient data). `registration_key`
    is the relay's, when its administrator requires one to open a new space."""
    require(clinic, "sync.manage")
    url = check_relay_url(relay_url)
    if state.read_setup(clinic.conn) is not None:
        raise EnrollmentError(
            "This workstation is already connected to a sync server. Disconnect it first to "
            "use another one."
        )
    private_key, public_key = keyring.new_device_key()
    headers = {"X-Relay-Registration": registration_key} if registration_key else None
    with RelaySession(url) as session:
        try:
            answer = session.call(
                "POST",
                "/v1/spaces",
                {"space_id": clinic.clinic_id, "device_id": clinic.store.device_id},
                auth=False,
                headers=headers,
            )
        except RelayError as exc:
            raise _space_refusal(exc) from None
    token = require_text(require_mapping(answer), "token")
    clinic.conn.execute("BEGIN IMMEDIATE")
    try:
        state.create_setup(
            clinic.conn,
            relay_url=url,
            space_id=clinic.clinic_id,
            device_token=token,
            private_key=private_key,
        )
        ensure_current_key(clinic)
        clinic.conn.execute("COMMIT")
    except BaseException:
        clinic.conn.execute("ROLLBACK")
        raise
    return write_own_device(clinic, public_key)


def _space_refusal(exc: RelayError) -> Exception:
    if exc.status == 409:
        return EnrollmentError(
            "This clinic is already connected to that sync server. Add this workstation with an "
            "enrollment code made on a workstation that is already connected."
        )
    if exc.status in (401, 403):
        return EnrollmentError(
            "The sync server asks for a registration key to connect a new clinic. Ask its "
            "administrator for it."
        )
    return exc


# --- adding a workstation: the desk that is already connected ---------------------------


@dataclass(frozen=True)
class Invite:
    """A code waiting to be used. Kept in memory only: the secret is never stored."""

    code: str  # what to show and type: relay address, then six groups of four
    qr: tuple[tuple[bool, ...], ...]  # the same text as a QR picture (rows, True = dark)
    expires_at: datetime  # UTC, at most 15 minutes away
    invite_id: str
    secret: bytes = field(repr=False)
    deadline: float = field(repr=False, default=0.0)  # time.monotonic() at expiry

    @property
    def invite_bytes(self) -> bytes:
        return _from_signs(self.invite_id)


@dataclass(frozen=True)
class Claim:
    """A workstation that used the code and proved it knew all of it."""

    device_id: str
    public_key: bytes
    check_code: str  # the new workstation shows the same six signs
    name: str = ""  # what the new workstation calls itself ("" when it did not say)


def create_invite(clinic: Clinic, *, seconds: int = INVITE_SECONDS) -> Invite:
    """Make a one-time code at the relay (administrators)."""
    require(clinic, "sync.manage")
    seconds = max(60, min(seconds, INVITE_SECONDS))
    invite_bytes = secrets.token_bytes(INVITE_ID_BYTES)
    secret = secrets.token_bytes(SECRET_BYTES)
    invite_id = _to_signs(invite_bytes)
    setup = state.read_setup(clinic.conn)
    started = time.monotonic()
    issued = _now()
    with session_for(clinic) as session:
        session.call("POST", "/v1/invites", {"invite_id": invite_id, "expires_in": seconds})
    assert setup is not None  # session_for refused otherwise
    code = EnrollmentCode(setup.relay_url, invite_id, secret)
    return Invite(
        code=code.text,
        qr=qr_matrix(code.text),
        expires_at=(issued + timedelta(seconds=seconds)).replace(microsecond=0),
        invite_id=invite_id,
        secret=secret,
        deadline=started + seconds,
    )


def wait_for_claim(
    clinic: Clinic,
    invite: Invite,
    *,
    cancel: CancelToken | None = None,
    progress: Progress = no_progress,
    poll_seconds: float = POLL_SECONDS,
) -> Claim:
    """Wait until a workstation uses the code; check its proof.

    A claim whose proof fails (someone with the invite id but not the secret, or the
    relay itself) gets nothing, and the device the relay made for it is removed at once.
    """
    with session_for(clinic) as session:
        while True:
            progress(0, 0, "Waiting for the new workstation to enter the code")
            try:
                answer = session.call("GET", f"/v1/invites/{invite.invite_id}")
            except RelayError as exc:
                if exc.status in (404, 410):
                    raise EnrollmentError(EXPIRED) from None
                raise
            found = require_mapping(answer)
            if found.get("state") == "claimed":
                return _checked_claim(session, invite, found)
            if time.monotonic() >= invite.deadline:
                raise EnrollmentError(EXPIRED)
            _pause(poll_seconds, cancel)


def _checked_claim(session: RelaySession, invite: Invite, found: Mapping[str, Any]) -> Claim:
    device_id = found.get("device_id")
    if not isinstance(device_id, str) or not device_id:
        raise EnrollmentError(PROOF_FAILED)
    code = EnrollmentCode(session.url, invite.invite_id, invite.secret)
    name = ""
    try:
        public_key = _unb64(found.get("public_key"))
        proof = _unb64(found.get("proof"))
        valid = len(public_key) == 32 and hmac.compare_digest(
            proof, proof_for(code, device_id, public_key)
        )
        sealed_name = found.get("sealed_name")
        if valid and sealed_name is not None:
            # Only the code's holder can seal a name that opens: one that does not was
            # altered on the way, so the whole claim is suspect.
            name = open_name(invite.secret, invite.invite_bytes, device_id, public_key, sealed_name)
    except ValueError:
        valid = False
    if not valid:
        # It holds a token but no key; if the revoke does not go through now, it can
        # read only ciphertext until an administrator removes it (Settings ▸ Sync).
        with contextlib.suppress(RelayError):
            session.call("POST", f"/v1/devices/{device_id}/revoke")
        raise EnrollmentError(PROOF_FAILED)
    return Claim(
        device_id, public_key, check_code(invite.invite_bytes, device_id, public_key), name
    )


def admit(clinic: Clinic, invite: Invite, claim: Claim) -> Changes:
    """Seal the clinic's keys and key file to the new workstation and leave them at the
    relay (administrators); record the workstation in sync_device."""
    require(clinic, "sync.manage")
    setup = state.read_setup(clinic.conn)
    if setup is None:
        raise EnrollmentError("This workstation is not connected to a sync server.")
    with session_for(clinic) as session:
        # A replaced key reaches the desks already enrolled first, so the ring sent to
        # the new one is the ring everybody seals with.
        share_current_key(clinic, session)
    contents = {
        "clinic_id": clinic.clinic_id,
        "clinic_name": clinic.settings.name,
        "relay_url": setup.relay_url,
        "keys": keyring.ring_to_json(keyring.ring(clinic.conn)),
        "key_file": _b64(clinic.opened.paths.key_file.read_bytes()),
    }
    package = seal_package(invite, claim, contents, from_device=clinic.store.device_id)
    with session_for(clinic) as session:
        session.call("PUT", f"/v1/invites/{invite.invite_id}/package", {"package": package})
    return put_device(
        clinic,
        claim.device_id,
        name=claim.name or None,
        public_key=claim.public_key,
        enrolled_at=utc_now(),
    )


def seal_package(
    invite: Invite, claim: Claim, contents: Mapping[str, Any], *, from_device: str
) -> str:
    """The package text for the relay: `contents` sealed to the claimant's public key
    under a key only the code's holder can derive, bound to the invite and both desks."""
    plaintext = json.dumps(
        {**contents, "format": _PACKAGE_FORMAT, "from_device": from_device}, sort_keys=True
    ).encode()
    sealed = keyring.seal_to(
        claim.public_key,
        plaintext,
        salt=invite.secret,
        info=_ENROLL_INFO + invite.invite_bytes,
        associated=_context(invite.invite_bytes, from_device, claim.device_id),
    )
    outer = {
        "format": _PACKAGE_FORMAT,
        "from_device": from_device,
        "sealed": keyring.to_text(sealed),
    }
    return _b64(json.dumps(outer).encode())  # the relay takes base64 text only


# --- adding a workstation: the new desk ---------------------------------------------------


@dataclass(frozen=True)
class PendingJoin:
    """A claimed code: this new desk's identity, waiting for the clinic's keys."""

    code: EnrollmentCode
    device_id: str
    space_id: str
    public_key: bytes
    check_code: str
    private_key: bytes = field(repr=False)
    device_token: str = field(repr=False)
    claimed_at: float = field(repr=False, default=0.0)  # time.monotonic()
    name: str = ""  # as the admitting desk is told it


@dataclass(frozen=True)
class JoinedClinic:
    """What the new desk received: everything to make its clinic from a snapshot."""

    clinic_id: str
    clinic_name: str
    relay_url: str
    device_id: str  # this new desk's, as the relay knows it: the database's device id
    public_key: bytes
    from_device: str
    keys: tuple[RingKey, ...] = field(repr=False)
    key_file: bytes = field(repr=False)  # clinic.key of the desk that admitted this one
    private_key: bytes = field(repr=False)
    device_token: str = field(repr=False)

    @property
    def key_id(self) -> str:
        """The id of the key the key file unlocks (the passphrase opens it here too)."""
        return str(json.loads(self.key_file)["key_id"])

    @property
    def data_key(self) -> bytes:
        """The data key the key file wraps: the one the new database is opened with."""
        return keyring.keys_by_id(self.keys)[self.key_id]

    def keys_by_id(self) -> dict[str, bytes]:
        return keyring.keys_by_id(self.keys)


def claim(code: EnrollmentCode | str, *, name: str | None = None) -> PendingJoin:
    """Use a code from the new workstation: a new device id and key pair, the proof, and
    this computer's name sealed for the admitting desk ("FRONT-DESK-2 (1a2b3c4d) wants
    to join"; by default the name the audit log will give it)."""
    parsed = parse_code(code) if isinstance(code, str) else code
    private_key, public_key = keyring.new_device_key()
    device_id = str(uuid.uuid4())
    own_name = clean_name(name if name is not None else computer_name(device_id))
    body = {
        "device_id": device_id,
        "public_key": _b64(public_key),
        "proof": _b64(proof_for(parsed, device_id, public_key)),
    }
    if own_name:
        body["sealed_name"] = seal_name(parsed, device_id, public_key, own_name)
    with RelaySession(parsed.relay_url) as session:
        try:
            answer = session.call("POST", f"/v1/invites/{parsed.invite_id}/claim", body, auth=False)
        except RelayError as exc:
            if exc.status in (400, 404, 409, 410, 422):
                raise EnrollmentError(CODE_REFUSED) from None
            raise
    found = require_mapping(answer)
    return PendingJoin(
        code=parsed,
        device_id=device_id,
        space_id=require_text(found, "space_id"),
        public_key=public_key,
        check_code=check_code(parsed.invite_bytes, device_id, public_key),
        private_key=private_key,
        device_token=require_text(found, "token"),
        claimed_at=time.monotonic(),
        name=own_name,
    )


def wait_for_package(
    pending: PendingJoin,
    *,
    cancel: CancelToken | None = None,
    progress: Progress = no_progress,
    poll_seconds: float = POLL_SECONDS,
    timeout_seconds: float = INVITE_SECONDS + 60,
) -> JoinedClinic:
    """Wait for the existing desk to admit this one, then open what it sent."""
    with RelaySession(pending.code.relay_url, pending.device_token) as session:
        while True:
            progress(0, 0, "Waiting for the other workstation to send the clinic's keys")
            answer = session.call(
                "GET", f"/v1/invites/{pending.code.invite_id}/package", absent_ok=True
            )
            if answer is not None:
                return open_package(pending, require_text(require_mapping(answer), "package"))
            if time.monotonic() - pending.claimed_at >= timeout_seconds:
                raise EnrollmentError(NOT_ADMITTED)
            _pause(poll_seconds, cancel)


JOIN_WAITING: Final = "Waiting for the other workstation to confirm…"
JOIN_COPYING: Final = "Copying the clinic's data"


def join_clinic(
    pending: PendingJoin,
    home: Path,
    *,
    cancel: CancelToken | None = None,
    progress: Progress = no_progress,
    poll_seconds: float = POLL_SECONDS,
) -> Clinic:
    """The new workstation's whole join after its claim: wait for the other desk to let
    it in, then make its clinic in `home` from the sync server's newest snapshot. The
    progress words are JOIN_WAITING while it waits, then JOIN_COPYING with bytes done
    and total. Cancelled or failed, nothing is left in `home` (it can join again)."""
    from app.sync.snapshot import join_from_snapshot  # it imports this module

    joined = wait_for_package(
        pending,
        cancel=cancel,
        progress=lambda _d, _t, _w: progress(0, 0, JOIN_WAITING),
        poll_seconds=poll_seconds,
    )
    progress(0, 0, JOIN_COPYING)
    return join_from_snapshot(
        joined,
        home,
        cancel=cancel,
        progress=lambda done, total, _w: progress(done, total, JOIN_COPYING),
    )


def open_package(pending: PendingJoin, package: str) -> JoinedClinic:
    """Open and check the package; EnrollmentError in words for anything wrong with it."""
    try:
        outer = json.loads(_unb64(package))
        from_device = str(outer["from_device"])
        sealed = keyring.from_text(outer["sealed"])
        plaintext = keyring.open_sealed(
            sealed,
            pending.private_key,
            salt=pending.code.secret,
            info=_ENROLL_INFO + pending.code.invite_bytes,
            associated=_context(pending.code.invite_bytes, from_device, pending.device_id),
        )
        inner = json.loads(plaintext)
        if inner.get("format") != _PACKAGE_FORMAT or inner.get("from_device") != from_device:
            raise KeyPackageError("not this format")
        ring = keyring.ring_from_json(inner["keys"])
        key_file = base64.b64decode(str(inner["key_file"]), validate=True)
        joined = JoinedClinic(
            clinic_id=str(inner["clinic_id"]),
            clinic_name=str(inner["clinic_name"]),
            relay_url=check_relay_url(str(inner["relay_url"])),
            device_id=pending.device_id,
            public_key=pending.public_key,
            from_device=from_device,
            keys=tuple(ring),
            key_file=key_file,
            private_key=pending.private_key,
            device_token=pending.device_token,
        )
        key_file_facts = json.loads(key_file)
        if joined.clinic_id != pending.space_id or key_file_facts.get("clinic_id") != (
            joined.clinic_id
        ):
            raise KeyPackageError("another clinic")
        joined.data_key  # noqa: B018 - the key file's key must be in the ring
    except (ValueError, KeyError, TypeError, KeyPackageError, RelayError, binascii.Error):
        raise EnrollmentError(PACKAGE_BROKEN) from None
    return joined


# --- after the new desk has its database --------------------------------------------------


def install_key_file(joined: JoinedClinic, home: Path) -> None:
    """Put the clinic's key file in the new desk's data folder (the same passphrase and
    Emergency Kit open it as on the other desks) and its key in this computer's keyring.

    The database that goes with it is made from a snapshot by the sync engine; the
    file's database salt is set to that database's by `match_key_file`."""
    home.mkdir(parents=True, exist_ok=True)
    target = home / "clinic.key"
    if target.exists() or (home / "clinic.db").exists():
        raise EnrollmentError("A clinic already exists in this data folder; it was left untouched.")
    target.write_bytes(joined.key_file)
    try:
        keys.read_key_file(target)
    except KeyFileError:
        target.unlink(missing_ok=True)
        raise EnrollmentError(PACKAGE_BROKEN) from None
    keyring_store.save_key(joined.clinic_id, joined.data_key)


def match_key_file(home: Path, database_salt: str) -> None:
    """Point the key file at the database made here (its salt is the first bytes of the
    file, which differ from the admitting desk's database)."""
    path = home / "clinic.key"
    current = keys.read_key_file(path)
    if current.database_salt != database_salt:
        keys.write_key_file(
            keys.KeyFile(current.clinic_id, current.key_id, database_salt, current.slots), path
        )


def record_join(clinic: Clinic, joined: JoinedClinic, *, cursor: int = 0) -> Changes:
    """This desk's sync records once its database exists: the relay link with its token
    and private key, the key ring as received, and its own sync_device row. `cursor` is
    the relay position the snapshot it started from covers."""
    if clinic.clinic_id != joined.clinic_id or clinic.store.device_id != joined.device_id:
        raise EnrollmentError(
            "The new database does not belong to the workstation that used the code."
        )
    clinic.conn.execute("BEGIN IMMEDIATE")
    try:
        state.create_setup(
            clinic.conn,
            relay_url=joined.relay_url,
            space_id=joined.clinic_id,
            device_token=joined.device_token,
            private_key=joined.private_key,
            cursor=cursor,
        )
        clinic.conn.execute("DELETE FROM local_sync_key")
        keyring.add_keys(clinic.conn, joined.keys)
        clinic.conn.execute("COMMIT")
    except BaseException:
        clinic.conn.execute("ROLLBACK")
        raise
    return write_own_device(clinic, joined.public_key)
