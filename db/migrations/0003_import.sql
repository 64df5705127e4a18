-- Frontdesk schema 3: bringing the clinic's patients in from its EMR.
-- Where each imported row came from (so a second import of the same export changes
-- nothing), allergies and insurance for targeting and billing, the merge-review queue,
-- and the local record of every import run so it can be undone.

-- Organisations the patients deal with: insurers and other payers, the practices
-- and hospitals an export names. kind: payer, provider, other.
CREATE TABLE organization (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL DEFAULT 'other' CHECK (kind IN ('payer', 'provider', 'other')),
    phone        TEXT NOT NULL DEFAULT '',
    line1        TEXT NOT NULL DEFAULT '',
    city         TEXT NOT NULL DEFAULT '',
    region       TEXT NOT NULL DEFAULT '',
    postal_code  TEXT NOT NULL DEFAULT '',
    country      TEXT NOT NULL DEFAULT '',
    active       INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
);

-- Who pays for a patient's care (an insurance policy, a government programme).
CREATE TABLE coverage (
    id            TEXT PRIMARY KEY,
    patient_id    TEXT NOT NULL REFERENCES patient(id) ON DELETE CASCADE,
    payer_id      TEXT REFERENCES organization(id),
    payer_name    TEXT NOT NULL DEFAULT '',   -- as the export named it, when not linked
    member_id     TEXT NOT NULL DEFAULT '',
    plan          TEXT NOT NULL DEFAULT '',
    relationship  TEXT NOT NULL DEFAULT '',   -- self, spouse, child, other
    status        TEXT NOT NULL DEFAULT '',   -- active, cancelled... as exported
    start_on      TEXT,
    end_on        TEXT
);
CREATE INDEX coverage_patient ON coverage(patient_id);

-- Coded allergies and intolerances (kept for education targeting and alerts).
CREATE TABLE allergy (
    id               TEXT PRIMARY KEY,
    patient_id       TEXT NOT NULL REFERENCES patient(id) ON DELETE CASCADE,
    system           TEXT NOT NULL DEFAULT '',
    code             TEXT NOT NULL DEFAULT '',
    display          TEXT NOT NULL DEFAULT '',
    category         TEXT NOT NULL DEFAULT '',   -- food, medication, environment, biologic
    kind             TEXT NOT NULL DEFAULT '',   -- allergy, intolerance
    criticality      TEXT NOT NULL DEFAULT '',
    clinical_status  TEXT NOT NULL DEFAULT '',
    reactions        TEXT NOT NULL DEFAULT '',
    onset            TEXT,
    abated           TEXT
);
CREATE INDEX allergy_patient ON allergy(patient_id);
CREATE INDEX allergy_code ON allergy(system, code);

ALTER TABLE condition ADD COLUMN clinical_status TEXT NOT NULL DEFAULT '';

-- Where an imported row came from: the source system and the record's identifier in
-- it (an MRN system and value, or a FHIR server and resource id). A re-import finds
-- the row here; `fingerprint` tells whether the source changed since.
CREATE TABLE source_record (
    id           TEXT PRIMARY KEY,
    tbl          TEXT NOT NULL,
    system       TEXT NOT NULL,
    value        TEXT NOT NULL,
    row_id       TEXT NOT NULL,
    fingerprint  TEXT NOT NULL DEFAULT '',
    UNIQUE (tbl, system, value)
);
CREATE INDEX source_record_row ON source_record(tbl, row_id);

-- Imported patients that look like someone already here without sharing an
-- identifier. Nothing is merged until a person decides; `moved` lists the rows a
-- merge moved (JSON), so the merge can be undone.
CREATE TABLE merge_review (
    id            TEXT PRIMARY KEY,
    patient_id    TEXT NOT NULL REFERENCES patient(id) ON DELETE CASCADE,   -- the imported one
    candidate_id  TEXT NOT NULL REFERENCES patient(id) ON DELETE CASCADE,   -- who it may be
    reason        TEXT NOT NULL,
    batch_id      TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'merged', 'kept-apart')),
    created_at    TEXT NOT NULL,
    decided_at    TEXT,
    decided_by    TEXT NOT NULL DEFAULT '',
    moved         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX merge_review_status ON merge_review(status, created_at);
CREATE INDEX merge_review_patient ON merge_review(patient_id);
CREATE INDEX merge_review_candidate ON merge_review(candidate_id);

-- Every import run on this workstation (local: not journalled, never synced). The
-- rows it created are the change rows first_seq..last_seq; what it changed keeps
-- its earlier values in import_undo.
CREATE TABLE import_batch (
    id           TEXT PRIMARY KEY,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    status       TEXT NOT NULL CHECK (status IN ('done', 'undone')),
    created_by   TEXT NOT NULL DEFAULT '',
    first_seq    INTEGER,
    last_seq     INTEGER,
    summary      TEXT NOT NULL DEFAULT '{}',   -- JSON counts per type, never patient data
    undone_at    TEXT,
    undone_by    TEXT NOT NULL DEFAULT ''
);

CREATE TABLE import_file (
    id        TEXT PRIMARY KEY,
    batch_id  TEXT NOT NULL REFERENCES import_batch(id) ON DELETE CASCADE,
    name      TEXT NOT NULL,
    sha256    TEXT NOT NULL,
    size      INTEGER NOT NULL,
    format    TEXT NOT NULL
);
CREATE INDEX import_file_batch ON import_file(batch_id);

CREATE TABLE import_undo (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    batch_id  TEXT NOT NULL REFERENCES import_batch(id) ON DELETE CASCADE,
    tbl       TEXT NOT NULL,
    row_id    TEXT NOT NULL,
    before    TEXT NOT NULL    -- JSON of the columns the import changed, as they were
);
CREATE INDEX import_undo_batch ON import_undo(batch_id);
