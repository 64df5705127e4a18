-- Frontdesk schema 9: sync between the clinic's workstations through an end-to-end
-- encrypted relay (app/sync/). The local_sync* tables belong to this workstation: never
-- journalled, never synced, and cleared when a new workstation starts from another's
-- snapshot. sync_device and sync_resolution are clinic data, journalled and synced.

-- This desk's link to the relay: one row while sync is set up, none when it is off.
CREATE TABLE local_sync (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    relay_url        TEXT NOT NULL,
    space_id         TEXT NOT NULL,               -- the relay's name for the clinic: its clinic id
    device_token     TEXT NOT NULL DEFAULT '',    -- bearer token (the relay keeps only its hash)
    private_key      BLOB,                        -- this desk's X25519 private key, raw 32 bytes
    enabled          INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    cursor           INTEGER NOT NULL DEFAULT 0,  -- the relay position applied up to
    pushed_seq       INTEGER NOT NULL DEFAULT 0,  -- change.seq of the last own change sealed
    batch_seq        INTEGER NOT NULL DEFAULT 0,  -- the number of the last batch sealed here
    state            TEXT NOT NULL DEFAULT 'pending' CHECK (state IN
                       ('synced', 'pending', 'syncing', 'offline', 'error', 'update_needed')),
    last_error       TEXT NOT NULL DEFAULT '',    -- plain words for the status bar, no PHI
    offline_since    TEXT,                        -- UTC; the first failed contact of a run of them
    last_synced_at   TEXT,                        -- UTC; the last sync that left nothing pending
    last_attempt_at  TEXT,
    digest_cursor    INTEGER,                     -- the cursor of the last digest compared
    digest_status    TEXT NOT NULL DEFAULT '' CHECK (digest_status IN
                       ('', 'recorded', 'match', 'mismatch')),
    digest_key_id    TEXT NOT NULL DEFAULT '',    -- the data key the running digest is keyed by
    digest_seq       INTEGER NOT NULL DEFAULT 0,  -- change.seq the running digest covers
    digest_sum       BLOB,                        -- running keyed set-hash of the change rows
    bootstrap_needed INTEGER NOT NULL DEFAULT 0 CHECK (bootstrap_needed IN (0, 1)),
    snapshot_cursor  INTEGER,                     -- the relay position of the last snapshot sent
    snapshot_at      TEXT,
    created_at       TEXT NOT NULL
);

-- The last batch number applied from each other workstation (check_sequence).
CREATE TABLE local_sync_peer (
    device_id  TEXT PRIMARY KEY,
    last_seq   INTEGER NOT NULL
) WITHOUT ROWID;

-- The key ring: every clinic data key this desk holds, by key id (its fingerprint). Old
-- keys stay after a key change so envelopes sealed before it still open.
CREATE TABLE local_sync_key (
    key_id    TEXT PRIMARY KEY,
    data_key  BLOB NOT NULL,
    added_at  TEXT NOT NULL
) WITHOUT ROWID;

-- A batch sealed and not yet acknowledged by the relay: after a crash it is sent again
-- as it is (same batch id, same number), which the relay recognises.
CREATE TABLE local_sync_outgoing (
    seq         INTEGER PRIMARY KEY,      -- the batch number
    batch_id    TEXT NOT NULL UNIQUE,
    after_seq   INTEGER NOT NULL,         -- change.seq it starts after
    upto_seq    INTEGER NOT NULL,         -- change.seq of the last change it carries
    envelope    BLOB NOT NULL,
    created_at  TEXT NOT NULL
);

-- Batches from a newer Frontdesk (a schema this desk does not know yet): kept, opened,
-- until this desk is updated, then applied. Nothing is lost.
CREATE TABLE local_sync_parked (
    cursor          INTEGER PRIMARY KEY,  -- the relay position it came at
    device_id       TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    schema_version  INTEGER NOT NULL,
    payload         BLOB NOT NULL,        -- the opened (still compressed) payload
    parked_at       TEXT NOT NULL
);

-- What merging found that a person should see (derived here from the change rows, the
-- same on every desk): an edit made after the record was deleted elsewhere, a record
-- whose parent is gone, a record clashing with another on a value that must be unique.
-- The change rows themselves stay in `change`: nothing is lost.
CREATE TABLE local_sync_conflict (
    key        TEXT PRIMARY KEY,          -- stable across desks: what sync_resolution names
    kind       TEXT NOT NULL CHECK (kind IN ('edited_after_delete', 'parent_missing', 'duplicate')),
    tbl        TEXT NOT NULL,
    row_id     TEXT NOT NULL,
    col        TEXT NOT NULL DEFAULT '',  -- the edited column ('*' for a whole record)
    hlc        TEXT NOT NULL DEFAULT '',
    device_id  TEXT NOT NULL DEFAULT '',
    detail     TEXT NOT NULL DEFAULT '{}', -- JSON: the parent or the clashing record (ids only)
    found_at   TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX local_sync_conflict_row ON local_sync_conflict(tbl, row_id);

-- The clinic's workstations, so every desk knows the others' public keys authentically
-- (through the sealed, journalled data rather than the relay's word).
CREATE TABLE sync_device (
    id           TEXT PRIMARY KEY,        -- the workstation's device id
    name         TEXT NOT NULL DEFAULT '',
    public_key   TEXT NOT NULL DEFAULT '', -- X25519, base64 (text: change values are JSON)
    enrolled_at  TEXT NOT NULL,
    revoked_at   TEXT
);

-- A manager's decision on a conflict, synced so every desk stops showing it.
CREATE TABLE sync_resolution (
    id            TEXT PRIMARY KEY,
    conflict_key  TEXT NOT NULL,          -- local_sync_conflict.key
    resolution    TEXT NOT NULL CHECK (resolution IN ('dismissed', 'restored')),
    resolved_by   TEXT NOT NULL DEFAULT '',
    resolved_at   TEXT NOT NULL
);
CREATE INDEX sync_resolution_conflict ON sync_resolution(conflict_key);
