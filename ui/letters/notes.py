"""The two lines under a preview: a problem in red, or what just happened; one at a time."""

from __future__ import annotations

from ui.theme import ToneLabel, error_line


class NoteLines:
    """A view's problem line and status line, so every letters view words and shows them
    alike (and a screen reader hears the text through the accessible description)."""

    def __init__(self) -> None:
        self.problem = error_line()
        self.problem.setAccessibleName("Problem")
        self.problem.setWordWrap(True)
        self.problem.hide()
        self.status = ToneLabel(tone="ok", bold=True)
        self.status.setAccessibleName("What happened")
        self.status.setWordWrap(True)
        self.status.hide()

    def show_problem(self, text: str) -> None:
        self.status.hide()
        self.problem.setText(text)
        self.problem.setAccessibleDescription(text)
        self.problem.show()

    def show_status(self, text: str) -> None:
        self.problem.hide()
        self.status.setText(text)
        self.status.setAccessibleDescription(text)
        self.status.show()

    def clear(self) -> None:
        self.problem.hide()
        self.status.hide()
