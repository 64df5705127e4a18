"""Typed errors of the core, each with a message a receptionist can read.

Messages never contain patient data: they name the problem and what to do, so they
are safe to show on screen and to write to logs.
"""

from __future__ import annotations


class FrontdeskError(Exception):
    """Base of every error the core raises on purpose."""


# --- opening and unlocking the clinic -------------------------------------------


class StoreError(FrontdeskError):
    """Something is wrong with the clinic database file or its key."""


class ClinicNotFoundError(StoreError):
    """There is no clinic in the data folder yet."""


class ClinicExistsError(StoreError):
    """A clinic already lives in the data folder; creating another would overwrite it."""


class WrongPassphraseError(StoreError):
    """The passphrase or recovery key does not unlock the key file."""


class KeyFileError(StoreError):
    """The key file is missing, damaged, or belongs to another database."""


class DatabaseCorruptError(StoreError):
    """The database file is damaged or truncated; it is left untouched."""


class NewerSchemaError(StoreError):
    """The database was written by a newer Frontdesk and must not be opened here."""


class MigrationError(StoreError):
    """A schema upgrade failed; the database stays at its previous version."""


class StoreWriteError(StoreError):
    """A write could not be completed (disk full, read-only folder); nothing was changed."""


class WeakPassphraseError(StoreError):
    """The chosen passphrase is too easy to guess."""


# --- bad input on entry ------------------------------------------------------------


class InvalidInputError(FrontdeskError, ValueError):
    """A value typed or imported is not valid; the message says why."""


class InvalidPhoneError(InvalidInputError):
    """Not a phone number that can be dialled."""


class InvalidEmailError(InvalidInputError):
    """Not an email address."""


class InvalidDateError(InvalidInputError):
    """Not a date, or not a plausible one (a birth date in the future, say)."""


class RecordNotFoundError(FrontdeskError, LookupError):
    """A record asked for by id does not exist."""


class EditConflictError(FrontdeskError):
    """Someone saved the same record since this copy was loaded; nothing was overwritten."""


# --- importing -----------------------------------------------------------------------


class UndoBlockedError(InvalidInputError):
    """An import cannot be undone because newer work depends on what it brought in.

    `reasons` says what, one plain sentence each; they may name patients, so they are
    for the screen only (the message itself names none).
    """

    def __init__(self, message: str, reasons: list[str]) -> None:
        super().__init__(message)
        self.reasons = reasons


class MergeError(InvalidInputError):
    """A merge-review decision cannot be made or undone (already decided, merged since)."""


# --- security: sign-in, permissions, audit, backups, research export ----------------


class SignInError(FrontdeskError):
    """The name or password was not accepted (never says which), or sign-in must wait.

    `wait_seconds` is how long this desk makes the next attempt wait (0 when it need not).
    """

    def __init__(self, message: str, wait_seconds: float = 0.0) -> None:
        super().__init__(message)
        self.wait_seconds = wait_seconds


class PermissionDeniedError(FrontdeskError):
    """The person signed in has no right to do this (the role table in docs/security.md)."""


class AuditIntegrityError(FrontdeskError):
    """The audit log's hash chain is broken: an entry was changed, removed or added."""


class BackupError(FrontdeskError):
    """A backup cannot be made, verified or restored; the message says why."""


class RekeyError(StoreError):
    """The database key could not be replaced; the clinic is left on its old key."""


class ResearchExportError(InvalidInputError):
    """A research export cannot be made as asked (no fields, nobody in the group)."""


# --- sync --------------------------------------------------------------------------------


class SyncError(FrontdeskError):
    """Sync with the other workstations could not be done; the message says why."""


class EnvelopeError(SyncError):
    """A batch from the relay was refused: altered, for another clinic or device, a
    replay, or sealed with a key this workstation does not have."""


class RelayError(SyncError):
    """The relay could not be reached or refused a request; the message says what to do.

    `status` is the HTTP status (0 when the relay was not reached) and `code` the relay's
    own error code ("" when none), so callers can tell "try later" from "refused"."""

    def __init__(self, message: str, *, status: int = 0, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class DeviceRevokedError(RelayError):
    """This workstation was removed from the clinic's sync: the relay refuses its token."""


class EnrollmentError(SyncError):
    """A workstation could not be added: wrong, expired or used code, failed proof."""


class KeyPackageError(SyncError):
    """A clinic key sealed to this workstation could not be opened or is not the one named."""
