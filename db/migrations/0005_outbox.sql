-- Frontdesk schema 5: reminders. The rules the clinic sets, the outbox of every message
-- planned or sent with its history, the templates the clinic edited, and the replies.
-- All of it is clinic data (journalled, synced): every workstation sees the same outbox.

-- One automatic message programme: appointment reminders, recalls, billing notices,
-- no-show follow-ups, birthday greetings. What it sends and when is the JSON definition
-- (app/reminders/rules.py reads and checks it), so new options need no schema change.
CREATE TABLE reminder_rule (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN
                  ('appointment', 'recall', 'billing', 'no_show', 'birthday')),
    name        TEXT NOT NULL,
    purpose     TEXT NOT NULL CHECK (purpose IN
                  ('appointment', 'recall', 'billing', 'education', 'survey', 'marketing')),
    active      INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    definition  TEXT NOT NULL,          -- JSON
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- A template the clinic wrote for one rule, channel and language; without a row the
-- shipped default in resources/templates/ is used.
CREATE TABLE message_template (
    id          TEXT PRIMARY KEY,
    rule_id     TEXT NOT NULL,          -- not a foreign key: rows may arrive in any order by sync
    kind        TEXT NOT NULL CHECK (kind IN ('sms', 'email', 'email_html', 'letter')),
    language    TEXT NOT NULL,
    body        TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (rule_id, kind, language)
);

-- One message to one patient. idem_key (rule, touch, subject, occurrence) is unique, so
-- planning twice never makes a second row. Channel, recipient and text are filled at
-- send time from the current data, and kept as what was sent.
CREATE TABLE outbox (
    id            TEXT PRIMARY KEY,
    idem_key      TEXT NOT NULL UNIQUE,
    rule_id       TEXT NOT NULL,
    touch         INTEGER NOT NULL,     -- which touch of the rule (0, 1, 2...)
    purpose       TEXT NOT NULL,
    patient_id    TEXT NOT NULL REFERENCES patient(id) ON DELETE CASCADE,
    -- What the message is about: appointment, recall, balance, birthday; the engagement
    -- programmes add their own (survey, review, education...). Checked by the code
    -- (outbox.SUBJECT_KINDS), not here: a CHECK cannot be widened without rebuilding
    -- the table.
    subject_kind  TEXT NOT NULL,
    subject_id    TEXT NOT NULL DEFAULT '',   -- the appointment, for appointment and no-show
    occurrence    TEXT NOT NULL,        -- which one: visit day, recall due date, notice number, year
    due_at        TEXT NOT NULL,        -- UTC: not before
    stale_at      TEXT NOT NULL,        -- UTC: not worth sending after
    state         TEXT NOT NULL CHECK (state IN
                    ('planned', 'due', 'sending', 'to_print', 'sent', 'failed', 'skipped',
                     'cancelled')),
    reason        TEXT NOT NULL DEFAULT '',   -- why it is in this state, in plain words
    channel       TEXT NOT NULL DEFAULT '' CHECK (channel IN ('', 'sms', 'email', 'letter')),
    recipient     TEXT NOT NULL DEFAULT '',
    subject       TEXT NOT NULL DEFAULT '',
    body          TEXT NOT NULL DEFAULT '',
    provider_ref  TEXT NOT NULL DEFAULT '',   -- the SMS service's id or the email Message-ID
    delivery      TEXT NOT NULL DEFAULT '',   -- what the SMS service last said (delivered...)
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_try_at   TEXT,                 -- UTC: a temporary failure waits until then
    sent_at       TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX outbox_state_due ON outbox(state, due_at);
CREATE INDEX outbox_patient ON outbox(patient_id, due_at);
CREATE INDEX outbox_subject ON outbox(subject_id);
CREATE INDEX outbox_recipient ON outbox(channel, recipient, sent_at);

-- Every state change of a message: when, to what, why, on which workstation.
CREATE TABLE outbox_event (
    id          TEXT PRIMARY KEY,
    outbox_id   TEXT NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
    state       TEXT NOT NULL,
    at          TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    device_id   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outbox_event_message ON outbox_event(outbox_id, at);

-- A reply or other text that came in. What it meant and what Frontdesk did about it;
-- the ones nobody has handled yet are the Inbox.
CREATE TABLE inbound_message (
    id            TEXT PRIMARY KEY,
    provider_ref  TEXT NOT NULL UNIQUE,
    channel       TEXT NOT NULL DEFAULT 'sms' CHECK (channel IN ('sms', 'email')),
    sender        TEXT NOT NULL,        -- the number (E.164) or address it came from
    body          TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    patient_id    TEXT REFERENCES patient(id) ON DELETE SET NULL,
    outbox_id     TEXT,                 -- the message it answers, when known
    meaning       TEXT NOT NULL CHECK (meaning IN ('confirm', 'stop', 'help', 'other')),
    action        TEXT NOT NULL DEFAULT '',   -- what Frontdesk did, in plain words
    handled_at    TEXT,
    handled_by    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX inbound_open ON inbound_message(handled_at, received_at);
CREATE INDEX inbound_patient ON inbound_message(patient_id, received_at);

-- Billing notices look for charges posted on the days a touch falls on (30, 60, 90 days
-- ago); without this the planner read every charge of the clinic on every pass.
CREATE INDEX charge_posted ON charge(posted_at, patient_id);
