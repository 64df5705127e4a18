-- Frontdesk schema 8: security. Sign-in passwords on the people who use Frontdesk,
-- this desk's sign-in throttle, the hash-chained audit log and this desk's backup runs.
-- audit_event and the local_* tables belong to this workstation: never journalled,
-- never synced (app/store/writer.py leaves them out of the change journal).

-- Argon2id hash ('' = no password yet: an administrator sets a first one). Synced with
-- the person, so they sign in at any desk of the clinic.
ALTER TABLE app_user ADD COLUMN password_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE app_user ADD COLUMN password_changed_at TEXT;
-- 1 = the password was set by an administrator; the person chooses their own next time.
ALTER TABLE app_user ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0
    CHECK (must_change_password IN (0, 1));

-- Failed sign-ins on this desk, per account ('user:<id>') and for the desk as a whole
-- ('desk'): the growing delay survives a restart of the program.
CREATE TABLE local_signin_throttle (
    key             TEXT PRIMARY KEY,
    failures        INTEGER NOT NULL DEFAULT 0,
    last_failed_at  TEXT,
    wait_until      TEXT             -- UTC; no attempt is checked before this moment
) WITHOUT ROWID;

-- Every view, change, export, print and sign-in, append-only. `body` is the entry's
-- canonical JSON (the bytes the hash covers: verify never re-serialises); `hash` is
-- SHA-256(previous entry's hash || body), the first entry chaining from a value derived
-- from the clinic id. The other columns repeat fields of the body for the viewer's
-- filters (verify checks they agree).
CREATE TABLE audit_event (
    seq          INTEGER PRIMARY KEY,          -- 1, 2, 3… without gaps
    at           TEXT NOT NULL,                -- UTC, milliseconds
    user_id      TEXT NOT NULL DEFAULT '',
    workstation  TEXT NOT NULL DEFAULT '',
    action       TEXT NOT NULL,
    patient_id   TEXT NOT NULL DEFAULT '',
    body         BLOB NOT NULL,
    hash         BLOB NOT NULL
);
CREATE INDEX audit_event_at ON audit_event(at);
CREATE INDEX audit_event_user ON audit_event(user_id, at);
CREATE INDEX audit_event_action ON audit_event(action, at);
CREATE INDEX audit_event_patient ON audit_event(patient_id, at) WHERE patient_id <> '';
-- Stops a program bug from rewriting history; a person with the key and a SQLite shell
-- could drop these, which is what the hash chain and the anchored head are for.
CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

-- The backups this desk made (automatic and by hand): the Settings page shows the last
-- one and the reason when one failed; pruning keeps the newest N of the folder.
CREATE TABLE local_backup_run (
    id           TEXT PRIMARY KEY,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    trigger      TEXT NOT NULL CHECK (trigger IN ('schedule', 'manual', 'command', 'restore', 'rekey')),
    path         TEXT NOT NULL DEFAULT '',     -- the backup file (names hold no patient data)
    bytes        INTEGER,
    status       TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    message      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX local_backup_run_started ON local_backup_run(started_at);
