"""From launch to an open clinic: the first-run wizard, the silent keyring, or the unlock screen."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.clinic import Clinic, open_clinic
from app.store.lifecycle import PassphraseNeededError, clinic_exists
from app.users import act_as_default_user
from ui.first_run import FirstRunWizard
from ui.unlock import UnlockDialog


@dataclass(frozen=True)
class StartResult:
    clinic: Clinic
    want_demo: bool  # asked for made-up patients on the wizard's last page


def start_clinic(home: Path | None = None) -> StartResult | None:
    """Open the clinic in `home` (the usual data folder when None), asking only what it
    must; None when the person cancelled. Errors other than a needed passphrase (a
    damaged file, say) are raised for the caller to show."""
    if not clinic_exists(home):
        wizard = FirstRunWizard(home)
        wizard.exec()
        # Once created, the clinic is kept however the wizard closed: it is on disk.
        if wizard.clinic is None:
            return None
        act_as_default_user(wizard.clinic)
        return StartResult(wizard.clinic, wizard.want_demo and bool(wizard.result()))
    try:
        clinic = open_clinic(home)
    except PassphraseNeededError:
        unlock = UnlockDialog(home)
        unlock.exec()
        if unlock.clinic is None:
            return None
        clinic = unlock.clinic
    act_as_default_user(clinic)
    return StartResult(clinic, want_demo=False)
