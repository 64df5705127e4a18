-- Frontdesk schema 6: growth. Saved patient filters (segments), enquiries before a first
-- visit (leads) and what the clinic spends per acquisition channel. Clinic data
-- (journalled, synced). The list of channels ("How did you hear about us?") is a setting.

-- A saved filter over the clinic's patients (age, last visit, condition, source, tags,
-- balance, consent...), reused by campaigns, reports and exports. The terms are JSON
-- read and checked by app/growth/segments.py, so a new term needs no schema change.
CREATE TABLE segment (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    definition  TEXT NOT NULL,          -- JSON
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- Someone who asked about the clinic before a first visit, and how far they got.
CREATE TABLE lead (
    id            TEXT PRIMARY KEY,
    family_name   TEXT NOT NULL DEFAULT '',
    given_names   TEXT NOT NULL DEFAULT '',
    phone         TEXT NOT NULL DEFAULT '',   -- E.164
    email         TEXT NOT NULL DEFAULT '',
    source        TEXT NOT NULL DEFAULT '',   -- an acquisition channel key
    status        TEXT NOT NULL DEFAULT 'new' CHECK (status IN
                    ('new', 'contacted', 'booked', 'first_visit', 'lost')),
    note          TEXT NOT NULL DEFAULT '',
    patient_id    TEXT REFERENCES patient(id) ON DELETE SET NULL,  -- once they became one
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX lead_by_status ON lead(status, created_at);
CREATE INDEX lead_patient ON lead(patient_id);

-- Every change of a lead's status, for the pipeline report (how long from new to booked).
CREATE TABLE lead_status (
    id          TEXT PRIMARY KEY,
    lead_id     TEXT NOT NULL REFERENCES lead(id) ON DELETE CASCADE,
    status      TEXT NOT NULL,
    changed_at  TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX lead_status_lead ON lead_status(lead_id, changed_at);

-- What the clinic spent on a channel in a month (advertising, directory fees...).
CREATE TABLE channel_spend (
    id            TEXT PRIMARY KEY,
    source        TEXT NOT NULL,
    month         TEXT NOT NULL,             -- 'YYYY-MM'
    amount_cents  INTEGER NOT NULL CHECK (amount_cents >= 0),
    UNIQUE (source, month)
);

-- Reports by channel read patients by source and first visit.
CREATE INDEX patient_created ON patient(created_at);
