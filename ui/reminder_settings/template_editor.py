"""The words of a rule's messages: a checked plain-text editor with its variables and a preview."""

from __future__ import annotations

import logging
from typing import Final

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCloseEvent, QColor, QFontDatabase, QTextCursor, QTextFormat
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.errors import FrontdeskError, InvalidInputError
from app.letters.postcards import check_postcard
from app.letters.queue import POSTCARD_SIZES
from app.letters.settings import load_settings as load_letter_settings
from app.reminders import template_store
from app.reminders.compose import preview
from app.reminders.rules import CHANNEL_LABELS, CHANNELS, KIND_LABELS, Rule
from app.reminders.settings import load_settings
from app.reminders.sms_text import UCS_2, count_segments
from app.reminders.templates import (
    VARIABLES,
    TemplateError,
    TemplateProblem,
    check_template,
    default_template,
    render,
    render_email,
    sample_values,
)
from ui.bus import DataBus
from ui.forms.base import PendingQuestion
from ui.reminder_settings.patient_picker import PatientPicker
from ui.reminder_settings.words import language_name
from ui.theme import css, error_line, hint_line

log = logging.getLogger(__name__)

CHECK_DELAY_MS: Final = 400
BASE_LANGUAGES: Final = ("en", "es")
SAMPLE, PATIENT = "sample", "patient"
CARD_WORDS: Final = {"4x6": "a 4 × 6 in postcard", "a6": "an A6 postcard"}


def clinic_languages(clinic: Clinic, rule_id: str) -> list[str]:
    """English and Spanish (shipped), the clinic's default, its patients' languages, and
    any language the clinic already wrote words in for this rule."""
    rows = clinic.conn.execute(
        "SELECT DISTINCT language FROM patient WHERE language != '' ORDER BY language"
    ).fetchall()
    codes = [*BASE_LANGUAGES, load_settings(clinic).language, *(str(r[0]) for r in rows)]
    codes += [language for _kind, language in template_store.edited_templates(clinic, rule_id)]
    return list(dict.fromkeys(code for code in codes if code))


def shipped_words(purpose: str, channel: str, language: str) -> str | None:
    try:
        return default_template(purpose, channel, language)
    except TemplateError:
        return None


def special_characters(text: str) -> list[str]:
    """The characters that make a text go as UCS-2 (70 to a part instead of 160)."""
    seen = dict.fromkeys(ch for ch in text if count_segments(ch).encoding == UCS_2)
    return list(seen)


def parts_text(text: str) -> str:
    """'2 parts · 153 characters · special characters (í) make each part 70 characters'."""
    segments = count_segments(text)
    parts = "1 part" if segments.segments == 1 else f"{segments.segments} parts"
    words = f"{parts} · {segments.characters} characters"
    if segments.encoding == UCS_2:
        shown = ", ".join(special_characters(text)[:5])
        words += f" · special characters ({shown}) make each part 70 characters, not 160"
    return words


class TemplateEditor(QDialog):
    """Edit the words of one rule's message for a channel and a language."""

    def __init__(
        self,
        clinic: Clinic,
        bus: DataBus,
        rule: Rule,
        parent: QWidget | None = None,
        *,
        channel: str | None = None,
        language: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.bus = bus
        self.rule = rule
        self.purpose = rule.kind  # templates are per rule kind (templates.VARIABLES)
        self.problem: TemplateProblem | None = None
        # Why the previewed words do not fit the rule's postcard ('' when they do, or when
        # the rule prints letters): Save stays off meanwhile, as for a broken template.
        self.postcard_problem = ""
        self.question = PendingQuestion()
        self.picker: PatientPicker | None = None
        self.patient: tuple[str, str] | None = None  # id, name
        self._loaded_text = ""
        self._loading = False
        self._shown = (CHANNELS[0], BASE_LANGUAGES[0])
        title = f"Words of “{rule.name}”"
        self.setWindowTitle(title)
        self.setAccessibleName(title)
        self.setSizeGripEnabled(True)

        heading = QLabel(f"<b>{title}</b> · {KIND_LABELS[rule.kind]}")
        heading.setAccessibleName(title)
        self.channel_combo = QComboBox()
        self.channel_combo.setAccessibleName("Which message")
        ordered = list(dict.fromkeys((*rule.channels, *CHANNELS)))
        for code in ordered:
            self.channel_combo.addItem(CHANNEL_LABELS[code], code)
        self.language_combo = QComboBox()
        self.language_combo.setAccessibleName("Language")
        for code in clinic_languages(clinic, rule.id):
            self.language_combo.addItem(language_name(code), code)
        chooser = QHBoxLayout()
        for text, combo in (("&Message:", self.channel_combo), ("&Language:", self.language_combo)):
            label = QLabel(text)
            label.setBuddy(combo)
            chooser.addWidget(label)
            chooser.addWidget(combo)
        self.origin_label = hint_line()
        self.origin_label.setAccessibleName("Where these words come from")
        chooser.addWidget(self.origin_label, 1)

        self.editor = QPlainTextEdit()
        self.editor.setAccessibleName("Message text")
        self.editor.setTabChangesFocus(True)
        fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        fixed.setPointSizeF(self.font().pointSizeF())
        self.editor.setFont(fixed)
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.problem_label = error_line()
        self.problem_label.setAccessibleName("Problem in the message text")
        self.problem_label.setWordWrap(True)
        self.problem_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problem_label.hide()
        self.parts_label = QLabel()
        self.parts_label.setAccessibleName("Text message parts")
        self.parts_label.setWordWrap(True)
        editor_help = hint_line(
            "Plain text. Words in {{ double braces }} are filled in for each patient. "
            "An email's first line is its subject."
        )
        editor_help.setWordWrap(True)
        editor_help.setAccessibleName("How to write the message")
        left = QWidget()
        left_column = QVBoxLayout(left)
        left_column.setContentsMargins(0, 0, 0, 0)
        caption = QLabel("&Text:")
        caption.setBuddy(self.editor)
        left_column.addWidget(caption)
        left_column.addWidget(self.editor, 1)
        left_column.addWidget(self.problem_label)
        left_column.addWidget(self.parts_label)
        left_column.addWidget(editor_help)

        self.variables = QListWidget()
        self.variables.setAccessibleName("Values Frontdesk fills in")
        for variable in VARIABLES[self.purpose]:
            item = QListWidgetItem("{{ " + variable.name + " }}")
            item.setData(Qt.ItemDataRole.UserRole, variable.name)
            item.setToolTip(variable.description)
            self.variables.addItem(item)
        self.variable_help = QLabel()
        self.variable_help.setWordWrap(True)
        self.variable_help.setAccessibleName("What the chosen value is")
        insert_hint = hint_line("Double-click or press Enter to put one into the text.")
        insert_hint.setWordWrap(True)
        variables_box = QGroupBox("Values Frontdesk fills in")
        variables_box.setAccessibleName("Values Frontdesk fills in")
        variables_column = QVBoxLayout(variables_box)
        variables_column.addWidget(self.variables, 1)
        variables_column.addWidget(self.variable_help)
        variables_column.addWidget(insert_hint)

        self.preview_source = QComboBox()
        self.preview_source.setAccessibleName("Preview with")
        self.preview_source.addItem("Made-up sample values", SAMPLE)
        self.pick_button = QPushButton("Choose a patient…")
        self.pick_button.setAccessibleName("Choose a patient for the preview")
        self.preview = QPlainTextEdit()
        self.preview.setReadOnly(True)
        self.preview.setAccessibleName("Preview of the message")
        self.preview.setTabChangesFocus(True)
        self.postcard_label = error_line()
        self.postcard_label.setAccessibleName("Why this does not fit a postcard")
        self.postcard_label.setWordWrap(True)
        self.postcard_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.postcard_label.hide()
        self.preview_note = hint_line()
        self.preview_note.setAccessibleName("About the preview")
        self.preview_note.setWordWrap(True)
        preview_box = QGroupBox("Preview")
        preview_box.setAccessibleName("Preview")
        source_row = QHBoxLayout()
        source_row.addWidget(self.preview_source, 1)
        source_row.addWidget(self.pick_button)
        preview_column = QVBoxLayout(preview_box)
        preview_column.addLayout(source_row)
        preview_column.addWidget(self.preview, 1)
        preview_column.addWidget(self.postcard_label)
        preview_column.addWidget(self.preview_note)

        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(variables_box)
        right.addWidget(preview_box)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 2)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)

        self.reset_button = QPushButton("Reset to the ready-made text")
        self.reset_button.setAccessibleName("Reset to the ready-made text")
        self.save_button = QPushButton("Save")
        self.save_button.setAccessibleName("Save the message text")
        self.save_button.setDefault(True)
        self.close_button = QPushButton("Close")
        self.close_button.setAccessibleName("Close")
        self.status = QLabel()
        self.status.setAccessibleName("Save status")
        buttons = QHBoxLayout()
        buttons.addWidget(self.reset_button)
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.close_button)

        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addLayout(chooser)
        layout.addWidget(splitter, 1)
        layout.addLayout(buttons)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(CHECK_DELAY_MS)
        self._timer.timeout.connect(self.check_now)
        self.editor.textChanged.connect(self._typed)
        self.variables.itemActivated.connect(self.insert_variable)
        self.variables.currentItemChanged.connect(self._variable_chosen)
        self.channel_combo.currentIndexChanged.connect(lambda _i: self._switch_requested())
        self.language_combo.currentIndexChanged.connect(lambda _i: self._switch_requested())
        self.preview_source.currentIndexChanged.connect(lambda _i: self.update_preview())
        self.pick_button.clicked.connect(self.choose_patient)
        self.reset_button.clicked.connect(self.reset)
        self.save_button.clicked.connect(self.save)
        self.close_button.clicked.connect(self.reject)

        if channel is not None:
            self.channel_combo.setCurrentIndex(max(0, self.channel_combo.findData(channel)))
        if language is not None:
            index = self.language_combo.findData(language)
            if index < 0:
                self.language_combo.addItem(language_name(language), language)
                index = self.language_combo.count() - 1
            self.language_combo.setCurrentIndex(index)
        self.variables.setCurrentRow(0)
        self.load()
        chars = self.fontMetrics().averageCharWidth()
        self.resize(chars * 150, self.fontMetrics().height() * 36)

    # --- what is shown ------------------------------------------------------------------

    @property
    def channel(self) -> str:
        return str(self.channel_combo.currentData())

    @property
    def language(self) -> str:
        return str(self.language_combo.currentData())

    def text(self) -> str:
        return self.editor.toPlainText()

    @property
    def prints_postcards(self) -> bool:
        """The words shown are a letter this rule prints as a postcard (billing notices
        always print as statements, whatever the rule says)."""
        return (
            self.channel == "letter"
            and self.rule.kind != "billing"
            and self.rule.print_format == "postcard"
        )

    def postcard_size(self) -> str:
        """The card the clinic prints: 4×6 in with US envelopes, A6 otherwise (as the
        print queue chooses), read now so a change in Settings ▸ Letters counts."""
        return POSTCARD_SIZES.get(load_letter_settings(self.clinic).envelope, "a6")

    @property
    def dirty(self) -> bool:
        return self.text() != self._loaded_text

    def load(self) -> None:
        """Show the clinic's words for the chosen message, else the ready-made ones."""
        own = template_store.stored_template(self.clinic, self.rule.id, self.channel, self.language)
        shipped = shipped_words(self.purpose, self.channel, self.language)
        text = own if own is not None else (shipped or "")
        if own is not None:
            self.origin_label.setText("The clinic's own words.")
        elif shipped is not None:
            self.origin_label.setText("The ready-made words (not changed by the clinic).")
        else:
            self.origin_label.setText(
                "Frontdesk has no ready-made words for this message in this language: "
                "write them here to use it."
            )
        self.reset_button.setEnabled(own is not None)
        self._loading = True
        try:
            self.editor.setPlainText(text)
        finally:
            self._loading = False
        self._loaded_text = text
        self._shown = (self.channel, self.language)
        self.parts_label.setVisible(self.channel == "sms")
        self.status.clear()
        self.check_now()

    def _typed(self) -> None:
        if self._loading:
            return
        self.status.clear()
        self._timer.start()

    def check_now(self) -> None:
        """Check the text as it would be saved; a problem disables Save until fixed."""
        self._timer.stop()
        try:
            check_template(
                self.text(), purpose=self.purpose, kind=self.channel, language=self.language
            )
        except TemplateError as exc:
            self.problem = exc.problem
        else:
            self.problem = None
        self._show_problem()
        self.update_preview()

    def _show_problem(self) -> None:
        problem = self.problem
        self.problem_label.setText(str(problem) if problem is not None else "")
        self.problem_label.setVisible(problem is not None)
        self.editor.setAccessibleDescription(str(problem) if problem is not None else "")
        self._update_save()
        marks: list[QTextEdit.ExtraSelection] = []
        if problem is not None and problem.line is not None:
            block = self.editor.document().findBlockByLineNumber(problem.line - 1)
            if block.isValid():
                mark = QTextEdit.ExtraSelection()
                colour = QColor(css("danger"))
                colour.setAlpha(50)
                mark.format.setBackground(colour)
                mark.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
                mark.cursor = QTextCursor(block)
                marks.append(mark)
        self.editor.setExtraSelections(marks)

    def _update_save(self) -> None:
        self.save_button.setEnabled(
            self.problem is None and not self.postcard_problem and self.dirty
        )

    def update_preview(self) -> None:
        body: str | None = None  # the message as it would print; None when none is shown
        if self.preview_source.currentData() == PATIENT and self.patient is not None:
            text, note, body = self._patient_preview(self.patient[0])
        elif self.problem is not None:
            text, note = "", "The preview comes back when the problem in the text is fixed."
        else:
            text, body = self._sample_preview()
            note = "With made-up values, not a real patient."
        self.preview.setPlainText(text)
        if self.prints_postcards:
            size = self.postcard_size()
            note += f" Prints as {CARD_WORDS.get(size, 'a postcard')}."
            self._check_postcard(body, size)
        else:
            self._check_postcard(None, "")
        self.preview_note.setText(note)
        if self.channel == "sms":
            self.parts_label.setText(parts_text(text) if text else "")

    def _check_postcard(self, body: str | None, size: str) -> None:
        """Show why the previewed message does not fit the card, and keep Save off."""
        reason = ""
        if body is not None:
            try:
                check_postcard(body, size)
            except InvalidInputError as exc:
                reason = str(exc)
        self.postcard_problem = reason
        self.postcard_label.setText(reason)
        self.postcard_label.setVisible(bool(reason))
        self.preview.setAccessibleDescription(reason)
        self._update_save()

    def _sample_preview(self) -> tuple[str, str | None]:
        """What the preview shows, and the message body (None when it shows a problem)."""
        values = sample_values(self.purpose, self.language, self.channel)
        try:
            if self.channel == "email":
                email = render_email(self.text(), purpose=self.purpose, values=values)
                return f"Subject: {email.subject}\n\n{email.text}", email.text
            body = render(self.text(), purpose=self.purpose, kind=self.channel, values=values)
        except TemplateError as exc:
            return str(exc.problem), None
        return body, body

    def _patient_preview(self, patient_id: str) -> tuple[str, str, str | None]:
        """The message as it would go to this patient now: their own next visit, balance or
        recall where they have one (compose.preview), with the saved words."""
        name = self.patient[1] if self.patient else "the chosen patient"
        note = f"For {name}, as it would go now with these words."
        try:
            draft = preview(
                self.clinic,
                self.rule,
                patient_id,
                self.channel,
                self.language,
                source=self.text(),
            )
        except TemplateError as exc:
            return "", str(exc.problem), None
        except InvalidInputError as exc:
            return "", str(exc), None
        if draft.subject:
            return f"Subject: {draft.subject}\n\n{draft.body}", note, draft.body
        return draft.body, note, draft.body

    # --- actions -----------------------------------------------------------------------

    def insert_variable(self, item: QListWidgetItem | None = None) -> None:
        chosen: QListWidgetItem | None = item or self.variables.currentItem()
        if chosen is None:
            return
        name = str(chosen.data(Qt.ItemDataRole.UserRole))
        self.editor.insertPlainText("{{ " + name + " }}")
        self.editor.setFocus(Qt.FocusReason.OtherFocusReason)

    def _variable_chosen(self, item: QListWidgetItem | None, _previous: object) -> None:
        self.variable_help.setText(item.toolTip() if item is not None else "")

    def choose_patient(self) -> PatientPicker:
        picker = PatientPicker(self.clinic, self)
        picker.chosen.connect(self.preview_patient)
        self.picker = picker
        picker.open()
        return picker

    def preview_patient(self, patient_id: str, name: str) -> None:
        self.patient = (patient_id, name)
        index = self.preview_source.findData(PATIENT)
        label = f"Patient: {name}"
        if index < 0:
            self.preview_source.addItem(label, PATIENT)
            index = self.preview_source.count() - 1
        else:
            self.preview_source.setItemText(index, label)
        if self.preview_source.currentIndex() == index:
            self.update_preview()
        else:
            self.preview_source.setCurrentIndex(index)

    def save(self) -> bool:
        """Store the words (checked once more by the core); the reason shows inline if not."""
        self.check_now()
        if self.problem is not None or self.postcard_problem:
            return False
        try:
            changes = template_store.save_template(
                self.clinic, self.rule.id, self.purpose, self.channel, self.language, self.text()
            )
        except TemplateError as exc:
            self.problem = exc.problem
            self._show_problem()
            return False
        except FrontdeskError as exc:
            self.status.setText(str(exc))
            self.status.setStyleSheet(f"color: {css('danger')};")
            return False
        self.bus.publish(changes)
        self._loaded_text = self.text()
        self.load()
        self.status.setText("Saved.")
        self.status.setStyleSheet(f"color: {css('ok')};")
        return True

    def reset(self) -> None:
        """Back to the ready-made words: the clinic's version is removed."""
        try:
            changes = template_store.reset_template(
                self.clinic, self.rule.id, self.channel, self.language
            )
        except FrontdeskError as exc:
            self.status.setText(str(exc))
            return
        self.bus.publish(changes)
        self.load()
        self.status.setText("Back to the ready-made words.")
        self.status.setStyleSheet(f"color: {css('ok')};")

    # --- leaving with unsaved words -----------------------------------------------------

    def _switch_requested(self) -> None:
        if self._loading:
            return
        if not self.dirty:
            self.load()
            return
        wanted = (self.channel, self.language)
        self._show_choice(self._shown)
        self.question.ask(
            self,
            "Discard your changes?",
            "The words you changed in this message have not been saved.",
            yes="Discard",
            no="Keep editing",
            then=lambda: self._switch_to(wanted),
        )

    def _show_choice(self, choice: tuple[str, str]) -> None:
        self._loading = True
        try:
            self.channel_combo.setCurrentIndex(self.channel_combo.findData(choice[0]))
            self.language_combo.setCurrentIndex(self.language_combo.findData(choice[1]))
        finally:
            self._loading = False

    def _switch_to(self, choice: tuple[str, str]) -> None:
        self._show_choice(choice)
        self.load()

    def reject(self) -> None:
        if self.dirty and self.question.box is None:
            self.question.ask(
                self,
                "Discard your changes?",
                "The words you changed in this message have not been saved.",
                yes="Discard",
                no="Keep editing",
                then=self._discard_and_close,
            )
            return
        super().reject()

    def _discard_and_close(self) -> None:
        self._loaded_text = self.text()
        super().reject()

    def done(self, result: int) -> None:
        self._timer.stop()  # no check after the dialog is gone
        super().done(result)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if self.dirty:
            event.ignore()
            self.reject()
            return
        super().closeEvent(event)
