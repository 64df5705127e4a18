"""The Campaigns area of the main window: one tab per kind of work, keyboard-first."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from app.clinic import Clinic
from ui.bus import DataBus
from ui.campaigns.campaigns_tab import CampaignsTab
from ui.campaigns.leads_tab import LeadsTab
from ui.campaigns.reactivation_tab import ReactivationTab
from ui.campaigns.segment_editor import SegmentsTab
from ui.campaigns.surveys_tab import SurveysTab


class CampaignsPage(QWidget):
    """Campaigns, Surveys, Groups of patients, Reactivation and Leads. A tab with
    `open_patient` has it passed on."""

    open_patient = Signal(str)

    def __init__(self, clinic: Clinic, bus: DataBus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.bus = bus
        self.setAccessibleName("Campaigns")
        self.tabs = QTabWidget()
        self.tabs.setAccessibleName("Parts of Campaigns")
        self.tabs.setDocumentMode(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)

        self.campaigns = CampaignsTab(clinic, bus)
        self.segments = SegmentsTab(clinic, bus)
        self.reactivation = ReactivationTab(clinic, bus)
        self.reactivation.start_campaign.connect(self.campaigns.new_reactivation)
        self.reactivation.start_campaign.connect(
            lambda *_args: self.tabs.setCurrentWidget(self.campaigns)
        )
        self.surveys = SurveysTab(clinic, bus)
        # Alt+F, G, P and H belong to the main window's menus.
        self.add_tab(self.campaigns, "&Campaigns")
        self.add_tab(self.surveys, "&Surveys")
        self.add_tab(self.segments, "Gr&oups of patients")
        self.add_tab(self.reactivation, "&Reactivation")
        self.leads = LeadsTab(clinic, bus)
        self.add_tab(self.leads, "&Enquiries and channels")

    def add_tab(self, widget: QWidget, title: str) -> int:
        """Add a tab; its `open_patient` signal, when it has one, opens the patient."""
        signal = getattr(widget, "open_patient", None)
        if signal is not None:
            signal.connect(self.open_patient.emit)
        return self.tabs.addTab(widget, title)

    def refresh(self) -> None:
        for index in range(self.tabs.count()):
            page = self.tabs.widget(index)
            refresh = getattr(page, "refresh", None)
            if callable(refresh):
                refresh()
