-- Frontdesk schema 1: the clinic, its patients and everything on their timeline.
-- Ids are UUID text; times are UTC ISO-8601 text; money is integer cents.
-- Every domain table is written only through app/store/writer.py, which records a
-- change row for each write in the same transaction.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE setting (
    id    TEXT PRIMARY KEY,          -- the setting's name, e.g. 'clinic.name'
    value TEXT NOT NULL              -- JSON
);

CREATE TABLE household (
    id                     TEXT PRIMARY KEY,
    name                   TEXT NOT NULL,
    guarantor_patient_id   TEXT,     -- who pays; not a foreign key: rows may arrive in any order by sync
    created_at             TEXT NOT NULL
);

CREATE TABLE patient (
    id                  TEXT PRIMARY KEY,
    family_name         TEXT NOT NULL DEFAULT '',
    given_names         TEXT NOT NULL DEFAULT '',
    preferred_name      TEXT NOT NULL DEFAULT '',
    birth_date          TEXT,        -- ISO, may be partial: '1974' or '1974-12'
    sex                 TEXT NOT NULL DEFAULT 'unknown'
                        CHECK (sex IN ('female', 'male', 'other', 'unknown')),
    gender_identity     TEXT NOT NULL DEFAULT '',
    language            TEXT NOT NULL DEFAULT '',   -- BCP 47, e.g. 'en', 'es'
    deceased            INTEGER NOT NULL DEFAULT 0 CHECK (deceased IN (0, 1)),
    deceased_date       TEXT,
    do_not_contact      INTEGER NOT NULL DEFAULT 0 CHECK (do_not_contact IN (0, 1)),
    acquisition_source  TEXT NOT NULL DEFAULT '',
    household_id        TEXT REFERENCES household(id) ON DELETE SET NULL,
    household_role      TEXT NOT NULL DEFAULT '',   -- guarantor, spouse, child, other
    merged_into         TEXT REFERENCES patient(id),
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE INDEX patient_birth_date ON patient(birth_date);
CREATE INDEX patient_household ON patient(household_id);
CREATE INDEX patient_acquisition ON patient(acquisition_source);

CREATE TABLE patient_identifier (
    id          TEXT PRIMARY KEY,
    patient_id  TEXT NOT NULL REFERENCES patient(id) ON DELETE CASCADE,
    system      TEXT NOT NULL,       -- the issuing system, e.g. an EMR's MRN namespace URI
    value       TEXT NOT NULL,
    kind        TEXT NOT NULL DEFAULT '',  -- MR, SS, DL, PPN... (HL7 v2 identifier type)
    UNIQUE (system, value)
);
CREATE INDEX patient_identifier_patient ON patient_identifier(patient_id);
CREATE INDEX patient_identifier_value ON patient_identifier(value);

CREATE TABLE patient_tag (
    id          TEXT PRIMARY KEY,
    patient_id  TEXT NOT NULL REFERENCES patient(id) ON DELETE CASCADE,
    tag         TEXT NOT NULL,
    UNIQUE (patient_id, tag)
);

CREATE TABLE contact_point (
    id          TEXT PRIMARY KEY,
    patient_id  TEXT NOT NULL REFERENCES patient(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('phone', 'email')),
    value       TEXT NOT NULL,       -- phones E.164, emails lower case
    use         TEXT NOT NULL DEFAULT 'home' CHECK (use IN ('home', 'work', 'mobile', 'other')),
    rank        INTEGER NOT NULL DEFAULT 1,      -- 1 = preferred
    verified    INTEGER NOT NULL DEFAULT 0 CHECK (verified IN (0, 1))
);
CREATE INDEX contact_point_patient ON contact_point(patient_id);
CREATE INDEX contact_point_value ON contact_point(kind, value);

CREATE TABLE address (
    id           TEXT PRIMARY KEY,
    patient_id   TEXT NOT NULL REFERENCES patient(id) ON DELETE CASCADE,
    use          TEXT NOT NULL DEFAULT 'home' CHECK (use IN ('home', 'work', 'billing', 'other')),
    line1        TEXT NOT NULL DEFAULT '',
    line2        TEXT NOT NULL DEFAULT '',
    city         TEXT NOT NULL DEFAULT '',
    region       TEXT NOT NULL DEFAULT '',   -- state, province or county
    postal_code  TEXT NOT NULL DEFAULT '',
    country      TEXT NOT NULL DEFAULT '',   -- ISO 3166 alpha-2
    rank         INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX address_patient ON address(patient_id);

-- Consent is append-only: each row is one decision; the newest per channel and
-- purpose is in force. The history is the audit trail of what the patient said.
CREATE TABLE consent (
    id           TEXT PRIMARY KEY,
    patient_id   TEXT NOT NULL REFERENCES patient(id) ON DELETE CASCADE,
    channel      TEXT NOT NULL CHECK (channel IN ('sms', 'email', 'letter', 'phone')),
    purpose      TEXT NOT NULL CHECK (purpose IN
                   ('appointment', 'recall', 'billing', 'education', 'survey', 'marketing')),
    granted      INTEGER NOT NULL CHECK (granted IN (0, 1)),
    source       TEXT NOT NULL,      -- how we know: 'form', 'phone', 'sms-stop', 'import'...
    recorded_at  TEXT NOT NULL
);
CREATE INDEX consent_patient ON consent(patient_id, channel, purpose, recorded_at);

CREATE TABLE provider (
    id           TEXT PRIMARY KEY,
    family_name  TEXT NOT NULL,
    given_names  TEXT NOT NULL DEFAULT '',
    title        TEXT NOT NULL DEFAULT '',   -- Dr., NP...
    specialty    TEXT NOT NULL DEFAULT '',
    npi          TEXT,
    active       INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
);

CREATE TABLE location (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    line1        TEXT NOT NULL DEFAULT '',
    city         TEXT NOT NULL DEFAULT '',
    region       TEXT NOT NULL DEFAULT '',
    postal_code  TEXT NOT NULL DEFAULT '',
    country      TEXT NOT NULL DEFAULT '',
    phone        TEXT NOT NULL DEFAULT '',
    active       INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
);

CREATE TABLE appointment (
    id           TEXT PRIMARY KEY,
    patient_id   TEXT NOT NULL REFERENCES patient(id) ON DELETE CASCADE,
    provider_id  TEXT REFERENCES provider(id),
    location_id  TEXT REFERENCES location(id),
    start_at     TEXT,               -- UTC; NULL for a request with no time yet
    end_at       TEXT,
    kind         TEXT NOT NULL DEFAULT '',   -- appointment type, e.g. 'checkup'
    reason       TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL CHECK (status IN
                   ('booked', 'confirmed', 'arrived', 'fulfilled', 'cancelled', 'noshow')),
    created_at   TEXT NOT NULL
);
CREATE INDEX appointment_patient ON appointment(patient_id, start_at);
CREATE INDEX appointment_start ON appointment(start_at);

CREATE TABLE appointment_status (
    id              TEXT PRIMARY KEY,
    appointment_id  TEXT NOT NULL REFERENCES appointment(id) ON DELETE CASCADE,
    status          TEXT NOT NULL,
    changed_at      TEXT NOT NULL,
    note            TEXT NOT NULL DEFAULT ''
);
CREATE INDEX appointment_status_appointment ON appointment_status(appointment_id, changed_at);

CREATE TABLE interaction (
    id           TEXT PRIMARY KEY,
    patient_id   TEXT NOT NULL REFERENCES patient(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('call', 'email', 'sms', 'letter', 'visit', 'note')),
    direction    TEXT NOT NULL DEFAULT 'none' CHECK (direction IN ('in', 'out', 'none')),
    outcome      TEXT NOT NULL DEFAULT '',   -- reached, voicemail, no-answer, delivered...
    subject      TEXT NOT NULL DEFAULT '',
    body         TEXT NOT NULL DEFAULT '',
    occurred_at  TEXT NOT NULL,
    appointment_id TEXT REFERENCES appointment(id) ON DELETE SET NULL
);
CREATE INDEX interaction_patient ON interaction(patient_id, occurred_at);

CREATE TABLE charge (
    id              TEXT PRIMARY KEY,
    patient_id      TEXT NOT NULL REFERENCES patient(id) ON DELETE CASCADE,
    amount_cents    INTEGER NOT NULL CHECK (amount_cents > 0),
    description     TEXT NOT NULL DEFAULT '',
    posted_at       TEXT NOT NULL,
    appointment_id  TEXT REFERENCES appointment(id) ON DELETE SET NULL
);
CREATE INDEX charge_patient ON charge(patient_id, posted_at);

CREATE TABLE payment (
    id            TEXT PRIMARY KEY,
    patient_id    TEXT NOT NULL REFERENCES patient(id) ON DELETE CASCADE,
    amount_cents  INTEGER NOT NULL CHECK (amount_cents > 0),
    method        TEXT NOT NULL DEFAULT 'other' CHECK (method IN
                    ('card', 'cash', 'check', 'transfer', 'insurance', 'other')),
    reference     TEXT NOT NULL DEFAULT '',   -- receipt or authorisation number, never a card number
    received_at   TEXT NOT NULL
);
CREATE INDEX payment_patient ON payment(patient_id, received_at);

CREATE TABLE condition (
    id           TEXT PRIMARY KEY,
    patient_id   TEXT NOT NULL REFERENCES patient(id) ON DELETE CASCADE,
    system       TEXT NOT NULL,      -- code system URI: SNOMED CT, ICD-10-CM
    code         TEXT NOT NULL,
    display      TEXT NOT NULL DEFAULT '',
    onset        TEXT,
    abated       TEXT
);
CREATE INDEX condition_patient ON condition(patient_id);
CREATE INDEX condition_code ON condition(system, code);

-- The one journal of every write: audit, undo and sync build on it. An insert is
-- one row with column '*' and the whole row as JSON (all columns at one clock);
-- an update is one row per changed column; a delete is a tombstone ('-').
CREATE TABLE change (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    tbl        TEXT NOT NULL,
    row_id     TEXT NOT NULL,
    col        TEXT NOT NULL,
    value      TEXT,                 -- JSON
    hlc        TEXT NOT NULL,
    device_id  TEXT NOT NULL
);
CREATE INDEX change_row ON change(tbl, row_id);

-- The search index is derived from patient, contact_point and patient_identifier
-- (rebuilt by app/patients/search_index.py inside every write of those); it is local
-- and never synced. `names` holds folded name tokens; `other` holds 'd' + birth date,
-- phone digit keys, emails and identifier values. patient_search_doc maps the FTS
-- rowid to the patient, because a text primary key has no stable rowid of its own.
CREATE VIRTUAL TABLE patient_search USING fts5(
    names,
    other,
    tokenize = "unicode61 remove_diacritics 2 tokenchars '@._+-'",
    prefix = '2 3 4'
);
CREATE VIRTUAL TABLE patient_search_vocab USING fts5vocab(patient_search, 'col');
CREATE TABLE patient_search_doc (
    doc         INTEGER PRIMARY KEY,
    patient_id  TEXT NOT NULL UNIQUE
);
