-- Frontdesk schema 2: the desk. Who works here, follow-up tasks, who recorded what,
-- an edit version per patient, and indexes for the patients list and birthdays.

-- The people who use Frontdesk. Sign-in passwords and permissions arrive with the
-- security release; until then the first administrator is the acting user.
CREATE TABLE app_user (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('receptionist', 'manager', 'administrator')),
    active      INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at  TEXT NOT NULL
);

-- Something to do about a patient on a day: call back, follow up. Done when done_at is set.
CREATE TABLE task (
    id              TEXT PRIMARY KEY,
    patient_id      TEXT NOT NULL REFERENCES patient(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('call-back', 'follow-up')),
    due_on          TEXT NOT NULL,   -- the clinic's local date, ISO
    note            TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    created_by      TEXT NOT NULL DEFAULT '',   -- app_user id
    interaction_id  TEXT REFERENCES interaction(id) ON DELETE SET NULL,  -- the call that asked for it
    done_at         TEXT,
    done_by         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX task_open ON task(done_at, due_on);
CREATE INDEX task_patient ON task(patient_id);

-- Who recorded a consent decision or a contact (an app_user id; '' for imports and
-- for rows written before users existed).
ALTER TABLE consent ADD COLUMN recorded_by TEXT NOT NULL DEFAULT '';
ALTER TABLE interaction ADD COLUMN recorded_by TEXT NOT NULL DEFAULT '';

-- How the patient likes to be reached first ('' = no preference).
ALTER TABLE patient ADD COLUMN preferred_channel TEXT NOT NULL DEFAULT ''
    CHECK (preferred_channel IN ('', 'sms', 'email', 'letter', 'phone'));
-- Raised by every edit of the patient's details, so a form saved from a stale copy
-- (two windows, two desks) sees the conflict instead of overwriting silently.
ALTER TABLE patient ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

CREATE INDEX patient_name ON patient(family_name COLLATE NOCASE, given_names COLLATE NOCASE);
CREATE INDEX patient_birthday ON patient(substr(birth_date, 6, 5));
CREATE INDEX appointment_status_start ON appointment(status, start_at);
-- Last visit, next appointment and "has an upcoming visit" per patient, from the index alone.
CREATE INDEX appointment_patient_status ON appointment(patient_id, status, start_at);
