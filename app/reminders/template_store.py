"""The templates a clinic wrote for its rules, with the shipped defaults underneath.

A template is per rule, channel and language. Without a stored row the ready-made one in
resources/templates/ is used, so a new version's better default reaches every clinic that
never edited that message. Saving checks the template first (check_template): a broken
one is refused with its line and reason and never reaches a patient.
"""

from __future__ import annotations

from app.clinic import Clinic
from app.reminders.templates import TemplateError, check_template, default_template
from app.store.changes import Changes
from app.store.writer import utc_now


def stored_template(clinic: Clinic, rule_id: str, kind: str, language: str) -> str | None:
    row = clinic.conn.execute(
        "SELECT body FROM message_template WHERE rule_id = ? AND kind = ? AND language = ?",
        (rule_id, kind, language),
    ).fetchone()
    return None if row is None else str(row[0])


def template_for(
    clinic: Clinic, rule_id: str, purpose: str, kind: str, language: str
) -> str | None:
    """The clinic's own template, else the shipped default, else None (no such message in
    that language: the caller tries the clinic's language or the next channel).

    `purpose` is the template purpose, i.e. the rule's kind (appointment, recall, billing,
    no_show, birthday).
    """
    for code in dict.fromkeys((language, language.split("-")[0])):
        own = stored_template(clinic, rule_id, kind, code)
        if own is not None:
            return own
    try:
        return default_template(purpose, kind, language)
    except TemplateError:
        return None


def edited_templates(clinic: Clinic, rule_id: str) -> dict[tuple[str, str], str]:
    """(kind, language) → body of every template the clinic wrote for one rule."""
    rows = clinic.conn.execute(
        "SELECT kind, language, body FROM message_template WHERE rule_id = ?", (rule_id,)
    ).fetchall()
    return {(str(k), str(lang)): str(body) for k, lang, body in rows}


def save_template(
    clinic: Clinic, rule_id: str, purpose: str, kind: str, language: str, body: str
) -> Changes:
    """Check, then store; raises TemplateError (line and reason) for a broken template."""
    check_template(body, purpose=purpose, kind=kind, language=language)
    row = clinic.conn.execute(
        "SELECT id FROM message_template WHERE rule_id = ? AND kind = ? AND language = ?",
        (rule_id, kind, language),
    ).fetchone()
    with clinic.store.write() as tx:
        if row is None:
            tx.insert(
                "message_template",
                {
                    "rule_id": rule_id,
                    "kind": kind,
                    "language": language,
                    "body": body,
                    "updated_at": utc_now(),
                },
            )
        else:
            tx.update("message_template", str(row[0]), {"body": body, "updated_at": utc_now()})
    return tx.changes


def reset_template(clinic: Clinic, rule_id: str, kind: str, language: str) -> Changes:
    """Go back to the shipped default (the clinic's version is removed)."""
    row = clinic.conn.execute(
        "SELECT id FROM message_template WHERE rule_id = ? AND kind = ? AND language = ?",
        (rule_id, kind, language),
    ).fetchone()
    if row is None:
        return Changes()
    with clinic.store.write() as tx:
        tx.delete("message_template", str(row[0]))
    return tx.changes
