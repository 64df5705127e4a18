"""People's accounts: adding people, roles, passwords, and signing in and out.

Every person has their own account (45 CFR 164.312(a)(2)(i)), proves who they are with
their own password (164.312(d)), and is never deleted, only disabled: the audit log and
the records they made keep naming them. Sign-in never says whether the name or the
password was wrong, takes the same time for a name that does not exist, and makes this
desk wait longer after each run of wrong passwords (app/security/signin_throttle.py).

A clinic whose people have no password yet (made before passwords existed, or from the
command line) asks for its first administrator's password at the desk before anyone
signs in (`first_password_for`, `set_first_password`); whoever holds the clinic's
unlocked database may do that once, and it is audited.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from app.audit import actions
from app.audit import log as audit
from app.audit.log import restore_anchor
from app.clinic import Clinic
from app.errors import InvalidInputError, PermissionDeniedError, RecordNotFoundError, SignInError
from app.security import passwords, signin_throttle
from app.security.permissions import ADMINISTRATOR, ROLES, require
from app.store.changes import Changes, Created
from app.store.writer import utc_now
from app.users import User, check_user_name, get_user, users

NO_MATCH = "That name and password do not match."
WAIT_FIRST = "Too many tries. Please wait before trying again."


@contextmanager
def _local_write(clinic: Clinic) -> Iterator[None]:
    """A transaction for this desk's own rows (throttle, audit) with no domain rows."""
    conn = clinic.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        restore_anchor(clinic)  # the sealed head follows the entries that really stayed
        raise


def _context(clinic: Clinic, name: str) -> list[str]:
    """Words a guesser at this clinic would try: the person's and the clinic's names."""
    return ["frontdesk", name, clinic.settings.name]


def _person(clinic: Clinic, user_id: str) -> User:
    user = get_user(clinic, user_id)
    if user is None:
        raise RecordNotFoundError("That person is not in Frontdesk.")
    return user


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidInputError(f"Choose a role: {', '.join(ROLES)}.")


def _other_active_administrators(clinic: Clinic, user_id: str) -> int:
    row = clinic.conn.execute(
        "SELECT COUNT(*) FROM app_user WHERE role = ? AND active = 1 AND id <> ?",
        (ADMINISTRATOR, user_id),
    ).fetchone()
    return int(row[0])


def _password_values(password: str, *, temporary: bool) -> dict[str, object]:
    return {
        "password_hash": passwords.hash_password(password),
        "password_changed_at": utc_now(),
        "must_change_password": 1 if temporary else 0,
    }


# --- managing people (administrators) ------------------------------------------------


def add_person(clinic: Clinic, name: str, role: str, temporary_password: str) -> Created:
    """A new person with a role and a first password they change when they first sign in."""
    require(clinic, "users.manage")
    name = check_user_name(name)
    _check_role(role)
    passwords.check_password(temporary_password, _context(clinic, name))
    with clinic.store.write() as tx:
        user_id = tx.insert(
            "app_user",
            {
                "name": name,
                "role": role,
                "active": 1,
                "created_at": utc_now(),
                **_password_values(temporary_password, temporary=True),
            },
        )
        audit.record(
            clinic, actions.USER_CHANGE, target=user_id, detail={"change": "added", "role": role}
        )
    return Created(user_id, tx.changes)


def change_role(clinic: Clinic, user_id: str, role: str) -> Changes:
    require(clinic, "users.manage")
    _check_role(role)
    person = _person(clinic, user_id)
    if person.role == role:
        return Changes()
    if person.role == ADMINISTRATOR and person.active:
        _keep_an_administrator(clinic, user_id, "another role")
    with clinic.store.write() as tx:
        tx.update("app_user", user_id, {"role": role})
        audit.record(
            clinic,
            actions.USER_CHANGE,
            target=user_id,
            detail={"change": "role", "from": person.role, "to": role},
        )
    return tx.changes


def set_active(clinic: Clinic, user_id: str, active: bool) -> Changes:
    """Disable (or enable again) a person; nobody is deleted."""
    require(clinic, "users.manage")
    person = _person(clinic, user_id)
    if person.active == active:
        return Changes()
    if not active and person.role == ADMINISTRATOR:
        _keep_an_administrator(clinic, user_id, "disabled")
    if not active and user_id == clinic.acting_user_id:
        raise InvalidInputError("You cannot disable your own account while you use it.")
    with clinic.store.write() as tx:
        tx.update("app_user", user_id, {"active": 1 if active else 0})
        audit.record(
            clinic,
            actions.USER_CHANGE,
            target=user_id,
            detail={"change": "enabled" if active else "disabled"},
        )
    return tx.changes


def _keep_an_administrator(clinic: Clinic, user_id: str, what: str) -> None:
    if _other_active_administrators(clinic, user_id) == 0:
        raise InvalidInputError(
            f"This is the clinic's only administrator, so the account cannot be {what}. "
            "Make someone else an administrator first."
            if what == "disabled"
            else "This is the clinic's only administrator, so the role cannot change to "
            "another one. Make someone else an administrator first."
        )


def reset_password(clinic: Clinic, user_id: str, temporary_password: str) -> Changes:
    """An administrator gives a person a temporary password (they choose their own at
    their next sign-in); any wait from wrong passwords on this desk ends."""
    require(clinic, "users.manage")
    person = _person(clinic, user_id)
    passwords.check_password(temporary_password, _context(clinic, person.name))
    with clinic.store.write() as tx:
        tx.update("app_user", user_id, _password_values(temporary_password, temporary=True))
        signin_throttle.reset(clinic.conn, (signin_throttle.user_key(user_id),))
        audit.record(clinic, actions.PASSWORD_RESET, target=user_id, detail={"by": "administrator"})
    return tx.changes


def change_own_password(clinic: Clinic, old_password: str, new_password: str) -> Changes:
    """The signed-in person chooses a new password; the old one proves it is them."""
    user_id = clinic.acting_user_id
    person = _person(clinic, user_id) if user_id else None
    if person is None or not person.active:
        raise PermissionDeniedError("Sign in first to change your password.")
    stored = _stored_hash(clinic, user_id)
    if not passwords.verify_password(stored, old_password):
        raise InvalidInputError("Your current password is not right. Nothing was changed.")
    if new_password == old_password:
        raise InvalidInputError("Choose a password different from the current one.")
    passwords.check_password(new_password, _context(clinic, person.name))
    with clinic.store.write() as tx:
        tx.update("app_user", user_id, _password_values(new_password, temporary=False))
        audit.record(clinic, actions.USER_CHANGE, target=user_id, detail={"change": "password"})
    return tx.changes


def _stored_hash(clinic: Clinic, user_id: str) -> str:
    row = clinic.conn.execute(
        "SELECT password_hash FROM app_user WHERE id = ?", (user_id,)
    ).fetchone()
    return str(row[0]) if row else ""


# --- the first password of a clinic that has none ------------------------------------


def anyone_can_sign_in(clinic: Clinic) -> bool:
    row = clinic.conn.execute(
        "SELECT 1 FROM app_user WHERE active = 1 AND password_hash <> '' LIMIT 1"
    ).fetchone()
    return row is not None


def first_password_for(clinic: Clinic) -> User | None:
    """The administrator who must set a password before anyone can sign in: the first
    active administrator of a clinic where nobody has a password; None otherwise (also
    when there is nobody at all: then `set_first_password` names one)."""
    if anyone_can_sign_in(clinic):
        return None
    admins = [u for u in users(clinic) if u.active and u.role == ADMINISTRATOR]
    return admins[0] if admins else None


def set_first_password(clinic: Clinic, password: str, *, name: str = "") -> User:
    """Give the clinic's first administrator a password (adding them, named `name`, when
    the clinic has no administrator) and sign them in. Refused once anyone can sign in:
    from then on only an administrator sets passwords."""
    if anyone_can_sign_in(clinic):
        raise PermissionDeniedError(
            "People here already sign in with their own passwords. Ask an administrator."
        )
    admin = first_password_for(clinic)
    person_name = admin.name if admin else check_user_name(name)
    passwords.check_password(password, _context(clinic, person_name))
    with clinic.store.write() as tx:
        values = _password_values(password, temporary=False)
        if admin is None:
            user_id = tx.insert(
                "app_user",
                {"name": person_name, "role": ADMINISTRATOR, "active": 1, "created_at": utc_now()}
                | values,
            )
        else:
            user_id = admin.id
            tx.update("app_user", user_id, values)
        audit.record(
            clinic,
            actions.PASSWORD_RESET,
            user_id=user_id,
            target=user_id,
            detail={"by": "first password", "added": admin is None},
        )
        audit.record(clinic, actions.SIGN_IN, user_id=user_id, detail={"how": "first password"})
    clinic.acting_user_id = user_id
    return _person(clinic, user_id)


# --- signing in and out ---------------------------------------------------------------


def wait_before_sign_in(clinic: Clinic, user_id: str, now: datetime | None = None) -> float:
    """Seconds the next attempt for this name must wait at this desk (0 = go ahead)."""
    moment = now or datetime.now(UTC)
    return signin_throttle.wait_seconds(clinic.conn, signin_throttle.keys_for(user_id), moment)


def sign_in(clinic: Clinic, user_id: str, password: str, now: datetime | None = None) -> User:
    """Check the password of the person chosen and make them the one working.

    Refusals are all one message (never which part was wrong) with the wait the desk
    now imposes; each is audited, as is the sign-in. Signing in as someone else than
    the person working records that person's sign-out first.
    """
    moment = now or datetime.now(UTC)
    row = clinic.conn.execute(
        "SELECT active, password_hash FROM app_user WHERE id = ?", (user_id,)
    ).fetchone()
    known_id = user_id if row is not None else ""
    keys = signin_throttle.keys_for(known_id)
    wait = signin_throttle.wait_seconds(clinic.conn, keys, moment)
    if wait > 0:
        with _local_write(clinic):
            audit.record(
                clinic, actions.SIGN_IN_FAILED, user_id=known_id, detail={"reason": "waiting"}
            )
        raise SignInError(WAIT_FIRST, wait)
    if row is None or not row[0] or not row[1]:
        # Same work as a real check, so the time taken does not tell names apart.
        passwords.verify_password(passwords.dummy_hash(), password)
        reason = "unknown" if row is None else "disabled" if not row[0] else "no password"
        _refuse(clinic, known_id, keys, moment, reason)
    stored = str(row[1])
    if not passwords.verify_password(stored, password):
        _refuse(clinic, known_id, keys, moment, "password")
    previous = clinic.acting_user_id
    # Made before the transaction: Argon2 takes a tenth of a second, the lock should not.
    rehashed = passwords.hash_password(password) if passwords.needs_rehash(stored) else ""
    with clinic.store.write() as tx:
        if rehashed:
            tx.update("app_user", user_id, {"password_hash": rehashed})
        signin_throttle.reset(clinic.conn, keys)
        if previous and previous != user_id:
            audit.record(clinic, actions.SIGN_OUT, user_id=previous, detail={"reason": "switch"})
        audit.record(clinic, actions.SIGN_IN, user_id=user_id)
    clinic.acting_user_id = user_id
    return _person(clinic, user_id)


def _refuse(
    clinic: Clinic, user_id: str, keys: tuple[str, ...], moment: datetime, reason: str
) -> None:
    with _local_write(clinic):
        wait = signin_throttle.record_failure(clinic.conn, keys, moment)
        audit.record(clinic, actions.SIGN_IN_FAILED, user_id=user_id, detail={"reason": reason})
    raise SignInError(NO_MATCH, wait)


def sign_out(clinic: Clinic, reason: str = "signout") -> None:
    """The person working stops (switch user, quit); nobody acts until the next sign-in."""
    if not clinic.acting_user_id:
        return
    audit.record(clinic, actions.SIGN_OUT, detail={"reason": reason})
    clinic.acting_user_id = ""


def must_change_password(clinic: Clinic) -> bool:
    """Whether the person signed in holds a temporary password (asked to choose theirs)."""
    user = get_user(clinic, clinic.acting_user_id) if clinic.acting_user_id else None
    return bool(user and user.must_change_password)


def last_sign_ins(clinic: Clinic) -> dict[str, str]:
    """When each person last signed in at this desk (UTC text), from the audit log."""
    rows = clinic.conn.execute(
        "SELECT user_id, MAX(at) FROM audit_event WHERE action = ? GROUP BY user_id",
        (actions.SIGN_IN,),
    ).fetchall()
    return {str(r[0]): str(r[1]) for r in rows if r[0]}
