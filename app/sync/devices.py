"""The clinic's workstations as sync knows them: listing, removing, and "this one was removed".

Two sources, joined: the relay knows which devices hold a token and when each was last
seen; the clinic's own journalled `sync_device` rows know each one's name and public
key (written by the desk that admitted it and by the desk itself, and sealed like any
other data, so no relay can rename a desk or swap its key). A removed (revoked) desk
keeps its row with `revoked_at`: its name stays readable in the list and in the audit
log, and no key is ever sealed to it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from app.clinic import Clinic
from app.errors import InvalidInputError, SyncError
from app.security.permissions import require
from app.store.changes import Changes
from app.store.database import Connection
from app.store.writer import utc_now
from app.sync import state
from app.sync.relay_api import REMOVED, RelaySession, require_mapping, session_for

UNNAMED: Final = "New workstation (not synced yet)"


@dataclass(frozen=True)
class Device:
    """One workstation of the clinic, for Settings ▸ Sync."""

    device_id: str
    name: str
    enrolled_at: str | None  # UTC text
    last_seen_at: str | None  # UTC text, from the relay (None when only known here)
    revoked_at: str | None
    this_desk: bool

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class KnownDevice:
    """A sync_device row: what this desk knows of a workstation without the relay."""

    device_id: str
    name: str
    public_key: str  # base64, "" when not known
    enrolled_at: str
    revoked_at: str | None


def known_devices(conn: Connection) -> dict[str, KnownDevice]:
    rows = conn.execute(
        "SELECT id, name, public_key, enrolled_at, revoked_at FROM sync_device ORDER BY enrolled_at"
    ).fetchall()
    return {str(r[0]): KnownDevice(str(r[0]), str(r[1]), str(r[2]), str(r[3]), r[4]) for r in rows}


def list_devices(clinic: Clinic, session: RelaySession | None = None) -> list[Device]:
    """Every workstation, this one first, then in the order they joined: the relay's
    list with the names this clinic gave them (a device only one side knows is listed
    too)."""
    known = known_devices(clinic.conn)
    if session is None:
        with session_for(clinic) as own:
            remote = _relay_devices(own)
    else:
        remote = _relay_devices(session)
    me = clinic.store.device_id
    devices: list[Device] = []
    for device_id in list(remote) + [d for d in known if d not in remote]:
        relay = remote.get(device_id, {})
        here = known.get(device_id)
        revoked = _text(relay.get("revoked_at")) or (here.revoked_at if here else None)
        devices.append(
            Device(
                device_id=device_id,
                name=(here.name if here and here.name else UNNAMED),
                enrolled_at=_text(relay.get("enrolled_at")) or (here.enrolled_at if here else None),
                last_seen_at=_text(relay.get("last_seen_at")),
                revoked_at=revoked,
                this_desk=device_id == me,
            )
        )
    devices.sort(key=lambda d: (not d.this_desk, d.enrolled_at or "", d.name, d.device_id))
    return devices


def _relay_devices(session: RelaySession) -> dict[str, dict[str, Any]]:
    answer = require_mapping(session.call("GET", "/v1/devices"))
    found: dict[str, dict[str, Any]] = {}
    for item in answer.get("devices", []):
        if isinstance(item, dict) and isinstance(item.get("device_id"), str):
            found[item["device_id"]] = item
    return found


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def revoke_device(clinic: Clinic, device_id: str) -> Changes:
    """Remove a workstation from the clinic's sync (administrators): the relay refuses
    its token from this moment, and its sync_device row is marked so no key is ever
    sealed to it again. Afterwards the clinic should replace its database key (the
    removed desk still holds the old one): the desktop offers it."""
    require(clinic, "sync.manage")
    if device_id == clinic.store.device_id:
        raise SyncError(
            "This is the workstation you are using. Remove it from another workstation, "
            "or turn sync off here."
        )
    with session_for(clinic) as session:
        session.call("POST", f"/v1/devices/{device_id}/revoke")
    with clinic.store.write() as tx:
        row = tx.current("sync_device", device_id, ("revoked_at",))
        if row is None:
            tx.insert(
                "sync_device",
                {
                    "id": device_id,
                    "name": "",
                    "public_key": "",
                    "enrolled_at": utc_now(),
                    "revoked_at": utc_now(),
                },
            )
        elif row["revoked_at"] is None:
            tx.update("sync_device", device_id, {"revoked_at": utc_now()})
    return tx.changes


NAME_MAX: Final = 60


def clean_name(text: str) -> str:
    """A workstation's name as it is kept: one line, spaces tidied, at most NAME_MAX
    signs; "" when nothing printable is left."""
    printable = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(printable.split())[:NAME_MAX]


def rename_workstation(clinic: Clinic, name: str) -> Changes:
    """Give this workstation the name the others show in their lists and in "… wants to
    join" (administrators). The name is journalled like any data, so it reaches the
    other desks sealed with the next sync round; the sync server never learns it."""
    require(clinic, "sync.manage")
    cleaned = clean_name(name)
    if not cleaned:
        raise InvalidInputError(
            "Type a name for this workstation, such as FRONT-DESK-2 or Reception left."
        )
    if len(" ".join(name.split())) > NAME_MAX:
        raise InvalidInputError(
            f"A workstation's name has at most {NAME_MAX} letters; this one has "
            f"{len(' '.join(name.split()))}. Use a shorter one."
        )
    me = clinic.store.device_id
    with clinic.store.write() as tx:
        row = tx.current("sync_device", me, ("name", "revoked_at"))
        if row is None:
            raise SyncError(
                "This workstation does not sync yet, so it has no name among the clinic's "
                "workstations. Turn on sync first."
            )
        if row["name"] != cleaned:
            tx.update("sync_device", me, {"name": cleaned})
    return tx.changes


def active_devices(conn: Connection, *, except_device: str = "") -> list[KnownDevice]:
    """The workstations keys are sealed to: not removed, public key known."""
    return [
        d
        for d in known_devices(conn).values()
        if d.revoked_at is None and d.public_key and d.device_id != except_device
    ]


def mark_removed(conn: Connection) -> None:
    """This desk learnt from the relay that it was removed: sync stops here, and the
    status bar says why (the token is refused from now on, so trying again is useless)."""
    state.update_setup(conn, {"state": "error", "last_error": REMOVED})


def removed_here(conn: Connection) -> bool:
    """Whether this desk was told it was removed (the relay refused its token)."""
    setup = state.read_setup(conn)
    return setup is not None and setup.state == "error" and setup.last_error == REMOVED
