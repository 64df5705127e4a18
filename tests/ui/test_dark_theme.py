"""Dark mode: the patient header's states and the forms' error and hint lines stay readable
(AA contrast on the window) and follow a switch of theme while they are on screen; plus
the form base's layout helpers (rows in another form layout, focus on the first error)."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QWidget
from pytestqt.qtbot import QtBot

from app.billing import ledger
from app.clinic import Clinic
from app.patients import records
from app.patients.model import PatientDraft
from app.preferences import Preferences
from app.store.changes import Changes
from ui import theme
from ui.bus import DataBus
from ui.forms.base import FieldError, FormDialog, FormInputError
from ui.forms.new_patient import NewPatientDialog
from ui.patient.view import PatientView
from ui.unlock import PassphraseFields


def use_theme(qtbot: QtBot, app: QApplication, name: str) -> None:
    theme.apply_preferences(app, Preferences(theme=name))
    dark = name == "dark"
    qtbot.waitUntil(lambda: theme.is_dark() == dark)
    app.processEvents()  # the palette reaches widgets by posted events


def window_colour() -> QColor:
    return QApplication.palette().color(QPalette.ColorRole.Window)


def shown_colour(label: QLabel) -> QColor:
    """The colour the label paints its text with (its style sheet's, once polished)."""
    label.ensurePolished()
    return label.palette().color(label.foregroundRole())


def readable(label: QLabel, background: QColor | None = None) -> float:
    return theme.contrast_ratio(shown_colour(label), background or window_colour())


@pytest.fixture
def owing_patient(clinic: Clinic) -> str:
    """Every badge state on screen at once, and a balance owed (shown in red)."""
    patient = records.create_patient(clinic, PatientDraft("Okafor", "Adaeze")).id
    records.record_consent(clinic, patient, "sms", "appointment", True, "Signed form")
    records.record_consent(clinic, patient, "email", "marketing", False, "Phone call")
    ledger.post_charge(clinic, patient, 4_550, "Visit")
    return patient


def make_view(qtbot: QtBot, clinic: Clinic, patient_id: str) -> PatientView:
    view = PatientView(clinic, DataBus())
    qtbot.addWidget(view)
    view.resize(1280, 720)
    view.show()
    view.show_patient(patient_id)
    return view


def assert_header_readable(view: PatientView) -> None:
    header = view.header
    states = {badge.state for badge in header.badges.values()}
    assert states == {"granted", "withdrawn", "unknown"}
    for key, badge in header.badges.items():
        assert readable(badge) >= 4.5, (key, badge.state, shown_colour(badge).name())
    assert readable(header.balance) >= 4.5


def test_header_badges_and_balance_read_well_in_the_dark_theme(
    qtbot: QtBot, clinic: Clinic, owing_patient: str, app_looks: QApplication
) -> None:
    use_theme(qtbot, app_looks, "dark")
    view = make_view(qtbot, clinic, owing_patient)
    assert view.header.balance.text() == "Owes $45.50"
    assert_header_readable(view)
    granted = view.header.badges[("sms", "appointment")]
    assert shown_colour(granted) == theme.color("ok", dark=True)


def test_switching_theme_with_the_patient_open_recolours_the_header(
    qtbot: QtBot, clinic: Clinic, owing_patient: str, app_looks: QApplication
) -> None:
    use_theme(qtbot, app_looks, "light")
    view = make_view(qtbot, clinic, owing_patient)
    withdrawn = view.header.badges[("email", "marketing")]
    assert shown_colour(withdrawn) == theme.color("danger", dark=False)

    use_theme(qtbot, app_looks, "dark")
    qtbot.waitUntil(lambda: shown_colour(withdrawn) == theme.color("danger", dark=True))
    assert_header_readable(view)

    use_theme(qtbot, app_looks, "light")
    qtbot.waitUntil(lambda: shown_colour(withdrawn) == theme.color("danger", dark=False))
    assert_header_readable(view)


@pytest.mark.parametrize("deceased", [True, False], ids=["deceased", "do-not-contact"])
def test_warning_banner_reads_well_in_both_themes(
    qtbot: QtBot, clinic: Clinic, app_looks: QApplication, deceased: bool
) -> None:
    patient = records.create_patient(clinic, PatientDraft("Lind", "Karl")).id
    if deceased:
        records.mark_deceased(clinic, patient, "2026-02-01")
    else:
        records.update_patient(clinic, patient, {"do_not_contact": 1})
    use_theme(qtbot, app_looks, "light")
    view = make_view(qtbot, clinic, patient)
    banner = view.header.banner
    assert banner.isVisible()
    for name in ("dark", "light"):
        use_theme(qtbot, app_looks, name)
        fill = theme.color("danger" if deceased else "warning")
        qtbot.waitUntil(lambda fill=fill: fill.name() in banner.styleSheet())
        assert theme.contrast_ratio(shown_colour(banner), fill) >= 4.5, name


class _TwoColumnForm(FormDialog):
    """Rows in two side-by-side form layouts, as multi-column dialogs build them."""

    def __init__(self, clinic: Clinic, bus: DataBus) -> None:
        super().__init__(clinic, bus, "Two columns")
        row = QHBoxLayout()
        self.left_form = QFormLayout()
        self.right_form = QFormLayout()
        row.addLayout(self.left_form)
        row.addLayout(self.right_form)
        self.content.addLayout(row)
        # The right column's field is registered first, yet comes later in the tab order.
        self.city = QLineEdit()
        self.add_field("&City", self.city, "city", form=self.right_form)
        self.name = QLineEdit()
        self.add_field("&Name", self.name, "name", hint="As on the card.", form=self.left_form)
        QWidget.setTabOrder(self.name, self.city)
        self.mark_clean()

    def _save(self) -> Changes:
        raise FormInputError(
            [FieldError("city", "Type the city."), FieldError("name", "Type the name.")]
        )


@pytest.fixture
def two_columns(qtbot: QtBot, clinic: Clinic) -> _TwoColumnForm:
    dialog = _TwoColumnForm(clinic, DataBus())
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    return dialog


def test_form_errors_and_hints_read_well_and_follow_the_theme(
    qtbot: QtBot, two_columns: _TwoColumnForm, app_looks: QApplication
) -> None:
    dialog = two_columns
    assert not dialog.save()
    error, hint = dialog.error_label("name"), dialog._fields["name"].hint
    for name in ("dark", "light", "dark"):
        use_theme(qtbot, app_looks, name)
        danger = theme.color("danger")
        qtbot.waitUntil(lambda danger=danger: shown_colour(error) == danger)
        for label in (error, hint, dialog.error_label("city")):
            assert readable(label) >= 4.5, (name, label.accessibleName())
            base = QApplication.palette().color(QPalette.ColorRole.Base)
            assert readable(label, base) >= 4.5, (name, label.accessibleName())


def test_rows_go_into_the_form_layout_asked_for(two_columns: _TwoColumnForm) -> None:
    dialog = two_columns
    assert dialog.left_form.rowCount() == 1
    assert dialog.right_form.rowCount() == 1
    assert dialog.form.rowCount() == 0
    dialog.set_row_visible("city", False)
    assert not dialog.right_form.isRowVisible(0)
    assert dialog.left_form.isRowVisible(0)


def test_focus_goes_to_the_first_error_in_tab_order_not_registration_order(
    qtbot: QtBot, two_columns: _TwoColumnForm
) -> None:
    dialog = two_columns
    assert not dialog.save()
    assert dialog.error_text("city") == "Type the city."
    assert dialog.error_text("name") == "Type the name."
    qtbot.waitUntil(dialog.name.hasFocus)


def test_new_patient_duplicates_frame_follows_the_theme(
    qtbot: QtBot, clinic: Clinic, app_looks: QApplication
) -> None:
    dialog = NewPatientDialog(clinic, DataBus())
    qtbot.addWidget(dialog)
    sheet = dialog.duplicates_panel.styleSheet
    for name in ("dark", "light"):
        use_theme(qtbot, app_looks, name)
        warning = theme.css("warning")
        base = QApplication.palette().color(QPalette.ColorRole.Base).name()
        qtbot.waitUntil(lambda w=warning, b=base: w in sheet() and b in sheet())


def test_passphrase_meter_word_reads_well_on_its_bar_in_both_themes(
    qtbot: QtBot, app_looks: QApplication
) -> None:
    fields = PassphraseFields()
    qtbot.addWidget(fields)
    for name in ("dark", "light"):
        use_theme(qtbot, app_looks, name)
        for typed in ("a", "correct horse battery staple orbit"):
            fields.passphrase.setText(typed)
            sheet = fields.meter.styleSheet()
            text = QApplication.palette().color(QPalette.ColorRole.Text)
            chunk = sheet.split("QProgressBar::chunk")[1].split("background-color:")[1]
            fill = QColor(chunk.split(";")[0].strip())
            assert theme.contrast_ratio(text, fill) >= 4.5, (name, typed, fill.name())
            assert theme.css(fields.meter_tone) in sheet
