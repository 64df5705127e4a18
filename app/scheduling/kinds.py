"""Appointment types the clinic has already used, offered back so they are spelled alike."""

from __future__ import annotations

from app.clinic import Clinic


def appointment_kinds(clinic: Clinic) -> list[str]:
    """Appointment types already booked, most used first, for the booking form."""
    rows = clinic.conn.execute(
        "SELECT kind FROM appointment WHERE kind != '' GROUP BY kind "
        "ORDER BY count(*) DESC, kind LIMIT 50"
    ).fetchall()
    return [str(r[0]) for r in rows]
